"""The class report shown: a terminal table and an HTML page from two Jinja2 templates that share their phrases."""

from __future__ import annotations

import base64
import io
import re
import sys
import textwrap
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from .bank import Bank
from .model import format_number, format_percent
from .report_data import CheckpointStats, ClassReport, QuestionStats, build_report

WIDTH = 88
BAR = "#"
BAR_WIDTH = 30
RIGHT_COLOUR, WRONG_COLOUR, MOST_WRONG_COLOUR = "#2e7d32", "#9e9e9e", "#ef6c00"
PREDICTED_COLOUR, MEASURED_COLOUR = "#1565c0", "#2e7d32"


def of(part: int, whole: int) -> str:
    """'2 of 3 (67%)'."""
    return f"{part} of {whole} ({round(100 * part / whole)}%)" if whole else f"{part} of {whole}"


def signed_percent(fraction: float) -> str:
    """'-35%' or '+120%'."""
    sign = "+" if round(fraction * 100) > 0 else "-" if round(fraction * 100) < 0 else ""
    return sign + format_percent(fraction)


def sentence(text: str) -> str:
    """The phrase with its first letter capitalised (the rest as it is)."""
    text = str(text)
    return text[:1].upper() + text[1:]


def wrap(text: str, indent: str = "  ") -> str:
    """Prose wrapped for the terminal at the report's width (ids and slugs stay whole at their hyphens)."""
    lines = textwrap.wrap(" ".join(str(text).split()), WIDTH, initial_indent=indent, subsequent_indent=indent,
                          break_on_hyphens=False)  # fmt: skip
    return "\n".join(lines)


def bars(rows: list[tuple[str, str, int, bool]]) -> str:
    """'    * key   3  ###' lines; a star marks the right answers."""
    width = max((len(key) for key, *_ in rows), default=0)
    scale = max([count for _key, _text, count, _right in rows] + [1])
    lines = []
    for key, _text, count, right in rows:
        bar = BAR * round(BAR_WIDTH * count / scale) if count else ""
        lines.append(f"    {'*' if right else ' '} {key:<{width}}  {count:>3}  {bar}".rstrip())
    return "\n".join(lines)


def paired_counts(stats: CheckpointStats) -> str:
    """'      key    2 /   3' lines: predicted and measured, per option."""
    width = max((len(key) for key in stats.option_keys()), default=0)
    return "\n".join(
        f"      {key:<{width}}  {stats.predictions.get(key, 0):>3} / {stats.measured.get(key, 0):>3}"
        for key in stats.option_keys()
    )


# --- charts: PNGs inlined as data: URLs, so the page opens offline, without Jupyter ---------------


def _figure(rows: int):
    # Figure, not pyplot: no global state and no GUI backend, in a kernel or a terminal alike.
    from matplotlib.figure import Figure  # matplotlib loads only for an instructor who asks for HTML

    return Figure(figsize=(6.4, 0.8 + 0.4 * max(rows, 2)), dpi=100, layout="constrained")


def _img(figure, alt: str) -> Markup:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Markup(f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}">')


def answers_chart(stats: QuestionStats, alt: str) -> Markup:
    """Horizontal bars of first answers, the first option at the top; right green, most chosen wrong orange."""
    wrong = stats.most_chosen_wrong()
    rows = stats.rows()
    colours = [RIGHT_COLOUR if right else MOST_WRONG_COLOUR if wrong and key == wrong[0] else WRONG_COLOUR
               for key, _text, _count, right in rows]  # fmt: skip
    counts = [count for _key, _text, count, _right in rows]
    figure = _figure(len(rows))
    axes = figure.add_subplot()
    positions = list(range(len(rows)))[::-1]
    axes.barh(positions, counts, color=colours)
    axes.set_yticks(positions, [key for key, *_ in rows])
    axes.set_xlabel("learners (first answer)")
    axes.xaxis.get_major_locator().set_params(integer=True)
    for position, count in zip(positions, counts, strict=True):
        axes.text(count, position, f" {count}", va="center")
    axes.set_xlim(0, max(counts + [1]) * 1.15)
    return _img(figure, alt)


def paired_chart(stats: CheckpointStats) -> Markup:
    """Predicted and measured side by side per option."""
    keys = stats.option_keys()
    figure = _figure(len(keys))
    axes = figure.add_subplot()
    positions = list(range(len(keys)))[::-1]
    predicted = [stats.predictions.get(key, 0) for key in keys]
    measured = [stats.measured.get(key, 0) for key in keys]
    axes.barh([p + 0.2 for p in positions], predicted, 0.4, color=PREDICTED_COLOUR, label="predicted")
    axes.barh([p - 0.2 for p in positions], measured, 0.4, color=MEASURED_COLOUR, label="measured")
    axes.set_yticks(positions, keys)
    axes.set_xlabel("learners")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(loc="best")
    return _img(figure, f"Predicted and measured, {stats.id}")


def errors_chart(stats: CheckpointStats) -> Markup:
    """How far predictions were from measurements, in percent; the line at 0 is a perfect prediction."""
    errors = [error * 100 for error in stats.relative_errors]
    figure = _figure(4)
    axes = figure.add_subplot()
    axes.hist(errors, bins=bin_edges(errors), color=PREDICTED_COLOUR, edgecolor="white")
    axes.axvline(0, color="#222", linewidth=1)
    axes.set_xlabel("prediction error, % of the measurement (below 0: predicted too little)")
    axes.set_ylabel("learners")
    axes.yaxis.get_major_locator().set_params(integer=True)
    return _img(figure, f"Prediction errors, {stats.id}")


def bin_edges(values: list[float]) -> list[float]:
    """Round-numbered bins (5%, 10%, 25%, ...) spanning the values and 0, at most 20 of them."""
    low, high = min(min(values), 0.0), max(max(values), 0.0)
    step = next(s for s in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000) if (high - low) / s <= 20)
    if (high - low) / step > 20:  # beyond 100 times the measurement: let the span decide
        step = (high - low) / 20
    first = step * (low // step)
    count = int((high - first) // step) + 1
    return [first + step * i for i in range(count + 1)]


FILTERS = {"of": of, "number": format_number, "percent": format_percent, "signed_percent": signed_percent,
           "sentence": sentence, "wrap": wrap, "bars": bars, "paired_counts": paired_counts,
           "answers_chart": answers_chart, "paired_chart": paired_chart, "errors_chart": errors_chart}  # fmt: skip


def _environment(html: bool) -> Environment:
    environment = Environment(
        loader=PackageLoader("quiz", "templates"),
        autoescape=select_autoescape(["html.j2"]) if html else False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(FILTERS)
    return environment


_TEXT, _HTML = _environment(html=False), _environment(html=True)


def to_text(report: ClassReport) -> str:
    """The report as a terminal table: one blank line between sections, no trailing spaces."""
    text = _TEXT.get_template("report.txt.j2").render(report=report)
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


def html_body(report: ClassReport) -> str:
    """The report's content, for a notebook cell."""
    return _HTML.get_template("report.html.j2").render(report=report, page=False).strip()


def html_page(report: ClassReport) -> str:
    """A whole HTML document that opens in any browser, without Jupyter or network."""
    return _HTML.get_template("report.html.j2").render(report=report, page=True).strip() + "\n"


class ShownReport:
    """A class report in a notebook: the data (`.data`), shown as HTML with charts; str() is the terminal table."""

    def __init__(self, report: ClassReport) -> None:
        self.data = report

    def __getattr__(self, name: str):
        return getattr(self.data, name)  # learners, questions, to_dict(), to_json(), ...

    def to_text(self) -> str:
        """The terminal table."""
        return to_text(self.data)

    def to_html(self) -> str:
        """One self-contained page, charts inlined."""
        return html_page(self.data)

    def _repr_html_(self) -> str:
        return html_body(self.data)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return repr(self.data)


def class_report(*folders: str | Path, bank: Bank | str | Path | None = None) -> ShownReport:
    """The class report for a notebook: displays as HTML with charts; skipped lines are named on stderr."""
    if not folders:
        raise TypeError("class_report() needs at least one folder, e.g. class_report('/srv/quiz-responses')")
    report = build_report(folders, bank)
    for skip in report.skipped:
        print(f"quiz report: skipped {skip}", file=sys.stderr)
    return ShownReport(report)


def live_html(
    report: ClassReport, part: str = "", *, fragment: bool = False, user: str = "", xsrf: str = "", poll_ms: int = 1000
) -> str:
    """The course service's live class view (a whole page, or only its sections for the page's poll), without charts."""
    context = {"report": report, "part": part, "fragment": fragment, "user": user, "xsrf": xsrf, "poll_ms": poll_ms}
    return _HTML.get_template("live.html.j2").render(**context).strip() + "\n"
