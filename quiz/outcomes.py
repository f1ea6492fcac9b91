"""What grading a question and revealing a checkpoint produce: results, verdicts and their feedback."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from .model import Option, Question


class Status(str, enum.Enum):
    """How a checked question stands."""

    CORRECT = "correct"
    INCORRECT = "incorrect"
    UNANSWERED = "unanswered"


HEADLINES = {Status.CORRECT: "Correct!", Status.INCORRECT: "Not yet."}


@dataclass(frozen=True)
class Result:
    """The outcome of checking one question."""

    question: Question
    choice: Option | None  # 'single': the option chosen
    status: Status
    # As recorded: an option key, a tuple of keys in option order, or a float; None if nothing.
    answer: Any = None
    notes: tuple[str, ...] = ()  # the feedback, one paragraph each
    direction: str | None = None  # 'numeric': 'low', 'close' or 'high'
    first: str = "Choose an answer first."  # the headline when nothing was given: what to do first

    @property
    def correct(self) -> bool:
        """True only for the correct answer."""
        return self.status is Status.CORRECT

    @property
    def graded(self) -> bool:
        """False when nothing was chosen: that is not a wrong answer."""
        return self.status is not Status.UNANSWERED

    @property
    def headline(self) -> str:
        """'Correct!', 'Not yet.' or what to do first ('Choose an answer first.', ...)."""
        return self.first if self.status is Status.UNANSWERED else HEADLINES[self.status]

    @property
    def feedback(self) -> str:
        """Why the answer is right or wrong ('' when nothing was chosen)."""
        return " ".join(self.notes)

    @property
    def explanation(self) -> str:
        """The question's explanation, revealed only once it is answered correctly."""
        # Showing it after a wrong answer would give the answer away.
        return self.question.explanation if self.correct else ""


class Verdict(str, enum.Enum):
    """How a prediction compares with what was measured."""

    NONE = "none"  # nothing was committed before the measurement
    CLOSE = "close"  # a number within the checkpoint's tolerance
    LOW = "low"
    HIGH = "high"
    MATCH = "match"  # the options predicted are the options measured
    DIFFERENT = "different"


VERDICT_HEADLINES = {
    Verdict.NONE: "No prediction committed.",
    Verdict.CLOSE: "Close!",
    Verdict.LOW: "Lower than measured.",
    Verdict.HIGH: "Higher than measured.",
    Verdict.MATCH: "As predicted!",
    Verdict.DIFFERENT: "Not what was measured.",
}


@dataclass(frozen=True)
class Outcome:
    """A checkpoint resolved: the prediction, the measurement, the verdict and the feedback on the gap."""

    spec: Question
    prediction: Any
    measured: Any
    verdict: Verdict
    notes: tuple[str, ...]
    relative_error: float | None = None

    @property
    def correct(self) -> bool | None:
        """True when the prediction was close or matched, None when there was none."""
        if self.verdict is Verdict.NONE:
            return None
        return self.verdict in (Verdict.CLOSE, Verdict.MATCH)

    @property
    def headline(self) -> str:
        """'Close!', 'Lower than measured.', 'No prediction committed.', ..."""
        return VERDICT_HEADLINES[self.verdict]

    def lines(self) -> list[str]:
        """The feedback as plain paragraphs: headline and comparison, why, and the explanation."""
        first, *rest = self.notes
        lines = [f"{self.headline} {first}", *rest]
        if self.spec.explanation:
            lines.append(self.spec.explanation)
        return lines
