"""Tables for lesson cells: the inbox, percentiles, and the page's comparison table rebuilt from measurements."""

from __future__ import annotations

import html
from dataclasses import dataclass

from .experiments import blocks_worker
from .sandbox import running_sandbox
from .timing import Samples

# The three response time limits of usability research (Nielsen, 1993, after Miller, 1968): under 0.1 s a
# response feels instant, under 1 s the user's flow of thought is kept, under 10 s their attention is.
FEELS_INSTANT_MS = 100
KEEPS_FLOW_MS = 1000
KEEPS_ATTENTION_MS = 10_000
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


def inbox(sandbox, *, last: int | None = None, columns=("from", "to", "subject", "body")) -> Table:
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


def experience(ms: float) -> str:
    """What a response time feels like to a person (usability research's three limits)."""
    if ms < FEELS_INSTANT_MS:
        return "feels instant"
    if ms < KEEPS_FLOW_MS:
        return "a noticeable wait"
    if ms < KEEPS_ATTENTION_MS:
        return "breaks the user's flow of thought"
    return "long enough to lose the user's attention"


def enough_samples(n: int, q: float) -> bool:
    """Whether `n` samples give a q-th percentile that is more than the slowest two: 1 + 100 / (100 - q) of them.

    The "inclusive" percentile interpolates at position (n - 1) * q / 100 of the sorted samples (from 0). Past
    position n - 2 it lies between the two slowest samples and only restates them; up to it, at least the
    slowest lies beyond it: from 21 samples for p95, 101 for p99, 1,001 for p99.9.
    """
    return q < 100 and (n - 1) * (100 - q) >= 100 - 1e-9  # the tolerance keeps p99.9 at exactly 1,001 samples


@dataclass
class Comparison:
    """One pattern, measured alone and with `clients` clients at once, against the mail server's delay."""

    pattern: str
    delay: float
    alone: Samples
    crowd: Samples | None = None
    clients: int | None = None

    @property
    def blocks_worker(self) -> bool:
        """Whether each response waited for the mail server (the worker was held meanwhile)."""
        return blocks_worker(self.alone, self.delay)

    @property
    def verdict(self) -> str:
        """The page's verdict, from this measurement."""
        return "[X] Bad" if self.blocks_worker else "[OK] Good"

    def row(self, crowd_column: bool = True) -> list[str]:
        """The table row: pattern, blocks the worker?, response delay, (in a crowd,) user experience, verdict."""
        blocks = f"yes, for the mail server's {self.delay * 1000:g} ms" if self.blocks_worker else "no"
        delay = f"p50 {_ms(self.alone.p50_ms)}, p95 {_pct_ms(self.alone, 95)}"
        feel = experience(self.alone.p50_ms)
        crowd = "-"
        if self.crowd is not None:
            crowd = f"p50 {_ms(self.crowd.p50_ms)}, p95 {_pct_ms(self.crowd, 95)}"
            if experience(self.crowd.p50_ms) != feel:
                feel += f"; {experience(self.crowd.p50_ms)} in the crowd"
        return [self.pattern, blocks, delay, *([crowd] if crowd_column else []), feel, self.verdict]


def _ms(value: float) -> str:
    """Milliseconds as people read them: 0.52 ms, 3.4 ms, 204 ms."""
    return f"{value:.2f} ms" if value < 1 else f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def _pct_ms(samples: Samples, q: float) -> str:
    """A percentile as people read it, or "–" when there are too few samples for it."""
    return _ms(samples.pct(q)) if enough_samples(samples.n, q) else TOO_FEW


class ComparisonTable(Table):
    """The page's comparison table, rebuilt from measurements."""

    def __init__(self, comparisons: list[Comparison]) -> None:
        self.comparisons = comparisons
        delay = comparisons[0].delay if comparisons else 0
        crowds = {c.clients for c in comparisons if c.crowd is not None}
        with_crowd = bool(crowds)
        columns = ["pattern", "blocks the worker?", "response delay, one client"]
        if with_crowd:
            clients = crowds.pop() if len(crowds) == 1 else None
            columns.append(f"{clients or 'many'} clients at once")
        columns += ["user experience", "verdict"]
        rows = [c.row(crowd_column=with_crowd) for c in comparisons]
        super().__init__(columns, rows, f"Measured here, mail server delay {delay * 1000:g} ms")

    def verdicts(self) -> str:
        """Only what does not change from run to run: each pattern, whether it blocks, its verdict."""
        return "\n".join(
            f"{c.pattern}: {'blocks' if c.blocks_worker else 'does not block'} the worker, {c.verdict}"
            for c in self.comparisons
        )


def comparison_table(
    delay: float, alone: list[Samples], crowd: list[Samples] = (), clients: int | None = None
) -> ComparisonTable:
    """Rebuild the page's table from samples labelled with their pattern (as `measure_send` labels them).

    `delay` is the mail server's delay (s) while measuring; `crowd` holds the same patterns
    measured with `clients` clients at once.
    """
    crowds = {s.label: s for s in crowd}
    return ComparisonTable([Comparison(s.label, delay, s, crowds.get(s.label), clients) for s in alone])


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
