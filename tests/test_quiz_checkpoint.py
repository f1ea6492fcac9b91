"""Checkpoints as widgets, and every kind of question in the quiz widget and the terminal, driven as a learner does."""

import io

import ipywidgets as widgets
import pytest
from test_quiz_kinds import kinds_bank

import quiz
from quiz import cli, render, view
from quiz.bank import BankError, check_bank
from quiz.checkpoints import Checkpoint, Reveal, checkpoint_spec

KINDS = check_bank(kinds_bank(), "kinds.yaml")


@pytest.fixture(autouse=True)
def no_recording(monkeypatch):
    """Recording off, whatever the developer's shell says."""
    monkeypatch.delenv("QUIZ_RESPONSES_DIR", raising=False)
    monkeypatch.setattr(view, "_current", None)


@pytest.fixture
def displayed(monkeypatch):
    """What checkpoint() and reveal() display, in order."""
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objects, **_kw: shown.extend(objects))
    return shown


def type_and_commit(guess, text):
    """What a learner does: type in the box (or choose), then click Commit."""
    guess.input.set(text)
    guess.commit_button.click()


# --- the lesson cell's API -----------------------------------------------------------------


def test_the_lesson_cell_shows_a_prediction_widget_and_returns_it(displayed):
    guess = quiz.checkpoint(
        "blocking-response",
        "How long will one blocking send take with a 0.5 s mail server delay?",
        unit="ms",
        kind="numeric",
    )
    assert displayed == [guess]
    assert isinstance(guess, Checkpoint) and isinstance(guess.input.box, widgets.Text)
    assert guess.commit_button.description == "Commit"
    assert "How long will one blocking send take" in guess.prompt.value and guess.input.unit == "ms"
    assert "fmq-checkpoint" in guess._dom_classes
    assert repr(guess) == "Checkpoint('blocking-response', numeric, 'ms')"  # the text/plain nbval compares


def test_a_prediction_typed_and_committed_is_locked_in(displayed):
    guess = quiz.checkpoint("blocking-response")
    type_and_commit(guess, "450 ms")
    assert guess.prediction == 450.0 and guess.committed
    assert guess.input.box.disabled and guess.commit_button.disabled
    assert render.html_to_text(guess.status.value).startswith("Your prediction: 450 ms. Committed.")
    guess.input.box.value = "9"  # a disabled box cannot change what was committed
    guess.commit_button.click()
    assert guess.prediction == 450.0


def test_commit_with_nothing_or_not_a_number_commits_nothing_and_says_why(displayed):
    guess = quiz.checkpoint("blocking-response")
    guess.commit_button.click()
    assert not guess.committed and render.html_to_text(guess.status.value) == "Type a number first, then press Commit."
    type_and_commit(guess, "half a second")
    assert not guess.committed
    assert render.html_to_text(guess.status.value).startswith("'half a second' is not a number")
    assert guess.commit("480") == 480.0  # the same path as typing and clicking


def test_reveal_compares_in_both_widgets_and_displays_only_stable_text(displayed):
    guess = quiz.checkpoint("blocking-response")
    guess.commit(300)
    guess.reveal(502.3)
    reveal = displayed[-1]
    assert isinstance(reveal, Reveal)
    assert repr(reveal) == (
        "Checkpoint blocking-response: prediction committed; prediction and measurement are compared in the widget."
    )
    assert "502.3" not in repr(reveal)  # the measurement changes run to run: only in the HTML
    assert reveal.value.endswith(guess.result.value) and "fmq-gap" in reveal.value
    assert guess.feedback.startswith(
        "Lower than measured. You predicted 300 ms; the measurement is 502.3 ms: 40% lower."
    )
    assert guess.measured == 502.3 and guess.outcome.correct is False
    assert guess.input.box.disabled and guess.commit_button.disabled


def test_the_nbval_path_an_unanswered_checkpoint_prints_the_same_whatever_was_measured(displayed):
    texts = []
    for measured in (502.3, 517.8):
        guess = quiz.checkpoint("blocking-response")
        guess.reveal(measured)
        texts.append(repr(displayed[-1]))
        assert f"{measured}" in guess.result.value  # the number is in the widget's HTML...
        assert guess.feedback.startswith("No prediction committed. Measured: ")
        assert "Revealed below" in guess.status.value
    assert (
        texts[0]
        == texts[1]
        == (
            "Checkpoint blocking-response: no prediction committed; prediction and measurement are compared in the widget."
        )
    )


def test_after_reveal_commit_does_nothing(displayed):
    guess = quiz.checkpoint("blocking-response")
    guess.reveal(500)
    assert guess.commit(450) is None and guess.input.box.value == ""


def test_a_choice_checkpoint_is_answered_with_its_radio_buttons(displayed):
    choices = ["ping", ("blocking", "Blocking send")]
    guess = quiz.checkpoint("fastest", "Which answers first?", kind="single", choices=choices)
    assert isinstance(guess.input.widget, widgets.RadioButtons)
    assert guess.input.widget.options == (("ping", "ping"), ("Blocking send", "blocking"))
    guess.input.widget.value = "blocking"  # a click on the radio button
    guess.commit_button.click()
    guess.reveal("ping")
    assert guess.outcome.verdict.value == "different"
    assert guess.feedback.startswith("Not what was measured. You predicted: Blocking send. Measured: ping.")


def test_a_multiple_choice_checkpoint_is_answered_with_checkboxes(displayed):
    guess = quiz.checkpoint("crash-loses-mail")
    boxes = {key: box for key, box in zip(guess.input.keys, guess.input.boxes, strict=True)}
    assert all(isinstance(box, widgets.Checkbox) for box in boxes.values())
    boxes["threaded"].value = True
    boxes["pool"].value = True
    guess.commit_button.click()
    assert guess.prediction == ("threaded", "pool")
    guess.reveal(["pool", "threaded"])
    assert guess.outcome.correct is True and guess.feedback.startswith("As predicted!")


def test_nothing_ticked_is_the_prediction_none_of_them(displayed):
    guess = quiz.checkpoint("crash-loses-mail")
    guess.commit_button.click()
    assert guess.committed and guess.prediction == ()
    guess.reveal(["threaded", "pool"])
    assert "You predicted: none of them." in guess.feedback


def test_checkpoint_state_lives_in_widget_traits_not_outputs(displayed):
    guess = quiz.checkpoint("blocking-response")
    guess.commit(400)
    guess.reveal(500)
    assert all(isinstance(w, widgets.HTML) for w in (guess.prompt, guess.status, guess.result, guess.record_note))
    assert not any(isinstance(child, widgets.Output) for child in guess.children)


# --- definitions: bank or cell -------------------------------------------------------------


def test_the_bank_defines_a_checkpoint_so_the_cell_may_give_only_its_id():
    spec = checkpoint_spec("blocking-response")
    assert (spec.kind, spec.unit, spec.feedback is not None) == ("numeric", "ms", True)
    assert (
        checkpoint_spec(
            "blocking-response",
            "How long will one blocking send take with a 0.5 s mail server delay?",
            kind="numeric",
            unit="ms",
        )
        == spec
    )


@pytest.mark.parametrize(
    ("arguments", "piece"),
    [
        ({"unit": "s"}, "field 'unit' is 'ms' in the bank but 's' in the cell"),
        ({"kind": "single"}, "field 'kind' is 'numeric' in the bank but 'single' in the cell"),
        ({"prompt": "How long?"}, "field 'prompt'"),
        ({"tolerance": "50%"}, "field 'tolerance'"),
    ],
)
def test_a_cell_that_disagrees_with_the_bank_is_an_error_naming_the_file_checkpoint_and_field(arguments, piece):
    with pytest.raises(BankError) as raised:
        checkpoint_spec("blocking-response", **arguments)
    assert str(raised.value).startswith("bank.yaml: checkpoint 'blocking-response': ")
    assert piece in str(raised.value)


def test_a_checkpoint_the_bank_lacks_is_defined_by_the_cell_and_checked_like_the_bank():
    spec = checkpoint_spec("sends-per-second", "How many sends per second?", unit="sends/s")
    assert (spec.kind, spec.tolerance.describe(None), spec.feedback) == ("numeric", "25%", None)
    with pytest.raises(BankError, match=r"^quiz.checkpoint\('x'\) \('x'\): field 'prompt' is missing"):
        checkpoint_spec("x", kind="numeric")
    with pytest.raises(BankError, match=r"field 'kind' 'essay' must be one of"):
        checkpoint_spec("x", "Why?", kind="essay")
    with pytest.raises(BankError, match=r"option 2.*field 'key'.*earlier option"):
        checkpoint_spec("x", "Which?", kind="single", choices=["a", "a"])


# --- every kind in the quiz widget, through Check ------------------------------------------


def test_a_quiz_of_every_kind_is_answered_through_its_widgets():
    shown = quiz.Quiz(KINDS)
    many, number = shown.card("many"), shown.card("number")
    assert isinstance(many.input.widget, widgets.VBox) and len(many.input.boxes) == 3
    assert isinstance(number.input.box, widgets.Text)

    many.input.boxes[1].value = True  # threaded, by a click
    many.check_button.click()
    assert "fmq-incorrect" in many.feedback.value
    assert shown.feedback("many").endswith(
        "One right answer is not chosen yet.\nChange your choice and press Check again."
    )
    many.input.boxes[2].value = True  # queue too: the old feedback clears...
    assert many.feedback.value == ""
    many.check_button.click()  # ...and the new answer is right
    assert many.result.correct and shown.responses["many"] == ("threaded", "queue")

    number.input.box.value = "lots"
    number.check_button.click()
    assert shown.feedback("number").startswith("Type a number first. 'lots' is not a number")
    number.input.box.value = "250"
    number.check_button.click()
    assert shown.feedback("number").startswith("Not yet. 250 ms is too low.")
    assert shown.answer("number", 305).correct
    assert shown.answer("one", "a").correct and shown.score_text.startswith("Score: 3 / 3")
    shown.reset()
    assert number.input.box.value == "" and not any(box.value for box in many.input.boxes)


def test_the_terminal_plays_every_kind():
    typed = ["A", "B", "B C", "abc", "250", "300 ms"]
    out = io.StringIO()
    cli.play(cli.Grader(KINDS), cli.Terminal(io.StringIO("".join(line + "\n" for line in typed)), out))
    text = " ".join(out.getvalue().split())
    assert "Your answers (A-C, e.g. A C): B" in text and "One right answer is not chosen yet." in text
    assert "Your answer (ms): abc 'abc' is not a number; type digits, like 350 or 0.5; type a number of ms" in text
    assert "250 ms is too low." in text and text.endswith("Score: 3 / 3")
