"""What a kind of question owns: its schema, grading, prediction, widget input, terminal prompt and report bucket."""

from __future__ import annotations

import string
from typing import Any, ClassVar

from ..model import Option, Question
from ..outcomes import Outcome, Result, Status
from ..schema import ItemEntry


def letters(count: int) -> str:
    """'A-D' for four options."""
    return f"A-{string.ascii_uppercase[count - 1]}"


class Kind:
    """One kind of question (single choice, multiple choice, a number), as otter-grader has one class per test file.

    A new kind is one module with a subclass of this, and one line in quiz.kinds.REGISTRY.
    """

    name: ClassVar[str]
    entry: ClassVar[type[ItemEntry]]  # the bank's fields for this kind (a pydantic model)
    first: ClassVar[str]  # the headline of a Check with nothing given
    check_hint: ClassVar[str]  # under it: what to do
    retry_hint: ClassVar[str]  # under a wrong answer: what to do next
    commit_hint: ClassVar[str]  # a checkpoint's Commit with nothing given
    numeric: ClassVar[bool] = False  # whether its report is about numbers (else about options)

    # --- the bank ----------------------------------------------------------------------------

    def build(self, entry: ItemEntry, checkpoint: bool) -> Question:
        """The Question a checked entry describes."""
        raise NotImplementedError

    # --- grading and predictions ---------------------------------------------------------

    def unanswered(self, question: Question, note: str = "") -> Result:
        """The result of a Check with nothing (usable) given; note says what was wrong with the input."""
        return Result(question, None, Status.UNANSWERED, notes=(note,) if note else (), first=self.first)

    def grade(self, question: Question, answer: Any) -> Result:
        """Grade an answer that is not None."""
        raise NotImplementedError

    def recorded(self, question: Question, answer: Any) -> Any:
        """A recorded answer as grading takes it; ValueError when it does not fit this kind (strings are keys)."""
        raise NotImplementedError

    def check_prediction(self, spec: Question, value: Any) -> Any:
        """A prediction as recorded; ValueError says what is wrong."""
        raise NotImplementedError

    def check_measurement(self, spec: Question, measured: Any) -> Any:
        """The measurement in the checkpoint's terms; TypeError/ValueError for one it cannot compare."""
        return self.check_prediction(spec, measured)

    def resolve(self, spec: Question, prediction: Any, measured: Any) -> Outcome:
        """Compare a checked prediction (None: nothing committed) with a checked measurement."""
        raise NotImplementedError

    def describe(self, spec: Question, value: Any) -> str:
        """A prediction or measurement as the learner reads it."""
        raise NotImplementedError

    def how_to_predict(self, spec: Question) -> str:
        """What a checkpoint asks the learner to do."""
        raise NotImplementedError

    def how_to_answer(self, question: Question) -> str:
        """How the item is answered, for a page without widgets (quiz.public_markdown): never the answer."""
        raise NotImplementedError

    # --- widgets and the terminal --------------------------------------------------------

    def make_input(self, question: Question, options: tuple[Option, ...]):
        """The widget the learner answers with (quiz.inputs)."""
        raise NotImplementedError

    def answer_of(self, source) -> Any:
        """What an input holds, as grading takes it; ValueError for typed text that is not an answer."""
        return source.value()

    def check_choice(self, question: Question, choice: Any) -> None:
        """ValueError naming the valid answers when `choice` (given from code) cannot be entered."""

    def prompts(self, question: Question, options: tuple[Option, ...]) -> tuple[str, str, str]:
        """The terminal's (first prompt, retry prompt, how to answer)."""
        raise NotImplementedError

    def read_typed(self, question: Question, options: tuple[Option, ...], typed: str, how: str) -> Any:
        """What was typed at the terminal, as grading takes it; ValueError saying how to answer."""
        raise NotImplementedError

    # --- the class report ----------------------------------------------------------------

    def buckets(self, question: Question) -> dict[str, int]:
        """The report's first-answer buckets, all at zero, in the order they are shown."""
        raise NotImplementedError

    def bucket_keys(self, result: Result) -> tuple[str, ...]:
        """The buckets a graded first answer counts in."""
        raise NotImplementedError

    def right_buckets(self, question: Question) -> set[str]:
        """The buckets that hold right answers."""
        raise NotImplementedError

    def bucket_label(self, question: Question, key: str) -> tuple[str, str]:
        """A bucket's text and feedback, for the class to discuss."""
        raise NotImplementedError
