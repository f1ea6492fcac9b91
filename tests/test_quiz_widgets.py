"""The widget view, driven in Python: set the radio value, click Check, read the widgets."""

import json

import ipywidgets as widgets
import pytest

import quiz
from quiz import view
from quiz.bank import load_bank
from quiz.kinds import kind_of

BANK = load_bank()
RIGHT = {q.id: q.answer for q in BANK.questions}


def wrong(question_id):
    """The key of some wrong option of a question."""
    question = BANK.question(question_id)
    return next(o.key for o in question.options if o.key != question.answer)


@pytest.fixture
def fresh():
    """A quiz built for the test, and no 'current' quiz left over from another test."""
    view._current = None
    built = quiz.Quiz()
    yield built
    view._current = None


def click(card, choice):
    """What a learner does: choose an option (the radio's value), then click Check."""
    card.choices.value = choice
    card.check_button.click()


def test_there_is_one_card_per_question_with_radio_buttons_and_nothing_chosen(fresh):
    assert [card.question.id for card in fresh.cards] == ["blocking", "threaded", "verify"]
    for card, question in zip(fresh.cards, BANK.questions, strict=True):
        assert isinstance(card.choices, widgets.RadioButtons)
        assert card.choices.options == tuple((o.text, o.key) for o in question.options)
        assert card.choices.value is None
        assert card.check_button.description == "Check"
        assert card.feedback.value == ""
        assert f"Question {card.number} of 3" in card.prompt.value
    assert "fmq-quiz" in fresh._dom_classes
    assert fresh.children[-1] is fresh.retry_button and fresh.retry_button.description == "Try again"
    assert "<pre" in fresh.card("threaded").prompt.value  # the code snippet


def test_clicking_check_with_nothing_chosen_asks_for_an_answer(fresh):
    card = fresh.card("blocking")
    card.check_button.click()
    assert "fmq-unanswered" in card.feedback.value
    assert fresh.feedback("blocking") == "Choose an answer first.\nPick one of the options above, then press Check."
    assert fresh.responses["blocking"] is None and fresh.score == 0
    assert fresh.score_text.startswith("Checked 0 of 3")


def test_the_right_answer_shows_correct_with_the_explanation(fresh):
    click(fresh.card("verify"), RIGHT["verify"])
    question = BANK.question("verify")
    assert "fmq-correct" in fresh.card("verify").feedback.value
    text = fresh.feedback("verify")
    assert text.startswith("Correct! " + question.option(question.answer).feedback)
    assert question.explanation in text


def test_a_wrong_answer_says_not_yet_and_why(fresh):
    click(fresh.card("threaded"), "faster-send")
    assert "fmq-incorrect" in fresh.card("threaded").feedback.value
    assert fresh.feedback("threaded") == (
        "Not yet. "
        + BANK.question("threaded").option("faster-send").feedback
        + "\n"
        + kind_of(BANK.question("threaded")).retry_hint
    )
    assert fresh.responses["threaded"] == "faster-send"


def test_the_score_line_shows_n_of_3_once_all_are_checked(fresh):
    click(fresh.card("blocking"), RIGHT["blocking"])
    click(fresh.card("threaded"), wrong("threaded"))
    assert "/ 3" not in fresh.score_text
    click(fresh.card("verify"), RIGHT["verify"])
    assert fresh.score_text == "Score: 2 / 3\n" + view.DONE_HINTS[False]
    click(fresh.card("threaded"), RIGHT["threaded"])
    assert fresh.score_text == "Score: 3 / 3\nAll correct. Well done!"
    assert fresh.score == 3 and fresh.complete


def test_choosing_another_option_clears_the_old_feedback_and_the_score(fresh):
    for question_id, key in RIGHT.items():
        click(fresh.card(question_id), key)
    fresh.card("blocking").choices.value = wrong("blocking")
    assert fresh.card("blocking").feedback.value == ""
    assert fresh.score_text.startswith("Checked 2 of 3")
    assert fresh.responses["blocking"] is None


def test_try_again_clears_choices_feedback_and_score(fresh):
    for question_id, key in RIGHT.items():
        click(fresh.card(question_id), key)
    fresh.retry_button.click()
    for card in fresh.cards:
        assert card.choices.value is None and card.feedback.value == ""
    assert fresh.score == 0 and fresh.score_text.startswith("Checked 0 of 3")
    assert fresh.grader.attempts == {"blocking": 0, "threaded": 0, "verify": 0}


def test_answer_presses_the_same_check_button_a_click_does(fresh):
    card = fresh.card("blocking")
    presses = []
    card.check_button.on_click(presses.append)  # a second listener on the real button
    result = fresh.answer("blocking", RIGHT["blocking"])
    assert presses == [card.check_button]
    assert card.choices.value == RIGHT["blocking"]
    assert result.correct and result is card.result
    assert fresh.check("blocking") is card.result and len(presses) == 2


def test_the_api_takes_question_numbers_and_refuses_unknown_options(fresh):
    assert fresh.answer(3, RIGHT["verify"]).correct
    with pytest.raises(ValueError, match="choose one of"):
        fresh.answer("verify", "telepathy")
    assert fresh.responses["verify"] == RIGHT["verify"]  # the refused call changed nothing
    assert fresh.answer("verify", None).headline == "Choose an answer first."


def test_reset_presses_try_again(fresh):
    fresh.answer("blocking", RIGHT["blocking"])
    fresh.reset()
    assert fresh.responses["blocking"] is None and fresh.feedback("blocking") == ""


def test_report_is_the_text_of_every_feedback_box_and_the_score(fresh):
    fresh.answer("blocking", RIGHT["blocking"])
    report = fresh.report()
    assert report.splitlines()[0] == "Question 1 (blocking):"
    assert "  (not checked)" in report
    assert report.endswith("your score appears when all 3 are checked.")


def test_export_writes_the_json_record(fresh, tmp_path):
    fresh.answer("blocking", RIGHT["blocking"])
    text = fresh.export(tmp_path / "me.json")
    assert json.loads(text) == json.loads((tmp_path / "me.json").read_text(encoding="utf-8"))
    assert json.loads(text)["questions"][0] == {
        "id": "blocking",
        "choice": RIGHT["blocking"],
        "status": "correct",
        "attempts": 1,
    }


def test_a_seed_shuffles_the_radio_buttons_like_the_model(fresh):
    shuffled = quiz.Quiz(seed=4)
    assert shuffled.seed == 4
    for card in shuffled.cards:
        assert [key for _label, key in card.choices.options] == [
            o.key for o in shuffled.grader.options(card.question.id)
        ]
    assert any(a.choices.options != b.choices.options for a, b in zip(shuffled.cards, fresh.cards, strict=True))
    assert shuffled.answer("blocking", RIGHT["blocking"]).correct


def test_the_repr_nbval_compares_is_short_and_stable(fresh):
    assert repr(fresh) == "Quiz('Flask-Mail performance quiz', 3 questions)"
    assert repr(quiz.Quiz(seed=9)) == "Quiz('Flask-Mail performance quiz', 3 questions, seed=9)"
    bundle = fresh._repr_mimebundle_()
    assert bundle["text/plain"] == repr(fresh)
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_module_level_responses_and_score_read_the_quiz_on_screen(fresh, capsys):
    with pytest.raises(AttributeError, match="run quiz.show"):
        quiz.score  # noqa: B018 - nothing displayed yet
    assert not hasattr(quiz, "responses")
    quiz.show()
    assert capsys.readouterr().out.strip() == "Quiz('Flask-Mail performance quiz', 3 questions)"
    shown = quiz.current()
    assert shown is not fresh  # built, never displayed: not the one on screen
    quiz.answer("blocking", RIGHT["blocking"])
    quiz.check("threaded")
    assert quiz.responses == {"blocking": RIGHT["blocking"], "threaded": None, "verify": None}
    assert quiz.score == 1 and quiz.total == 3 and not quiz.complete
    assert "Question 1 (blocking):" in quiz.report()
    assert json.loads(quiz.export())["score"] == 1
    quiz.reset()
    assert quiz.score == 0


def test_displaying_a_quiz_makes_it_the_current_one(fresh):
    fresh._repr_mimebundle_()  # what IPython does when a cell ends with the quiz
    assert quiz.current() is fresh


def test_the_state_lives_in_widget_traits_not_in_outputs(fresh):
    fresh.answer("blocking", RIGHT["blocking"])
    state_widgets = [fresh.header, fresh.score_box, *(c.feedback for c in fresh.cards)]
    assert all(isinstance(w, widgets.HTML) for w in state_widgets)
    assert not any(isinstance(w, widgets.Output) for w in _all_children(fresh))


def _all_children(widget):
    for child in getattr(widget, "children", ()):
        yield child
        yield from _all_children(child)


def test_star_import_works_before_any_quiz_is_shown(fresh):
    namespace = {}
    exec("from quiz import *", namespace)  # noqa: S102 - the import a learner may type
    assert namespace["show"] is quiz.show and namespace["Quiz"] is quiz.Quiz


def test_no_submodule_hides_a_public_name():
    # Importing quiz.x binds x in the package: a module named like a function or a value would hide it.
    import pkgutil

    modules = {module.name for module in pkgutil.iter_modules(quiz.__path__)}
    assert modules.isdisjoint(set(quiz.__all__) | quiz._CURRENT_NAMES)
