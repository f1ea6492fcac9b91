"""Tables for lesson cells: any rows, the inbox, and response time percentiles."""

from __future__ import annotations

import html

from ..measuring import Samples
from ..sandbox import Sandbox
from .running import running_sandbox

# Where a percentile has no sample above it, it is the maximum under another name: shown as this instead.
TOO_FEW = "–"


class Table:
    """Rows shown as an HTML table, and as aligned text (numbers to the right) where HTML is not shown."""

    def __init__(self, columns: list[str], rows: list[list], caption: str = "", empty: str = "(no rows)") -> None:
        self.columns, self.rows, self.caption, self.empty = columns, rows, caption, empty

    def _right(self, index: int) -> bool:
        """Whether a column holds numbers (aligned to the right, as people compare them)."""
        values = [row[index] for row in self.rows if row[index] is not None]
        return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)

    def _repr_html_(self) -> str:
        if not self.rows:
            return f"<p>{html.escape(self.caption or self.empty)}</p>"
        sides = ["right" if self._right(i) else "left" for i in range(len(self.columns))]

        def cells(tag: str, values) -> str:
            return "".join(
                f"<{tag} style='text-align:{side}'>{html.escape(_text(v))}</{tag}>"
                for v, side in zip(values, sides, strict=True)
            )

        body = "".join(f"<tr>{cells('td', row)}</tr>" for row in self.rows)
        caption = f"<caption style='text-align:left'>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{caption}<thead><tr>{cells('th', self.columns)}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        if not self.rows:
            return self.caption or self.empty
        widths = [max(len(_text(v)) for v in column) for column in zip(self.columns, *self.rows, strict=True)]
        right = [self._right(i) for i in range(len(self.columns))]

        def line(values) -> str:
            return "  ".join(
                _text(v).rjust(w) if r else _text(v).ljust(w) for v, w, r in zip(values, widths, right, strict=True)
            ).rstrip()

        lines = [line(self.columns), line("-" * w for w in widths), *(line(row) for row in self.rows)]
        return "\n".join(([self.caption] if self.caption else []) + lines)


def _text(value) -> str:
    """A cell as text: None as "-", floats with two decimals."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def rows_table(rows: list[dict], columns: list[str], caption: str = "") -> Table:
    """A list of dicts as a table of the given columns."""
    return Table(list(columns), [[row[column] for column in columns] for row in rows], caption)


def _short(text: str, limit: int = 80) -> str:
    """The first line of a text, cut to `limit` characters."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


INBOX_COLUMNS = {
    "from": lambda m: m.mail_from,
    "to": lambda m: ", ".join(m.rcpt_tos),
    "subject": lambda m: m.subject,
    "body": lambda m: _short(m.body),
    "bytes": lambda m: m.size,
}


def inbox(sandbox: Sandbox, *, last: int | None = None, columns=("from", "to", "subject", "body")) -> Table:
    """The debug mail server's captured mail as a table, oldest first (the `last` few if given)."""
    sandbox = running_sandbox(sandbox)
    if sandbox.mail_server is None:
        raise ValueError("this sandbox sends to an outside mail server: there is no inbox to show")
    messages = sandbox.mail_server.messages
    total = sandbox.mail_server.total
    shown = messages[-last:] if last else messages
    rows = [[INBOX_COLUMNS[c](m) for c in columns] for m in shown]
    caption = f"Inbox: {len(messages)} message{'s' if len(messages) != 1 else ''} captured"
    if total > len(messages):  # the server holds only the newest max_messages
        caption = f"Inbox: {total:,} messages captured, the newest {len(messages):,} kept"
    if len(shown) < len(messages):
        caption += f", the last {len(shown)} shown"
    return Table(list(columns), rows, caption if messages else "The inbox is empty.")


def enough_samples(n: int, q: float) -> bool:
    """Whether `n` samples give a q-th percentile that is more than the slowest two: 1 + 100 / (100 - q) of them.

    The "inclusive" percentile interpolates at position (n - 1) * q / 100 of the sorted samples (from 0). Past
    position n - 2 it lies between the two slowest samples and only restates them; up to it, at least the
    slowest lies beyond it: from 21 samples for p95, 101 for p99, 1,001 for p99.9.
    """
    return q < 100 and (n - 1) * (100 - q) >= 100 - 1e-9  # the tolerance keeps p99.9 at exactly 1,001 samples


def percentile_table(*samples: Samples, percentiles=(50, 95, 99)) -> Table:
    """Response time percentiles (ms) of each measurement, side by side; "–" where too few samples for one."""
    columns = ["measured", "n", "min", *(f"p{q:g}" for q in percentiles), "max"]
    rows = [
        [
            s.label, s.n, f"{s.min_ms:.1f}",
            *(f"{s.pct(q):.1f}" if enough_samples(s.n, q) else TOO_FEW for q in percentiles),
            f"{s.max_ms:.1f}",
        ]
        for s in samples
    ]  # fmt: skip
    caption = "Response times in ms"
    if any(not enough_samples(s.n, q) for s in samples for q in percentiles):
        caption += f" ({TOO_FEW}: too few samples; pXX needs 1 + 100 / (100 - XX) of them)"
    return Table(columns, rows, caption)
