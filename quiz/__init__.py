"""The course quiz: a question bank, a grading model, a widget view and a terminal fallback.

In a notebook::

    import quiz
    quiz.show()           # the quiz as widgets (recorded when QUIZ_RESPONSES_DIR is set)
    quiz.responses        # what the learner checked, by question id
    quiz.score            # how many are correct

    guess = quiz.checkpoint("blocking-response")   # a prediction to commit before measuring
    guess.reveal(samples.p50_ms)                   # ...against the measurement

    quiz.ask("blocking-two-mails")                 # a lesson's own question, at its end

    quiz.class_report("/srv/quiz-responses")       # the instructor's view of the class
    quiz.recording()                               # where answers go: the course service, a folder, or nowhere

``quiz.Quiz(...)`` builds a quiz widget to keep a handle on (recording nothing unless
record=True); ``python -m quiz`` plays the same questions in a terminal, and
``python -m quiz report DIR...`` prints the class report.
"""

from __future__ import annotations

from .answer_writer import recording
from .bank import Bank, BankError, Option, Question, load_bank, parse_bank
from .grading import Grader, Report, Result, Status, grade, grade_all
from .public import public_markdown

# The widget side is imported on first use so `python -m quiz` does not load ipywidgets.
_VIEW_NAMES = {"Quiz", "QuestionCard", "show", "current"}
_CHECKPOINT_NAMES = {"Checkpoint", "checkpoint"}
_LESSON_NAMES = {"LessonQuestion", "ask"}
# matplotlib, too, is loaded only by the instructor who asks for a report.
_REPORT_NAMES = {"ShownReport", "class_report"}
# Read from the quiz displayed last, so a learner can type quiz.score after quiz.show().
_CURRENT_NAMES = {"responses", "score", "results", "complete", "total"}

__all__ = [
    "Bank",
    "BankError",
    "Checkpoint",
    "LessonQuestion",
    "Grader",
    "Option",
    "Question",
    "QuestionCard",
    "Quiz",
    "Report",
    "Result",
    "ShownReport",
    "Status",
    "answer",
    "ask",
    "check",
    "checkpoint",
    "class_report",
    "current",
    "export",
    "grade",
    "grade_all",
    "load_bank",
    "parse_bank",
    "public_markdown",
    "recording",
    "report",
    "reset",
    "show",
]  # not responses/score/...: they exist only once a quiz is shown, and `import *` would fail


def __getattr__(name: str):
    if name in _VIEW_NAMES:
        from . import view

        return getattr(view, name)
    # Module names differ from the public names (checkpoints/checkpoint, report_render/class_report,
    # lesson/ask): importing a submodule binds its name in this package and would hide the function.
    if name in _CHECKPOINT_NAMES:
        from . import checkpoints

        return getattr(checkpoints, name)
    if name in _LESSON_NAMES:
        from . import lesson

        return getattr(lesson, name)
    if name in _REPORT_NAMES:
        from . import report_render

        return getattr(report_render, name)
    if name in _CURRENT_NAMES:
        return getattr(_require_current(name), name)
    raise AttributeError(f"module 'quiz' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _CURRENT_NAMES)


def _require_current(name: str):
    from . import view

    shown = view.current()
    if shown is None:
        # An AttributeError keeps hasattr() and tab completion working.
        raise AttributeError(f"quiz.{name}: there is no quiz yet; run quiz.show() first")
    return shown


def answer(question: str | int, choice: str | None) -> Result:
    """Choose an option and press Check on the current quiz, as a learner does."""
    return _require_current("answer").answer(question, choice)


def check(question: str | int) -> Result:
    """Press Check on a question of the current quiz."""
    return _require_current("check").check(question)


def reset() -> None:
    """Press Try again on the current quiz."""
    _require_current("reset").reset()


def report() -> str:
    """The current quiz's feedback and score line as plain text."""
    return _require_current("report").report()


def export(path=None) -> str:
    """The current quiz's answers and score as JSON (also written to path if given)."""
    return _require_current("export").export(path)
