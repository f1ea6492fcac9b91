"""A lesson's own question: `quiz.ask("id")` shows one graded question from the bank at the end of a lesson.

Its card is the closing quiz's (the same feedback per option, Check and Try again by changing the
answer); its Checks are recorded as the quiz's are, when QUIZ_RESPONSES_DIR is set, and the class
report counts them by lesson.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as widgets

from . import answer_writer, render
from .bank import Bank, load_bank
from .grading import Grader, Result
from .model import Question
from .view import QuestionCard

HEADING = "Check your understanding"


class LessonQuestion(widgets.VBox):
    """One question of a lesson, graded in the kernel; the methods press the same buttons a learner does."""

    def __init__(self, question: Question, *, record: bool = False):
        """record=True appends each Check to QUIZ_RESPONSES_DIR when it is set (quiz.ask does)."""
        self.question = question
        self.grader = Grader(Bank(HEADING, (question,), source=f"lesson question '{question.id}'"))
        self.session = answer_writer.session_for(record)
        self.card = QuestionCard(1, 1, question, self.grader.options(question.id), heading=HEADING)
        self.record_note = widgets.HTML(render.note_html(self.session.problem or "", "fmq-record-problem"))
        super().__init__(children=(widgets.HTML(render.STYLE), self.card, self.record_note))
        self.add_class("fmq-quiz")
        self.add_class(f"fmq-lesson-{question.id}")
        self.card.check_button.on_click(lambda _button: self._on_check())
        self.card.input.on_change(self._on_choice)

    def _on_check(self) -> None:
        try:
            answer = self.card.answer()
        except ValueError as error:  # typed text that is not a number: say so, grade nothing
            self.card.show(self.card.kind.unanswered(self.question, str(error)[:1].upper() + str(error)[1:] + "."))
            return
        result = self.grader.check(self.question.id, answer)
        self.card.show(result)
        if result.graded:
            self.session.record(
                "question", self.question.id, result.answer, result.correct, lesson=self.question.lesson
            )
            self.record_note.value = render.note_html(self.session.problem or "", "fmq-record-problem")

    def _on_choice(self) -> None:
        # Feedback about an option the learner no longer has chosen would mislead.
        if self.card.result is not None:
            self.grader.clear(self.question.id)
            self.card.show(None)

    def answer(self, choice: Any) -> Result:
        """Choose an option (or tick keys, or type a number) and press Check, exactly as a learner does."""
        if choice is not None:
            self.card.kind.check_choice(self.question, choice)
        self.card.input.set(choice)
        self.card.check_button.click()
        return self.card.result

    @property
    def feedback(self) -> str:
        """The text of the feedback box, as the learner reads it."""
        return render.html_to_text(self.card.feedback.value)

    @property
    def correct(self) -> bool:
        """Whether the standing answer is right."""
        result = self.grader.result(self.question.id)
        return bool(result and result.correct)

    def __repr__(self) -> str:
        # The text/plain nbval compares: the question's id only, never an answer.
        return f"LessonQuestion({self.question.id!r}, lesson {self.question.lesson!r})"


def ask(question_id: str, *, record: bool = True, bank: Bank | str | Path | None = None) -> LessonQuestion:
    """A lesson's question from the bank (default: the course's), as a widget: the cell that ends with it shows it."""
    if not isinstance(bank, Bank):
        bank = load_bank(bank)
    return LessonQuestion(bank.lesson_question(question_id), record=record)
