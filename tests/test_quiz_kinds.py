"""The three kinds (single, multiple, numeric) and checkpoints: schema, grading and prediction against measurement."""

import pytest
from helpers import broken_copy, option, question, refused_with

from quiz.bank import BankError, Tolerance, check_bank, check_checkpoint, format_number, format_percent, load_bank
from quiz.grading import Grader, Status, grade, parse_number
from quiz.prediction import Verdict, resolve

SOURCE = "kinds.yaml"


def kinds_bank():
    """One question of each kind and one checkpoint of each kind, valid."""
    patterns = [
        option("blocking", "blocking", "It waits for the mail server."),
        option("threaded", "threaded", "It answers at once."),
        option("queue", "queue", "It answers once the mail is queued."),
    ]
    numeric = {"unit": "ms", "tolerance": "10%", "feedback": {
        "low": "It waits the whole delay.", "close": "Yes, the delay.", "high": "Little more than the delay.",
    }}  # fmt: skip
    guess_ms = {"id": "guess-ms", "kind": "numeric", "prompt": "How long?", "unit": "ms", "explanation": "Because of the delay.",
                "feedback": {"low": "Too optimistic.", "close": "Right on.", "high": "Too pessimistic."}}  # fmt: skip
    fastest = [option("ping", "/ping", "It does nothing."), option("blocking", "blocking", "It waits for SMTP.")]
    losers = [option("threaded", "threaded", "Memory only."), option("queue", "queue", "Stored outside.")]
    return {
        "title": "Kinds",
        "questions": [
            question("one", "Pick one.", [option("a", "A", "A is right."), option("b", "B", "B is wrong.")], "a",
                     "Because A."),
            question("many", "Which patterns answer before the mail is sent?", patterns, ["queue", "threaded"],
                     "Only blocking waits.", kind="multiple"),
            {key: value for key, value in question(
                "number", "How many ms does a blocking send take at a 0.3 s delay?", [], 300,
                "The delay, plus a few ms.", kind="numeric", **numeric,
            ).items() if key != "options"},
        ],
        "checkpoints": [
            guess_ms,
            {"id": "guess-one", "kind": "single", "prompt": "Which is fastest?", "options": fastest},
            {"id": "guess-many", "kind": "multiple", "prompt": "Which lose mail?", "options": losers},
        ],
    }  # fmt: skip


BANK = check_bank(kinds_bank(), SOURCE)


def broken(change):
    """A copy of the kinds bank after change(data) broke something."""
    return broken_copy(kinds_bank(), change)


def q(data, number):
    return data["questions"][number - 1]


def cp(data, number):
    return data["checkpoints"][number - 1]


# --- schema --------------------------------------------------------------------------------


def test_the_kinds_bank_loads_with_its_answers_typed():
    assert BANK.question("one").kind == "single" and BANK.question("one").answer == "a"
    assert BANK.question("many").answer == ("threaded", "queue")  # option order, not the order written
    number = BANK.question("number")
    assert (number.answer, number.unit, number.tolerance) == (300.0, "ms", Tolerance(0.1, relative=True))
    assert number.options == ()
    assert [spec.id for spec in BANK.checkpoints] == ["guess-ms", "guess-one", "guess-many"]
    assert BANK.checkpoint("guess-ms").answer is None
    assert BANK.checkpoint("guess-ms").tolerance == Tolerance(0.25, relative=True)  # the default
    assert BANK.checkpoint("nope") is None


MALFORMED = [
    (
        "unknown kind",
        lambda d: q(d, 1).update(kind="essay"),
        ["question 1 ('one')", "field 'kind'", "single, multiple, numeric"],
    ),
    (
        "multiple answer not a list",
        lambda d: q(d, 2).update(answer="queue"),
        ["question 2 ('many')", "field 'answer'", "list of option keys"],
    ),
    (
        "multiple answer empty",
        lambda d: q(d, 2).update(answer=[]),
        ["('many')", "field 'answer'", "non-empty list"],
    ),
    (
        "multiple answer unknown key",
        lambda d: q(d, 2).update(answer=["pool"]),
        ["('many')", "field 'answer'", "'pool'", "blocking, threaded, queue"],
    ),
    (
        "multiple answer twice",
        lambda d: q(d, 2).update(answer=["queue", "queue"]),
        ["('many')", "field 'answer'", "twice"],
    ),
    (
        "numeric with options",
        lambda d: q(d, 3).update(options=[]),
        ["question 3 ('number')", "field 'options' is not allowed in a numeric question"],
    ),
    (
        "numeric answer text",
        lambda d: q(d, 3).update(answer="300"),
        ["('number')", "field 'answer' must be a number, not text"],
    ),
    (
        "numeric without tolerance",
        lambda d: q(d, 3).pop("tolerance"),
        ["('number')", "field 'tolerance' is missing"],
    ),
    (
        "negative tolerance",
        lambda d: q(d, 3).update(tolerance=-1),
        ["('number')", "field 'tolerance'", "-1"],
    ),
    (
        "zero percent",
        lambda d: q(d, 3).update(tolerance="0%"),
        ["('number')", "field 'tolerance'", "above 0"],
    ),
    (
        "tolerance words",
        lambda d: q(d, 3).update(tolerance="ten percent"),
        ["('number')", "field 'tolerance'"],
    ),
    (
        "numeric without feedback",
        lambda d: q(d, 3).pop("feedback"),
        ["('number')", "field 'feedback' is missing"],
    ),
    (
        "numeric feedback not a mapping",
        lambda d: q(d, 3).update(feedback="hm"),
        ["('number')", "field 'feedback' must be a mapping"],
    ),
    (
        "numeric feedback without high",
        lambda d: q(d, 3)["feedback"].pop("high"),
        ["('number'): feedback", "field 'high' is missing"],
    ),
    (
        "numeric feedback typo",
        lambda d: q(d, 3)["feedback"].update(hihg="x"),
        ["('number'): feedback", "field 'hihg' is not allowed"],
    ),
    (
        "unit on a single question",
        lambda d: q(d, 1).update(unit="ms"),
        ["('one')", "field 'unit' is not allowed in a single question"],
    ),
    (
        "checkpoints not a list",
        lambda d: d.update(checkpoints={"a": 1}),
        ["field 'checkpoints' must be a list"],
    ),
    (
        "checkpoint without kind",
        lambda d: cp(d, 1).pop("kind"),
        ["checkpoint 1 ('guess-ms')", "field 'kind' is missing"],
    ),
    (
        "checkpoint with an answer",
        lambda d: cp(d, 1).update(answer=3),
        ["checkpoint 1 ('guess-ms')", "field 'answer' is not allowed in a checkpoint"],
    ),
    (
        "checkpoint without prompt",
        lambda d: cp(d, 2).pop("prompt"),
        ["checkpoint 2 ('guess-one')", "field 'prompt' is missing"],
    ),
    (
        "numeric checkpoint without feedback",
        lambda d: cp(d, 1).pop("feedback"),
        ["checkpoint 1 ('guess-ms')", "field 'feedback' is missing"],
    ),
    (
        "choice checkpoint option without feedback",
        lambda d: cp(d, 3)["options"][1].pop("feedback"),
        ["checkpoint 3 ('guess-many'): option 2", "field 'feedback' is missing"],
    ),
    (
        "duplicate checkpoint id",
        lambda d: cp(d, 2).update(id="guess-ms"),
        ["checkpoint 2 ('guess-ms')", "field 'id'", "earlier checkpoint"],
    ),
    (
        "checkpoint id with capitals",
        lambda d: cp(d, 2).update(id="Guess"),
        ["checkpoint 2 ('Guess')", "field 'id'", "lowercase"],
    ),
]


@pytest.mark.parametrize(("case", "change", "pieces"), MALFORMED, ids=[case for case, _, _ in MALFORMED])
def test_a_malformed_kind_or_checkpoint_names_the_file_the_item_and_the_field(case, change, pieces):
    refused_with(check_bank, broken(change), SOURCE, pieces, case)


def test_an_absolute_tolerance_is_a_number_of_units():
    bank = check_bank(broken(lambda d: q(d, 3).update(tolerance=20)), SOURCE)
    assert bank.question("number").tolerance == Tolerance(20.0, relative=False)
    assert grade(bank.question("number"), 320).correct and not grade(bank.question("number"), 321).correct


def test_a_checkpoint_from_a_cell_may_leave_out_the_feedback():
    spec = check_checkpoint(
        {"id": "x", "kind": "numeric", "prompt": "How many?", "tolerance": "25%"}, "cell", require_feedback=False
    )
    assert spec.feedback is None
    with pytest.raises(BankError, match="cell \\('x'\\): field 'feedback' is missing"):
        check_checkpoint({"id": "x", "kind": "numeric", "prompt": "How many?"}, "cell")


# --- grading: single -----------------------------------------------------------------------


def test_single_is_graded_by_option_key():
    right, wrong = grade(BANK.question("one"), "a"), grade(BANK.question("one"), "b")
    assert (right.status, right.answer, right.feedback) == (Status.CORRECT, "a", "A is right.")
    assert (wrong.status, wrong.answer, wrong.explanation) == (Status.INCORRECT, "b", "")


# --- grading: multiple ---------------------------------------------------------------------


def test_multiple_is_right_only_with_exactly_the_right_options():
    question = BANK.question("many")
    result = grade(question, ["queue", "threaded"])
    assert result.correct and result.answer == ("threaded", "queue") and result.explanation == "Only blocking waits."
    assert not grade(question, ["threaded"]).correct
    assert not grade(question, ["threaded", "queue", "blocking"]).correct


def test_multiple_gives_feedback_for_every_chosen_option_and_counts_the_missing_ones():
    question = BANK.question("many")
    result = grade(question, {"blocking", "threaded"})
    assert result.status is Status.INCORRECT
    assert result.notes == (
        "\u201cblocking\u201d It waits for the mail server.",
        "\u201cthreaded\u201d It answers at once.",
        "One right answer is not chosen yet.",  # how many, not which
    )
    assert grade(question, ["blocking"]).notes[-1] == "2 right answers are not chosen yet."
    assert "not chosen" not in " ".join(grade(question, ["queue", "threaded"]).notes)


def test_multiple_with_nothing_ticked_is_unanswered_and_unknown_keys_are_errors():
    question = BANK.question("many")
    empty = grade(question, [])
    assert empty.status is Status.UNANSWERED and empty.headline == "Choose at least one answer first."
    with pytest.raises(ValueError, match="has no option 'pool'; choose one of: blocking, threaded, queue"):
        grade(question, ["pool"])
    with pytest.raises(ValueError, match="takes a list of option keys"):
        grade(question, "queue")


# --- grading: numeric ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status", "direction", "first_note"),
    [
        (300, Status.CORRECT, "close", "Yes, the delay."),
        (270, Status.CORRECT, "close", "Yes, the delay."),  # 10% of 300 exactly
        (330.0, Status.CORRECT, "close", "Yes, the delay."),
        (269.9, Status.INCORRECT, "low", "269.9 ms is too low."),
        (1000, Status.INCORRECT, "high", "1,000 ms is too high."),
        ("  305 ms ", Status.CORRECT, "close", "Yes, the delay."),  # as typed, unit and all
    ],
)
def test_numeric_is_right_within_the_tolerance_and_says_low_or_high(value, status, direction, first_note):
    result = grade(BANK.question("number"), value)
    assert (result.status, result.direction, result.notes[0]) == (status, direction, first_note)
    if direction != "close":
        assert result.notes[1] == BANK.question("number").feedback[direction]
        assert result.explanation == ""


@pytest.mark.parametrize("value", ["abc", "1,5", "nan", "inf", True, [3]])
def test_numeric_refuses_what_is_not_a_number(value):
    with pytest.raises(ValueError, match="not a number"):
        grade(BANK.question("number"), value)


def test_numeric_with_nothing_typed_is_unanswered():
    assert grade(BANK.question("number"), None).headline == "Type a number first."
    assert parse_number("   ") is None
    assert parse_number("12.5 ms", "ms") == 12.5 and parse_number("1e3") == 1000.0


def test_the_grader_keeps_every_kind_and_exports_lists_for_multiple(tmp_path):
    grader = Grader(BANK)
    grader.check("one", "b")
    grader.check("many", ["threaded", "queue"])
    grader.check("number", 301)
    assert grader.responses == {"one": "b", "many": ("threaded", "queue"), "number": 301.0}
    assert grader.score == 2 and grader.complete
    assert [q["choice"] for q in grader.record()["questions"]] == ["b", ["threaded", "queue"], 301.0]


def test_numbers_and_percentages_read_as_people_write_them():
    assert [format_number(v) for v in (502.3, 269.94, 2.7, 0.35, 1250.4, 40.0)] == [
        "502.3",
        "269.9",
        "2.7",
        "0.35",
        "1,250",
        "40",
    ]
    assert [format_percent(v) for v in (-0.403, 1.5, 0.002, 0.0)] == ["40%", "150%", "under 1%", "0%"]


# --- checkpoints: prediction against measurement -------------------------------------------


def test_a_numeric_prediction_close_to_the_measurement_is_close():
    outcome = resolve(BANK.checkpoint("guess-ms"), 450, 502.3)
    assert outcome.verdict is Verdict.CLOSE and outcome.correct is True
    assert outcome.lines() == [
        "Close! You predicted 450 ms; the measurement is 502.3 ms, within 25%.",
        "Right on.",
        "Because of the delay.",
    ]


def test_a_low_prediction_says_by_how_much_and_why():
    outcome = resolve(BANK.checkpoint("guess-ms"), 300, 502.3)
    assert outcome.verdict is Verdict.LOW and outcome.correct is False
    assert outcome.relative_error == pytest.approx(-0.4027, abs=1e-4)
    assert outcome.lines()[:2] == [
        "Lower than measured. You predicted 300 ms; the measurement is 502.3 ms: 40% lower.",
        "Too optimistic.",
    ]


def test_a_far_too_high_prediction_is_told_in_times_not_percent():
    outcome = resolve(BANK.checkpoint("guess-ms"), 500, 3)
    assert outcome.verdict is Verdict.HIGH
    assert outcome.lines()[0] == (
        "Higher than measured. You predicted 500 ms; the measurement is 3 ms: 167 times the measurement."
    )
    assert outcome.lines()[1] == "Too pessimistic."


def test_no_prediction_still_shows_the_measurement():
    outcome = resolve(BANK.checkpoint("guess-ms"), None, 502.3)
    assert outcome.verdict is Verdict.NONE and outcome.correct is None
    assert outcome.lines() == ["No prediction committed. Measured: 502.3 ms.", "Because of the delay."]


def test_a_measurement_of_zero_compares_in_units():
    outcome = resolve(BANK.checkpoint("guess-ms"), 2, 0)
    assert outcome.relative_error is None
    assert outcome.lines()[0].endswith("the measurement is 0 ms: 2 ms higher.")


def test_a_single_choice_prediction_matches_or_explains_both_options():
    spec = BANK.checkpoint("guess-one")
    assert resolve(spec, "ping", "ping").lines() == [
        "As predicted! You predicted: /ping. Measured: /ping.",
        "/ping: It does nothing.",
    ]
    missed = resolve(spec, "blocking", "ping")
    assert missed.verdict is Verdict.DIFFERENT and missed.correct is False
    assert missed.lines()[1:] == ["/ping: It does nothing.", "blocking: It waits for SMTP."]


def test_a_multiple_choice_prediction_may_be_none_of_them_and_explains_the_difference():
    spec = BANK.checkpoint("guess-many")
    outcome = resolve(spec, [], ["threaded"])
    assert outcome.verdict is Verdict.DIFFERENT
    assert outcome.lines() == [
        "Not what was measured. You predicted: none of them. Measured: threaded.",
        "threaded: Memory only.",
    ]
    assert resolve(spec, ["threaded"], ["threaded"]).verdict is Verdict.MATCH


def test_a_measurement_of_the_wrong_kind_is_an_error():
    with pytest.raises(TypeError, match="revealed with a number"):
        resolve(BANK.checkpoint("guess-ms"), None, "fast")
    with pytest.raises(ValueError, match="has no option 'pool'"):
        resolve(BANK.checkpoint("guess-many"), None, ["pool"])
    with pytest.raises(ValueError, match="is a checkpoint"):
        grade(BANK.checkpoint("guess-ms"), 3)


# --- the course's own checkpoints ----------------------------------------------------------


def test_the_course_banks_checkpoints_have_feedback_for_every_gap():
    # tests/test_lesson_questions.py checks that every checkpoint a lesson uses is one of these.
    bank = load_bank()
    ids = [spec.id for spec in bank.checkpoints]
    assert ids == [
        "blocking-response", "threaded-response", "crowd-p50", "crash-loses-mail", "gevent-ping",
        "in-transaction-missing", "oldest-age-alert",
    ]  # fmt: skip
    for spec in bank.checkpoints:
        assert spec.explanation, spec.id
        if spec.kind == "numeric":
            assert spec.unit in ("ms", "s", "users") and spec.feedback is not None, spec.id
        else:
            assert all(option.feedback for option in spec.options), spec.id
    blocking = bank.checkpoint("blocking-response")
    assert resolve(blocking, 300, 502).verdict is Verdict.LOW and resolve(blocking, 520, 502).verdict is Verdict.CLOSE
    threaded = bank.checkpoint("threaded-response")
    assert resolve(threaded, 5, 2.7).verdict is Verdict.CLOSE and resolve(threaded, 500, 2.7).verdict is Verdict.HIGH
