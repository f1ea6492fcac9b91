"""The class report as HTML: one self-contained page, each chart a PNG inlined as a data: URL."""

from __future__ import annotations

import base64
import io
from html import escape

from .bank import format_number, format_percent
from .reporting import CheckpointStats, ClassReport, QuestionStats, percent, signed_percent

RIGHT_COLOUR, WRONG_COLOUR, MOST_WRONG_COLOUR = "#2e7d32", "#9e9e9e", "#ef6c00"
PREDICTED_COLOUR, MEASURED_COLOUR = "#1565c0", "#2e7d32"

PAGE_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
  line-height: 1.45; color: #222; }
section { border-top: 1px solid #ccc; padding-top: 0.5rem; margin-top: 1.5rem; }
.fmq-stats { font-weight: bold; }
table { border-collapse: collapse; margin: 0.5rem 0; }
td, th { border-bottom: 1px solid #eee; padding: 0.2rem 0.6rem; text-align: left; vertical-align: top; }
td.count { text-align: right; }
.fmq-right { color: #2e7d32; font-weight: bold; }
.fmq-wrong { border-left: 4px solid #ef6c00; padding: 0.1rem 0.75rem; background: #fff8f0; }
img { max-width: 100%; height: auto; }
.fmq-skipped { color: #666; font-size: 0.9em; }
"""


def html_page(report: ClassReport) -> str:
    """A whole HTML document that opens in any browser, without Jupyter or network."""
    title = escape(f"Class report: {report.bank.title}")
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
        f"<style>{PAGE_STYLE}</style>\n</head>\n<body>\n{html_body(report)}\n</body>\n</html>\n"
    )


def html_body(report: ClassReport) -> str:
    """The report's content, for the page or for a notebook cell."""
    folders = escape(", ".join(report.folders))
    if report.empty:
        return f'<div class="fmq-report"><h1>Class report</h1><p>{escape(report.empty_message)}</p></div>'
    noun = "learner" if report.learners == 1 else "learners"
    parts = [
        '<div class="fmq-report">',
        f"<h1>Class report: {escape(report.bank.title)}</h1>",
        f"<p>{report.learners} {noun}, from {folders}. Each learner's latest session counts.</p>",
    ]
    for number, stats in enumerate(report.questions, start=1):
        parts.append(_question_html(number, stats))
    for stats in report.checkpoints:
        parts.append(_checkpoint_html(stats))
    if report.skipped:
        items = "".join(f"<li>{escape(str(skip))}</li>" for skip in report.skipped)
        parts.append(f'<section class="fmq-skipped"><h2>Skipped</h2><ul>{items}</ul></section>')
    parts.append("</div>")
    return "\n".join(parts)


def _question_html(number: int, stats: QuestionStats) -> str:
    question = stats.question
    answered = stats.answered
    parts = [
        f'<section id="question-{escape(question.id)}">',
        f"<h2>Question {number} ({escape(question.id)})</h2>",
        f"<p>{escape(question.prompt)}</p>",
        f'<p class="fmq-stats">Answered by {answered} · first try correct {percent(stats.first_try_correct, answered)}'
        f" · eventually correct {percent(stats.eventually_correct, answered)}</p>",
    ]
    if answered:
        wrong = stats.most_chosen_wrong()
        right = stats.right_keys()
        colours = [
            RIGHT_COLOUR if key in right else MOST_WRONG_COLOUR if wrong and key == wrong[0] else WRONG_COLOUR
            for key in stats.first_answers
        ]
        parts.append(
            _img(
                _bar_chart(list(stats.first_answers), list(stats.first_answers.values()), colours),
                f"First answers to question {number}",
            )
        )
        rows = []
        for key, count in stats.first_answers.items():
            text, _feedback = stats.label(key)
            mark = ' class="fmq-right"' if key in right else ""
            rows.append(f"<tr><td{mark}>{escape(key)}</td><td>{escape(text)}</td><td class=count>{count}</td></tr>")
        parts.append("<table><tr><th>answer</th><th>text</th><th>first answers</th></tr>" + "".join(rows) + "</table>")
        if wrong:
            key, count = wrong
            text, feedback = stats.label(key)
            parts.append(
                f'<div class="fmq-wrong"><p><strong>Most chosen wrong answer:</strong> {escape(text)}'
                f" ({escape(key)}), chosen first by {percent(count, answered)}.</p>"
                f"<p><strong>Its feedback:</strong> {escape(feedback)}</p></div>"
            )
    parts.append("</section>")
    return "\n".join(parts)


def _checkpoint_html(stats: CheckpointStats) -> str:
    unit = f", {escape(stats.unit)}" if stats.unit else ""
    parts = [
        f'<section id="checkpoint-{escape(stats.id)}">',
        f"<h2>Checkpoint {escape(stats.id)} ({stats.kind}{unit})</h2>",
    ]
    if stats.prompt:
        parts.append(f"<p>{escape(stats.prompt)}</p>")
    counts = f"Revealed by {stats.resolved} · predicted by {stats.predicted}"
    if stats.predicted:
        counts += f" · {'close' if stats.kind == 'numeric' else 'matched'} {percent(stats.close, stats.predicted)}"
    parts.append(f'<p class="fmq-stats">{counts}</p>')
    if stats.kind == "numeric" and stats.resolved:
        unit_text = f" {stats.unit}" if stats.unit else ""
        parts.append(f"<p>Measured: median {format_number(stats.median_measured)}{escape(unit_text)}.</p>")
        if stats.relative_errors:
            middle = stats.median_relative_error
            parts.append(
                f"<p>Median relative error {signed_percent(middle)}"
                f" (predictions {'below' if middle < 0 else 'above'} the measurement);"
                f" median miss {format_percent(stats.median_absolute_relative_error)}.</p>"
            )
            parts.append(_img(_histogram([e * 100 for e in stats.relative_errors]), f"Prediction errors, {stats.id}"))
    elif stats.resolved:
        keys = stats.option_keys()
        predicted, measured = ([counts.get(k, 0) for k in keys] for counts in (stats.predictions, stats.measured))
        chart = _paired_bars(keys, predicted, measured)
        parts.append(_img(chart, f"Predicted and measured, {stats.id}"))
    parts.append("</section>")
    return "\n".join(parts)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}">'


def _figure(rows: int):
    # Figure, not pyplot: no global state and no GUI backend, in a kernel or a terminal alike.
    from matplotlib.figure import Figure

    return Figure(figsize=(6.4, 0.8 + 0.4 * max(rows, 2)), dpi=100, layout="constrained")


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _bar_chart(labels: list[str], counts: list[int], colours: list[str]) -> bytes:
    """Horizontal bars, first option at the top."""
    figure = _figure(len(labels))
    axes = figure.add_subplot()
    positions = list(range(len(labels)))[::-1]
    axes.barh(positions, counts, color=colours)
    axes.set_yticks(positions, labels)
    axes.set_xlabel("learners (first answer)")
    axes.xaxis.get_major_locator().set_params(integer=True)
    for position, count in zip(positions, counts, strict=True):
        axes.text(count, position, f" {count}", va="center")
    axes.set_xlim(0, max(counts + [1]) * 1.15)
    return _png(figure)


def _paired_bars(labels: list[str], predicted: list[int], measured: list[int]) -> bytes:
    """Predicted and measured side by side per option."""
    figure = _figure(len(labels))
    axes = figure.add_subplot()
    positions = list(range(len(labels)))[::-1]
    axes.barh([p + 0.2 for p in positions], predicted, 0.4, color=PREDICTED_COLOUR, label="predicted")
    axes.barh([p - 0.2 for p in positions], measured, 0.4, color=MEASURED_COLOUR, label="measured")
    axes.set_yticks(positions, labels)
    axes.set_xlabel("learners")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(loc="best")
    return _png(figure)


def _histogram(errors_percent: list[float]) -> bytes:
    """How far predictions were from measurements, in percent; the line at 0 is a perfect prediction."""
    figure = _figure(4)
    axes = figure.add_subplot()
    axes.hist(errors_percent, bins=_bin_edges(errors_percent), color=PREDICTED_COLOUR, edgecolor="white")
    axes.axvline(0, color="#222", linewidth=1)
    axes.set_xlabel("prediction error, % of the measurement (below 0: predicted too little)")
    axes.set_ylabel("learners")
    axes.yaxis.get_major_locator().set_params(integer=True)
    return _png(figure)


def _bin_edges(values: list[float]) -> list[float]:
    """Round-numbered bins (5%, 10%, 25%, ...) spanning the values and 0, at most 20 of them."""
    low, high = min(min(values), 0.0), max(max(values), 0.0)
    step = next(s for s in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000) if (high - low) / s <= 20)
    if (high - low) / step > 20:  # beyond 100 times the measurement: let the span decide
        step = (high - low) / 20
    first = step * (low // step)
    count = int((high - first) // step) + 1
    return [first + step * i for i in range(count + 1)]
