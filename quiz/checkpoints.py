"""Checkpoints: the learner commits a prediction, measures, and sees the prediction against the measurement.

In a lesson::

    guess = quiz.checkpoint("blocking-response", "How long will one blocking send take ...?", unit="ms", kind="numeric")
    ...                                 # the cells that measure
    guess.reveal(samples.p50_ms)        # prediction against measurement, and why they differ

The definition (prompt, kind, unit, tolerance, options, and the feedback explaining each
kind of gap) lives in the bank's ``checkpoints:`` section; a cell may repeat any of it for
readers of the lesson source, and must then agree with the bank. An id the bank does not
know is defined by the call's arguments alone, without gap feedback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import IPython.display
import ipywidgets as widgets

from . import answer_writer, render
from .bank import (
    Bank,
    BankError,
    Question,
    check_checkpoint,
    check_tolerance,
    load_bank,
)
from .kinds import kind_of
from .prediction import Outcome, check_prediction, resolve

COMMIT_HINT = "Committed. Now run the cells that measure it; the last one compares."
REVEALED_NOTE = "Revealed below: a prediction made after the measurement would not be one."


class Checkpoint(widgets.VBox):
    """A prediction widget: the question, an input, a Commit button; reveal() compares with the measurement."""

    def __init__(self, spec: Question, *, record: bool = False):
        """record=True appends the resolved checkpoint to QUIZ_RESPONSES_DIR when it is set (quiz.checkpoint does)."""
        self.spec = spec
        self.kind = kind_of(spec)
        self.session = answer_writer.session_for(record)
        self.prediction: Any = None  # the committed value, None until Commit
        self.outcome: Outcome | None = None  # set by reveal()
        self.prompt = widgets.HTML(render.checkpoint_html(spec))
        self.input = self.kind.make_input(spec, spec.options)
        self.commit_button = widgets.Button(
            description="Commit", button_style="primary", tooltip="Lock in your prediction before you measure"
        )
        self.status = widgets.HTML("")  # what was committed, or why Commit did nothing
        self.result = widgets.HTML("")  # prediction against measurement, once revealed
        self.record_note = widgets.HTML(render.note_html(self.session.problem or "", "fmq-record-problem"))
        super().__init__(
            children=(self.prompt, self.input.widget, self.commit_button, self.status, self.result, self.record_note)
        )
        self.add_class("fmq-checkpoint")
        self.add_class("fmq-card")
        self.add_class(f"fmq-checkpoint-{spec.id}")
        self.commit_button.on_click(lambda _button: self._on_commit())

    # --- the handler behind the button ---------------------------------------------------

    def _on_commit(self) -> None:
        if self.committed or self.outcome is not None:
            return
        try:
            raw = self.kind.answer_of(self.input)
            if raw is None:
                self.status.value = render.note_html(self.kind.commit_hint)
                return
            prediction = check_prediction(self.spec, raw)
        except ValueError as error:
            self.status.value = render.note_html(str(error)[:1].upper() + str(error)[1:] + ".")
            return
        self.prediction = prediction
        self.input.disable()
        self.commit_button.disabled = True
        self.status.value = render.note_html(f"Your prediction: {self.describe(prediction)}. {COMMIT_HINT}")

    # --- the kernel API ------------------------------------------------------------------

    @property
    def committed(self) -> bool:
        """True once a prediction is committed."""
        return self.prediction is not None

    def commit(self, value: Any = None) -> Any:
        """Enter value (if given) as a learner does, press Commit; the committed prediction (None if refused)."""
        if value is not None and not self.committed and self.outcome is None:
            self.input.set(value)
        self.commit_button.click()
        return self.prediction

    def reveal(self, measured: Any) -> None:
        """Compare the prediction with the measurement: shown here, in the checkpoint above, and recorded."""
        # What is printed (the text nbval compares) never holds the measured number: that stays
        # in the widgets' HTML, since it changes from run to run.
        outcome = resolve(self.spec, self.prediction, measured)
        self.outcome = outcome
        self.input.disable()
        self.commit_button.disabled = True
        if not self.committed:
            self.status.value = render.note_html(REVEALED_NOTE)
        self.result.value = render.outcome_html(outcome)
        self.session.record(
            "checkpoint",
            self.spec.id,
            outcome.prediction,
            outcome.correct,
            measured=outcome.measured,
            unit=self.spec.unit,
        )
        self.record_note.value = render.note_html(self.session.problem or "", "fmq-record-problem")
        _display(Reveal(self))

    @property
    def measured(self) -> Any:
        """The measurement given to reveal(), None before."""
        return self.outcome.measured if self.outcome else None

    @property
    def feedback(self) -> str:
        """The comparison's text, as the learner reads it ('' before reveal)."""
        return render.html_to_text(self.result.value)

    def describe(self, value: Any) -> str:
        """A prediction or measurement as the learner reads it: '300 ms', an option's text, ..."""
        return self.kind.describe(self.spec, value)

    def __repr__(self) -> str:
        # The text/plain nbval compares: the definition only, never a learner's or a measured value.
        unit = f", {self.spec.unit!r}" if self.spec.unit else ""
        return f"Checkpoint({self.spec.id!r}, {self.spec.kind}{unit})"


class Reveal(widgets.HTML):
    """The comparison, shown again in the cell that revealed it; its plain text stays the same run to run."""

    def __init__(self, checkpoint: Checkpoint):
        # The stylesheet again: the checkpoint's own cell may be scrolled away, collapsed or cleared.
        super().__init__(render.STYLE + checkpoint.result.value)
        self.add_class("fmq-checkpoint")
        self.add_class(f"fmq-reveal-{checkpoint.spec.id}")
        self._text = (
            f"Checkpoint {checkpoint.spec.id}: "
            + ("prediction committed" if checkpoint.committed else "no prediction committed")
            + "; prediction and measurement are compared in the widget."
        )

    def __repr__(self) -> str:
        return self._text


def checkpoint(checkpoint_id: str, prompt: str | None = None, *, record: bool = True, **definition) -> Checkpoint:
    """Show a prediction widget for a checkpoint and return it; call .reveal(measured) after measuring."""
    # The bank (default: the course's) defines checkpoint_id; a `definition` given here (kind, unit,
    # choices, tolerance, bank: see checkpoint_spec) must agree with it. For an id the bank lacks, the
    # arguments are the definition: kind ('numeric', 'single' or 'multiple'), unit, tolerance (a number
    # of units, or '25%', the default), and choices as keys, (key, text) pairs or mappings.
    shown = Checkpoint(checkpoint_spec(checkpoint_id, prompt, **definition), record=record)
    _display(shown)
    return shown


def checkpoint_spec(
    checkpoint_id: str,
    prompt: str | None = None,
    *,
    kind: str | None = None,
    unit: str | None = None,
    choices: list | None = None,
    tolerance: float | str | None = None,
    bank: Bank | str | Path | None = None,
) -> Question:
    """The checked definition: from the bank, or from the arguments; BankError names what is wrong."""
    if not isinstance(bank, Bank):
        bank = load_bank(bank)
    given = {"prompt": prompt, "kind": kind, "unit": unit, "options": _options(choices), "tolerance": tolerance}
    given = {name: value for name, value in given.items() if value is not None}
    where = f"quiz.checkpoint({checkpoint_id!r})"
    spec = bank.checkpoint(checkpoint_id) if isinstance(checkpoint_id, str) else None
    if spec is None:
        # Defined by the cell alone: a number unless the cell names a kind (its kind gives the default tolerance).
        entry = {"id": checkpoint_id, "kind": "numeric", **given}
        return check_checkpoint(entry, where, require_feedback=False)
    _agree(spec, given, f"{bank.source}: checkpoint '{spec.id}'")
    return spec


def _options(choices: list | None) -> list | None:
    """Inline choices as bank options: 'key', ('key', 'text') or {'key', 'text', 'feedback'}."""
    if choices is None:
        return None
    options = []
    for choice in choices:
        if isinstance(choice, str):
            options.append({"key": choice, "text": choice})
        elif isinstance(choice, (tuple, list)) and len(choice) == 2:
            options.append({"key": choice[0], "text": choice[1]})
        else:
            options.append(choice)  # a mapping, checked (or refused) by the bank's own checks
    return options


def _agree(spec: Question, given: dict[str, Any], where: str) -> None:
    """Fail when what the cell says differs from the bank's definition."""
    for name, value in given.items():
        if name == "prompt":
            same = isinstance(value, str) and " ".join(value.split()) == " ".join(spec.prompt.split())
        elif name == "tolerance":
            same = check_tolerance(value, where) == spec.tolerance
        elif name == "options":
            shown = [(o.get("key"), o.get("text")) if isinstance(o, dict) else o for o in value]
            value, same = shown, shown == [(o.key, o.text) for o in spec.options]
        else:
            same = value == getattr(spec, name)
        if not same:
            bank_value = [(o.key, o.text) for o in spec.options] if name == "options" else getattr(spec, name)
            raise BankError(f"{where}: field '{name}' is {bank_value!r} in the bank but {value!r} in the cell")


def _display(widget) -> None:
    """Display in the notebook (outside IPython, display() prints the plain text)."""
    IPython.display.display(widget)
