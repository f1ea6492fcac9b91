"""The quiz as ipywidgets: one card per question, Check buttons, feedback and the score."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as widgets

from . import json_export, render
from .bank import Bank, Question, load_bank
from .grading import Grader, Result

RETRY_HINT = "Pick another answer and press Check again."
CHOOSE_HINT = "Pick one of the options above, then press Check."
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
    """One question: prompt, options as radio buttons, a Check button and the feedback."""

    def __init__(self, number: int, total: int, question: Question, options):
        self.question = question
        self.number = number
        self.result: Result | None = None  # what the feedback box shows, None when empty
        self.prompt = widgets.HTML(render.question_html(number, total, question))
        # Values are option keys, so what is recorded never depends on the shown order.
        self.choices = widgets.RadioButtons(
            options=[(option.text, option.key) for option in options],
            value=None,
            layout=widgets.Layout(width="auto"),
        )
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
            self.feedback.value = render.feedback_html(result, RETRY_HINT if result.graded else CHOOSE_HINT)

    def __repr__(self) -> str:
        return f"QuestionCard({self.number}, {self.question.id!r})"


class Quiz(widgets.VBox):
    """The whole quiz. The methods drive the same buttons a learner clicks."""

    def __init__(self, bank: Bank | str | Path | None = None, *, shuffle: bool = False, seed: int | None = None):
        """Build from a Bank or a bank file (default: the course's); seed implies shuffle."""
        if not isinstance(bank, Bank):
            bank = load_bank(bank)
        self.grader = Grader(bank, shuffle=shuffle, seed=seed)
        total = self.grader.total
        self.header = widgets.HTML(render.header_html(bank.title))
        self.cards = tuple(
            QuestionCard(number, total, question, self.grader.options(question.id))
            for number, question in enumerate(bank.questions, start=1)
        )
        self.score_box = widgets.HTML("")
        self.retry_button = widgets.Button(description="Try again", tooltip="Clear every answer and start over")
        super().__init__(children=(self.header, *self.cards, self.score_box, self.retry_button))
        self.add_class("fmq-quiz")
        for card in self.cards:
            card.check_button.on_click(lambda _button, card=card: self._on_check(card))
            card.choices.observe(lambda _change, card=card: self._on_choice(card), names="value")
        self.retry_button.on_click(lambda _button: self._on_retry())
        self._refresh_score()

    # --- the handlers behind the buttons -------------------------------------------------

    def _on_check(self, card: QuestionCard) -> None:
        card.show(self.grader.check(card.question.id, card.choices.value))
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
            card.choices.value = None
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

    def select(self, question: str | int, choice: str | None) -> None:
        """Choose an option by key (None clears), as clicking a radio button does."""
        card = self.card(question)
        if choice is not None:
            card.question.option(choice)  # a clear error for a key that does not exist
        card.choices.value = choice

    def check(self, question: str | int) -> Result:
        """Press the question's Check button; return the result it shows."""
        card = self.card(question)
        card.check_button.click()
        return card.result

    def answer(self, question: str | int, choice: str | None) -> Result:
        """Choose an option and press Check, exactly as a learner does."""
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
    def responses(self) -> dict[str, str | None]:
        """Question id -> checked option key, None until checked."""
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
            json_export.save(self.grader, path)
        return json_export.to_json(self.grader)

    def _repr_mimebundle_(self, **kwargs):
        # Displayed means on the learner's screen: that is the quiz quiz.score reads.
        _make_current(self)
        return super()._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        # Widget reprs are the text/plain output nbval compares: keep this one stable.
        seed = f", seed={self.seed}" if self.seed is not None else ""
        return f"Quiz({self.grader.bank.title!r}, {self.total} questions{seed})"


def show(bank: Bank | str | Path | None = None, *, shuffle: bool = False, seed: int | None = None) -> None:
    """Build the quiz (a seed implies shuffle) and display it; read it back with quiz.responses and quiz.score."""
    from IPython.display import display

    shown = Quiz(bank, shuffle=shuffle, seed=seed)
    _make_current(shown)  # also outside IPython, where display() only prints
    display(shown)
