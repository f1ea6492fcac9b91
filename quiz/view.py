"""The quiz as ipywidgets: one card per question, Check buttons, feedback and the score."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import IPython.display
import ipywidgets as widgets

from . import answer_writer, render
from .bank import Bank, Question, load_bank
from .grading import Grader, Result, unanswered
from .kinds import kind_of

DONE_HINTS = {
    True: "All correct. Well done!",
    False: "Pick another answer where it says \u201cNot yet\u201d and press Check, or press Try again to start over.",
}

_current: Quiz | None = None


def current() -> Quiz | None:
    """The quiz displayed last in this kernel (what quiz.responses and quiz.score read)."""
    return _current


def _make_current(shown: Quiz) -> None:
    global _current
    _current = shown


class QuestionCard(widgets.VBox):
    """One question: prompt, its answer input (radio buttons, checkboxes or a number box), Check and feedback."""

    def __init__(self, number: int, total: int, question: Question, options, heading: str | None = None):
        self.question = question
        self.number = number
        self.result: Result | None = None  # what the feedback box shows, None when empty
        self.prompt = widgets.HTML(render.question_html(number, total, question, heading))
        self.kind = kind_of(question)
        self.input = self.kind.make_input(question, options)
        self.choices = self.input.widget  # the answer widget a learner clicks or types in
        self.check_button = widgets.Button(
            description="Check",
            button_style="primary",
            tooltip=f"Check your answer to question {number}",
        )
        self.feedback = widgets.HTML("")
        super().__init__(children=(self.prompt, self.choices, self.check_button, self.feedback))
        self.add_class("fmq-card")
        self.add_class(f"fmq-question-{question.id}")

    def show(self, result: Result | None) -> None:
        """Put a result (or nothing) in the feedback box."""
        self.result = result
        if result is None:
            self.feedback.value = ""
        else:
            hint = self.kind.retry_hint if result.graded else self.kind.check_hint
            self.feedback.value = render.feedback_html(result, hint)

    def answer(self) -> Any:
        """What the input holds, as grading takes it; ValueError for typed text that is not a number."""
        return self.kind.answer_of(self.input)

    def __repr__(self) -> str:
        return f"QuestionCard({self.number}, {self.question.id!r})"


class Quiz(widgets.VBox):
    """The whole quiz. The methods drive the same buttons a learner clicks."""

    def __init__(
        self,
        bank: Bank | str | Path | None = None,
        *,
        shuffle: bool = False,
        seed: int | None = None,
        record: bool = False,
    ):
        """Build from a Bank or a bank file (default: the course's); seed implies shuffle; record=True records Checks."""
        # Only the learner's own quiz (quiz.show()) records by default: a Quiz built in code, such
        # as the quiz lesson's worked example, must never write answers under the learner's name.
        if not isinstance(bank, Bank):
            bank = load_bank(bank)
        self.session = answer_writer.session_for(record)
        self.grader = Grader(bank, shuffle=shuffle, seed=seed)
        total = self.grader.total
        self.header = widgets.HTML(render.header_html(bank.title))
        self.cards = tuple(
            QuestionCard(number, total, question, self.grader.options(question.id))
            for number, question in enumerate(bank.questions, start=1)
        )
        # Empty unless answers cannot be recorded: a click's stderr would land in JupyterLab's log, unseen.
        self.record_note = widgets.HTML(render.note_html(self.session.problem or "", "fmq-record-problem"))
        self.score_box = widgets.HTML("")
        self.retry_button = widgets.Button(description="Try again", tooltip="Clear every answer and start over")
        super().__init__(children=(self.header, self.record_note, *self.cards, self.score_box, self.retry_button))
        self.add_class("fmq-quiz")
        for card in self.cards:
            card.check_button.on_click(lambda _button, card=card: self._on_check(card))
            card.input.on_change(lambda card=card: self._on_choice(card))
        self.retry_button.on_click(lambda _button: self._on_retry())
        self._refresh_score()

    # --- the handlers behind the buttons -------------------------------------------------

    def _on_check(self, card: QuestionCard) -> None:
        try:
            answer = card.answer()
        except ValueError as error:  # typed text that is not a number: say so, grade nothing
            result = unanswered(card.question, str(error)[:1].upper() + str(error)[1:] + ".")
            self.grader.check(card.question.id, None)
        else:
            result = self.grader.check(card.question.id, answer)
        card.show(result)
        if result.graded:
            self.session.record("question", card.question.id, result.answer, result.correct)
            self.record_note.value = render.note_html(self.session.problem or "", "fmq-record-problem")
        self._refresh_score()

    def _on_choice(self, card: QuestionCard) -> None:
        # Feedback about an option the learner no longer has chosen would mislead.
        if card.result is not None:
            self.grader.clear(card.question.id)
            card.show(None)
            self._refresh_score()

    def _on_retry(self) -> None:
        self.grader.reset()
        for card in self.cards:
            card.input.set(None)
            card.show(None)
        self._refresh_score()

    def _refresh_score(self) -> None:
        hint = DONE_HINTS[self.grader.score == self.grader.total] if self.grader.complete else ""
        self.score_box.value = render.score_html(self.grader, hint)

    # --- the kernel API: same code path as the clicks ------------------------------------

    def card(self, question: str | int) -> QuestionCard:
        """The card of a question, by id or 1-based number."""
        wanted = self.grader.question(question).id
        return next(card for card in self.cards if card.question.id == wanted)

    def select(self, question: str | int, choice: Any) -> None:
        """Choose an option by key, tick a list of keys, or type a number (None clears), as a learner does."""
        card = self.card(question)
        if choice is not None:
            card.kind.check_choice(card.question, choice)  # a clear error for a key that does not exist
        card.input.set(choice)

    def check(self, question: str | int) -> Result:
        """Press the question's Check button; return the result it shows."""
        card = self.card(question)
        card.check_button.click()
        return card.result

    def answer(self, question: str | int, choice: Any) -> Result:
        """Choose an option (or tick keys, or type a number) and press Check, exactly as a learner does."""
        self.select(question, choice)
        return self.check(question)

    def reset(self) -> None:
        """Press Try again."""
        self.retry_button.click()

    def feedback(self, question: str | int) -> str:
        """The text of a question's feedback box, as the learner reads it."""
        return render.html_to_text(self.card(question).feedback.value)

    @property
    def score_text(self) -> str:
        """The text of the score line, as the learner reads it."""
        return render.html_to_text(self.score_box.value)

    def report(self) -> str:
        """Every question's feedback and the score line, as plain text."""
        lines = []
        for card in self.cards:
            lines.append(f"Question {card.number} ({card.question.id}):")
            lines.extend("  " + line for line in (self.feedback(card.number) or "(not checked)").splitlines())
        lines.append(self.score_text)
        return "\n".join(lines)

    @property
    def responses(self) -> dict[str, Any]:
        """Question id -> checked answer (option key, tuple of keys or number), None until checked."""
        return self.grader.responses

    @property
    def results(self):
        """Question id -> standing Result, for the checked questions."""
        return self.grader.results

    @property
    def score(self) -> int:
        """How many questions are answered correctly so far."""
        return self.grader.score

    @property
    def total(self) -> int:
        """How many questions there are."""
        return self.grader.total

    @property
    def complete(self) -> bool:
        """True once every question has a checked answer."""
        return self.grader.complete

    @property
    def seed(self) -> int | None:
        """The shuffle seed (None: options in bank order); pass it again to reproduce the order."""
        return self.grader.seed

    def export(self, path: str | Path | None = None) -> str:
        """The answers and score as JSON; also written to path if given."""
        if path is not None:
            self.grader.save(path)
        return self.grader.to_json()

    def _repr_mimebundle_(self, **kwargs):
        # Displayed means on the learner's screen: that is the quiz quiz.score reads.
        _make_current(self)
        return super()._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        # Widget reprs are the text/plain output nbval compares: keep this one stable.
        seed = f", seed={self.seed}" if self.seed is not None else ""
        return f"Quiz({self.grader.bank.title!r}, {self.total} questions{seed})"


def show(
    bank: Bank | str | Path | None = None, *, shuffle: bool = False, seed: int | None = None, record: bool = True
) -> None:
    """Display the learner's quiz (seed implies shuffle), recording Checks if QUIZ_RESPONSES_DIR is set and record."""
    shown = Quiz(bank, shuffle=shuffle, seed=seed, record=record)
    _make_current(shown)  # also outside IPython, where display() only prints
    IPython.display.display(shown)
