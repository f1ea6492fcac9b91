"""Turn questions and results into the HTML the widgets show and back into plain text."""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser

from .grading import Grader
from .kinds import kind_of
from .model import Question
from .outcomes import Outcome, Result, Verdict

# Scoped to .fmq-quiz and .fmq-checkpoint so nothing leaks into the rest of the notebook page. ipywidgets
# draws radio labels as fixed-height single lines with the button floated after the
# text; our options are sentences that wrap, so the label becomes a flex row. Both the
# widget-* and jupyter-widget-* class names, as ipywidgets 8 is moving between them.
STYLE = """<style>
:is(.fmq-quiz, .fmq-checkpoint) { max-width: 52rem; }
.fmq-quiz .fmq-card, .fmq-checkpoint.fmq-card { border: 1px solid var(--jp-border-color2, #ccc); border-radius: 4px;
  padding: 0.25rem 0.75rem 0.5rem; margin: 0 0 0.75rem 0; }
:is(.fmq-quiz, .fmq-checkpoint) :is(.widget-html-content, .jupyter-widget-html-content) {
  line-height: 1.45; white-space: normal; }
:is(.fmq-quiz, .fmq-checkpoint) :is(.widget-radio-box, .jupyter-widget-radio-box) label {
  display: flex; flex-direction: row-reverse; justify-content: flex-end; align-items: flex-start;
  height: auto; line-height: 1.45; padding: 0.2rem 0; white-space: normal; cursor: pointer; }
:is(.fmq-quiz, .fmq-checkpoint) :is(.widget-radio-box, .jupyter-widget-radio-box) input {
  float: none; flex: none; height: 1.45em; margin: 0 0.5rem 0 1px; }
:is(.fmq-quiz, .fmq-checkpoint) .fmq-checkboxes label { white-space: normal; line-height: 1.45; height: auto; }
:is(.fmq-quiz, .fmq-checkpoint) .fmq-title { margin: 0.25rem 0; }
:is(.fmq-quiz, .fmq-checkpoint) .fmq-number { font-weight: bold; margin: 0.5rem 0 0.25rem 0; }
:is(.fmq-quiz, .fmq-checkpoint) .fmq-prompt { margin: 0.25rem 0; }
:is(.fmq-quiz, .fmq-checkpoint) .fmq-code { background: var(--jp-layout-color2, #f5f5f5); padding: 0.5rem;
  overflow-x: auto; line-height: 1.3; }
:is(.fmq-quiz, .fmq-checkpoint) .fmq-feedback { border-left: 4px solid; padding: 0.1rem 0.75rem; margin: 0.25rem 0; }
:is(.fmq-quiz, .fmq-checkpoint) .fmq-feedback p { margin: 0.25rem 0; }
:is(.fmq-quiz, .fmq-checkpoint) .fmq-correct { border-color: #2e7d32; }
:is(.fmq-quiz, .fmq-checkpoint) .fmq-incorrect { border-color: #c62828; }
:is(.fmq-quiz, .fmq-checkpoint) .fmq-unanswered { border-color: #1565c0; }
:is(.fmq-quiz, .fmq-checkpoint) .fmq-gap { border-color: #ef6c00; }
:is(.fmq-quiz, .fmq-checkpoint) .fmq-correct .fmq-headline::before { content: "\\2714\\FE0E  "; color: #2e7d32; }
:is(.fmq-quiz, .fmq-checkpoint) .fmq-incorrect .fmq-headline::before { content: "\\2718\\FE0E  "; color: #c62828; }
:is(.fmq-quiz, .fmq-checkpoint) .fmq-unanswered .fmq-headline::before { content: "\\2192  "; color: #1565c0; }
:is(.fmq-quiz, .fmq-checkpoint) .fmq-gap .fmq-headline::before { content: "\\2260  "; color: #ef6c00; }
:is(.fmq-quiz, .fmq-checkpoint) .fmq-score { font-weight: bold; }
:is(.fmq-quiz, .fmq-checkpoint) .fmq-record-problem { color: #c62828; }
</style>"""

HELP = (
    "Choose an answer to each question and press Check. With the keyboard: Tab moves"
    " between the options and buttons, Space chooses an option, Enter presses a button."
)


def feedback_lines(result: Result, hint: str = "") -> list[str]:
    """The feedback as plain paragraphs; hint says what to do next (it depends on the screen)."""
    first, *rest = result.notes or ("",)
    lines = [f"{result.headline} {first}".strip(), *rest]
    if result.explanation:
        lines.append(result.explanation)
    if hint and not result.correct:
        lines.append(hint)
    return lines


def feedback_html(result: Result, hint: str = "") -> str:
    """The feedback box: headline, why, and the explanation once correct."""
    return _box(result.headline, feedback_lines(result, hint), result.status.value)


# A prediction that missed is a gap to understand, not a wrong answer: its own colour.
OUTCOME_STYLES = {Verdict.NONE: "unanswered", Verdict.CLOSE: "correct", Verdict.MATCH: "correct"}


def outcome_html(outcome: Outcome) -> str:
    """A revealed checkpoint: prediction against measurement, and why they differ."""
    return _box(outcome.headline, outcome.lines(), OUTCOME_STYLES.get(outcome.verdict, "gap"))


def _box(headline: str, lines: list[str], style: str) -> str:
    """A feedback box whose first paragraph starts with the headline in bold."""
    first, *rest = lines
    first_html = f'<strong class="fmq-headline">{escape(headline)}</strong>{escape(first[len(headline) :])}'
    paragraphs = [f"<p>{first_html}</p>"] + [f"<p>{escape(line)}</p>" for line in rest]
    # role=status makes screen readers announce the verdict without moving focus.
    return f'<div class="fmq-feedback fmq-{style}" role="status">{"".join(paragraphs)}</div>'


def checkpoint_html(spec: Question) -> str:
    """A checkpoint's heading: what to predict, how, and the stylesheet."""
    how = kind_of(spec).how_to_predict(spec)
    parts = [
        STYLE,
        '<p class="fmq-number">Predict before you measure</p>',
        f'<p class="fmq-prompt">{escape(spec.prompt)}</p>',
    ]
    if spec.code:
        parts.append(f'<pre class="fmq-code"><code>{escape(spec.code)}</code></pre>')
    parts.append(f'<p class="fmq-help">{escape(how)}</p>')
    return "".join(parts)


def note_html(text: str, style: str = "") -> str:
    """One short paragraph, e.g. 'Your prediction: 300 ms.' or a recording problem."""
    if not text:
        return ""
    return f'<p class="{style}" role="status">{escape(text)}</p>' if style else f'<p role="status">{escape(text)}</p>'


def question_html(number: int, total: int, question: Question, heading: str | None = None) -> str:
    """The card's heading (by default its number), prompt and the optional code snippet."""
    parts = [
        f'<p class="fmq-number">{escape(heading or f"Question {number} of {total}")}</p>',
        f'<p class="fmq-prompt">{escape(question.prompt)}</p>',
    ]
    if question.code:
        parts.append(f'<pre class="fmq-code"><code>{escape(question.code)}</code></pre>')
    return "".join(parts)


def header_html(title: str) -> str:
    """The quiz's title and how to use it, with the stylesheet."""
    return f'{STYLE}<h3 class="fmq-title">{escape(title)}</h3><p class="fmq-help">{escape(HELP)}</p>'


def score_line(grader: Grader) -> str:
    """'Score: N / T' once every question is checked, else how far the learner is."""
    if grader.complete:
        return f"Score: {grader.score} / {grader.total}"
    return (
        f"Checked {grader.answered} of {grader.total} questions;"
        f" your score appears when all {grader.total} are checked."
    )


def score_html(grader: Grader, hint: str = "") -> str:
    """The score line as HTML, with an encouraging next step once complete."""
    line = f'<p class="fmq-score" role="status">{escape(score_line(grader))}</p>'
    return line + (f"<p>{escape(hint)}</p>" if hint else "")


class _TextExtractor(HTMLParser):
    """Collect text by paragraph, skipping <style>: what a reader sees, not the markup."""

    BLOCKS = {"p", "div", "pre", "h1", "h2", "h3", "h4", "li", "br"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = [""]
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self._in_style = self._in_style or tag == "style"
        if tag in self.BLOCKS:
            self.paragraphs.append("")

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False
        elif tag in self.BLOCKS:
            self.paragraphs.append("")

    def handle_data(self, data):
        if not self._in_style:
            self.paragraphs[-1] += data


def html_to_text(html: str) -> str:
    """The readable text of a widget's HTML, one paragraph per line."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "\n".join(" ".join(p.split()) for p in parser.paragraphs if p.strip())
