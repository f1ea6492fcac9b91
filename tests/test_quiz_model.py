"""The grading model, without widgets: answers in, results, feedback, score and JSON out."""

import json

import pytest

from quiz import render
from quiz.bank import load_bank
from quiz.grading import Grader, Status, grade, grade_all, option_order

BANK = load_bank()
RIGHT = {q.id: q.answer for q in BANK.questions}


def wrong(question_id):
    """The key of some wrong option of a question."""
    question = BANK.question(question_id)
    return next(o.key for o in question.options if o.key != question.answer)


# --- grade one answer ----------------------------------------------------------------------


def test_the_right_option_is_correct_and_reveals_the_explanation():
    question = BANK.question("blocking")
    result = grade(question, question.answer)
    assert result.status is Status.CORRECT and result.correct and result.graded
    assert result.headline == "Correct!"
    assert result.feedback == question.option(question.answer).feedback
    assert result.explanation == question.explanation


def test_a_wrong_option_is_not_yet_right_says_why_and_keeps_the_explanation_back():
    question = BANK.question("blocking")
    result = grade(question, "mail-later")
    assert result.status is Status.INCORRECT and not result.correct and result.graded
    assert result.headline == "Not yet."
    assert result.feedback == question.option("mail-later").feedback
    assert result.explanation == ""  # it would give the answer away


def test_nothing_chosen_is_unanswered_not_wrong():
    result = grade(BANK.question("verify"), None)
    assert result.status is Status.UNANSWERED
    assert not result.graded and not result.correct
    assert result.headline == "Choose an answer first."
    assert result.feedback == "" and result.explanation == ""


def test_an_option_that_does_not_exist_is_an_error_naming_the_valid_ones():
    with pytest.raises(ValueError, match="has no option 'e'; choose one of: mail-later, blocks-response"):
        grade(BANK.question("blocking"), "e")


# --- grade a whole set ---------------------------------------------------------------------


def test_grade_all_scores_every_question():
    report = grade_all(BANK, {"blocking": RIGHT["blocking"], "threaded": wrong("threaded")})
    assert [r.status for r in report.results] == [Status.CORRECT, Status.INCORRECT, Status.UNANSWERED]
    assert (report.score, report.total) == (1, 3)
    assert grade_all(BANK, RIGHT).score == 3
    assert grade_all(BANK, {}).score == 0


def test_grade_all_refuses_answers_to_questions_that_do_not_exist():
    with pytest.raises(ValueError, match="no such question: bogus"):
        grade_all(BANK, {"bogus": "a"})


# --- one learner's attempt -----------------------------------------------------------------


def test_a_fresh_attempt_has_nothing_checked():
    grader = Grader(BANK)
    assert grader.responses == {"blocking": None, "threaded": None, "verify": None}
    assert (grader.score, grader.total, grader.answered, grader.complete) == (0, 3, 0, False)
    assert grader.results == {}
    assert grader.attempts == {"blocking": 0, "threaded": 0, "verify": 0}


def test_checking_records_results_and_the_score_is_final_once_all_are_checked():
    grader = Grader(BANK)
    grader.check("blocking", RIGHT["blocking"])
    grader.check(2, wrong("threaded"))
    assert (grader.score, grader.answered, grader.complete) == (1, 2, False)
    grader.check("verify", RIGHT["verify"])
    assert (grader.score, grader.complete) == (2, True)
    assert grader.responses == {"blocking": RIGHT["blocking"], "threaded": wrong("threaded"), "verify": RIGHT["verify"]}
    assert list(grader.results) == ["blocking", "threaded", "verify"]
    assert grader.result("threaded").status is Status.INCORRECT


def test_checking_again_replaces_the_result_and_counts_attempts():
    grader = Grader(BANK)
    grader.check("threaded", wrong("threaded"))
    grader.check("threaded", RIGHT["threaded"])
    assert grader.result("threaded").correct
    assert grader.attempts["threaded"] == 2
    assert grader.score == 1


def test_an_unanswered_check_is_no_attempt_and_leaves_the_question_unchecked():
    grader = Grader(BANK)
    grader.check("verify", wrong("verify"))
    result = grader.check("verify", None)
    assert result.status is Status.UNANSWERED
    assert grader.result("verify") is None  # nothing is chosen now, so nothing stands
    assert grader.attempts["verify"] == 1
    assert grader.answered == 0


def test_clear_forgets_one_result_and_reset_forgets_everything():
    grader = Grader(BANK)
    for question_id, key in RIGHT.items():
        grader.check(question_id, key)
    grader.clear("blocking")
    assert (grader.score, grader.complete) == (2, False)
    assert grader.attempts["blocking"] == 1  # the attempt happened
    grader.reset()
    assert grader.responses == {"blocking": None, "threaded": None, "verify": None}
    assert grader.attempts == {"blocking": 0, "threaded": 0, "verify": 0}


def test_unknown_questions_are_errors():
    grader = Grader(BANK)
    with pytest.raises(ValueError, match="there is no question 4"):
        grader.check(4, "a")
    with pytest.raises(ValueError, match="there is no question 'nope'"):
        grader.result("nope")


# --- shuffling -----------------------------------------------------------------------------


def test_without_shuffle_the_options_keep_the_bank_order():
    grader = Grader(BANK)
    assert grader.seed is None
    for question in BANK.questions:
        assert grader.options(question.id) == question.options


def test_a_seed_shuffles_reproducibly_and_keeps_every_option():
    first, again = Grader(BANK, seed=7), Grader(BANK, seed=7)
    assert first.seed == 7
    for question in BANK.questions:
        assert first.options(question.id) == again.options(question.id)
        assert sorted(first.options(question.id), key=lambda o: o.key) == sorted(question.options, key=lambda o: o.key)


def test_different_seeds_give_different_orders():
    orders = {tuple(o.key for q in BANK.questions for o in Grader(BANK, seed=seed).options(q.id)) for seed in range(10)}
    assert len(orders) > 1
    assert any(order != tuple(o.key for q in BANK.questions for o in q.options) for order in orders)


def test_the_order_of_one_question_depends_only_on_the_seed_and_its_id():
    question = BANK.question("verify")
    assert option_order(question, 3) == Grader(BANK, seed=3).options("verify")
    assert option_order(question, None) == question.options


def test_shuffle_without_a_seed_picks_one_that_reproduces_the_order():
    grader = Grader(BANK, shuffle=True)
    assert isinstance(grader.seed, int)
    replay = Grader(BANK, seed=grader.seed)
    assert all(grader.options(q.id) == replay.options(q.id) for q in BANK.questions)


def test_shuffling_does_not_change_grading():
    grader = Grader(BANK, seed=11)
    for question_id, key in RIGHT.items():
        assert grader.check(question_id, key).correct


@pytest.mark.parametrize("seed", ["7", 1.5, True])
def test_a_seed_must_be_a_whole_number(seed):
    with pytest.raises(TypeError, match="seed must be a whole number"):
        Grader(BANK, seed=seed)


# --- export and text -----------------------------------------------------------------------


def test_the_json_export_records_choices_statuses_attempts_and_score(tmp_path):
    grader = Grader(BANK, seed=5)
    grader.check("blocking", RIGHT["blocking"])
    grader.check("threaded", wrong("threaded"))
    record = json.loads(grader.to_json())
    assert record == {
        "format": 1,
        "quiz": "Flask-Mail performance quiz",
        "score": 1,
        "total": 3,
        "complete": False,
        "seed": 5,
        "questions": [
            {"id": "blocking", "choice": RIGHT["blocking"], "status": "correct", "attempts": 1},
            {"id": "threaded", "choice": wrong("threaded"), "status": "incorrect", "attempts": 1},
            {"id": "verify", "choice": None, "status": "unanswered", "attempts": 0},
        ],
    }
    path = grader.save(tmp_path / "answers.json")
    assert json.loads(path.read_text(encoding="utf-8")) == record


def test_feedback_lines_add_the_hint_only_when_not_correct():
    question = BANK.question("threaded")
    right = render.feedback_lines(grade(question, question.answer), hint="Try again.")
    assert right == [f"Correct! {question.option(question.answer).feedback}", question.explanation]
    not_yet = render.feedback_lines(grade(question, wrong("threaded")), hint="Try again.")
    assert not_yet == [f"Not yet. {question.option(wrong('threaded')).feedback}", "Try again."]
    assert render.feedback_lines(grade(question, None), hint="Pick one.") == ["Choose an answer first.", "Pick one."]


@pytest.mark.parametrize("choice", [None, "faster-send", "returns-at-once"])
def test_the_feedback_html_reads_as_the_same_text_the_terminal_prints(choice):
    result = grade(BANK.question("threaded"), choice)
    html = render.feedback_html(result, hint="Next step.")
    assert f"fmq-{result.status.value}" in html and 'role="status"' in html
    assert render.html_to_text(html) == "\n".join(render.feedback_lines(result, hint="Next step."))


def test_bank_text_is_escaped_in_html():
    question = BANK.question("blocking")
    unsafe = type(question)("x", "Is <b> & <script> safe?", question.options, question.answer, "<i>why</i>", "a < b")
    html = render.question_html(1, 1, unsafe)
    assert "<script>" not in html and "&lt;script&gt;" in html and "a &lt; b" in html
    assert render.html_to_text(html) == "Question 1 of 1\nIs <b> & <script> safe?\na < b"


def test_the_score_line_waits_for_every_question():
    grader = Grader(BANK)
    grader.check("blocking", RIGHT["blocking"])
    assert render.score_line(grader) == "Checked 1 of 3 questions; your score appears when all 3 are checked."
    grader.check("threaded", RIGHT["threaded"])
    grader.check("verify", wrong("verify"))
    assert render.score_line(grader) == "Score: 2 / 3"


def test_html_to_text_skips_style_and_keeps_paragraphs():
    assert (
        render.html_to_text("<style>p { x: y }</style><p>One  two</p><div>three<br>four</div>")
        == "One two\nthree\nfour"
    )
