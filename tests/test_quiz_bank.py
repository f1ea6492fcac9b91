"""The question bank: the course's own file, and every way a bank file can be malformed."""

import re
from pathlib import Path

import pytest
import yaml
from helpers import broken_copy, refused_with
from helpers import option as bank_option
from helpers import question as bank_question

from quiz.bank import DEFAULT_BANK, BankError, check_bank, load_bank, parse_bank

SOURCE = "test.yaml"
ROOT = Path(__file__).resolve().parent.parent


def valid_bank():
    """A small bank that passes the schema, to break one field at a time."""
    first = [bank_option("right", "The right one", "Yes."), bank_option("wrong", "The wrong one", "No, because.")]
    second = [bank_option("a", "A", "Right."), bank_option("b", "B", "Wrong.")]
    return {
        "title": "Tiny quiz",
        "questions": [
            bank_question("first", "Pick the right one.", first, "right", "Because it is."),
            bank_question("second", "And this one?", second, "a", "A it is.", code="print('hi')\n"),
        ],
    }


def broken(change):
    """A copy of the valid bank after change(data) broke something."""
    return broken_copy(valid_bank(), change)


def second(data):
    return data["questions"][1]


# (what is wrong, how to break it, the pieces the error message must contain)
MALFORMED = [
    ("only an unknown field", lambda d: d.clear() or d.update(x=1), ["field 'x' is not allowed"]),
    ("no title", lambda d: d.pop("title"), ["field 'title' must be text, not nothing"]),
    ("title not text", lambda d: d.update(title=3), ["field 'title' must be text, not a number"]),
    ("no questions", lambda d: d.pop("questions"), ["field 'questions' must be a non-empty list"]),
    ("empty questions", lambda d: d.update(questions=[]), ["field 'questions' must be a non-empty list"]),
    ("questions not a list", lambda d: d.update(questions={"a": 1}), ["field 'questions'"]),
    ("unknown top-level field", lambda d: d.update(author="me"), ["field 'author' is not allowed"]),
    (
        "question not a mapping",
        lambda d: d["questions"].append("why?"),
        ["question 3", "must be a mapping", "not text"],
    ),
    ("question without id", lambda d: second(d).pop("id"), ["question 2", "field 'id' is missing"]),
    ("id not text", lambda d: second(d).update(id=7), ["question 2", "field 'id' must be text, not a number"]),
    ("id with capitals", lambda d: second(d).update(id="Second"), ["question 2 ('Second')", "field 'id'", "lowercase"]),
    (
        "duplicate id",
        lambda d: second(d).update(id="first"),
        ["question 2 ('first')", "field 'id'", "earlier question"],
    ),
    ("no prompt", lambda d: second(d).pop("prompt"), ["('second')", "field 'prompt' is missing"]),
    ("empty prompt", lambda d: second(d).update(prompt="   "), ["('second')", "field 'prompt' must not be empty"]),
    (
        "prompt not text",
        lambda d: second(d).update(prompt=["a"]),
        ["('second')", "field 'prompt' must be text, not a list"],
    ),
    ("code not text", lambda d: second(d).update(code=1), ["('second')", "field 'code' must be text"]),
    ("no options", lambda d: second(d).pop("options"), ["('second')", "field 'options' is missing"]),
    (
        "options not a list",
        lambda d: second(d).update(options="a, b"),
        ["('second')", "field 'options' must be a list"],
    ),
    ("one option only", lambda d: second(d)["options"].pop(), ["('second')", "at least 2 options"]),
    ("option not a mapping", lambda d: second(d)["options"].append("C"), ["('second'): option 3", "must be a mapping"]),
    (
        "option without key",
        lambda d: second(d)["options"][1].pop("key"),
        ["('second'): option 2", "field 'key' is missing"],
    ),
    ("option without text", lambda d: second(d)["options"][1].pop("text"), ["option 2", "field 'text' is missing"]),
    (
        "option without feedback",
        lambda d: second(d)["options"][0].pop("feedback"),
        ["option 1", "field 'feedback' is missing"],
    ),
    (
        "empty feedback",
        lambda d: second(d)["options"][0].update(feedback=""),
        ["option 1", "field 'feedback' must not be empty"],
    ),
    (
        "option field typo",
        lambda d: second(d)["options"][0].update(feedbak="x"),
        ["option 1", "field 'feedbak' is not allowed"],
    ),
    (
        "duplicate option key",
        lambda d: second(d)["options"][1].update(key="a"),
        ["option 2", "field 'key'", "earlier option"],
    ),
    ("duplicate option text", lambda d: second(d)["options"][1].update(text="A"), ["option 2", "field 'text'", "same"]),
    ("no answer", lambda d: second(d).pop("answer"), ["('second')", "field 'answer' is missing"]),
    ("answer not an option", lambda d: second(d).update(answer="c"), ["('second')", "field 'answer'", "'c'", "(a, b)"]),
    (
        "answer is yes",
        lambda d: second(d).update(answer=True),
        ["('second')", "field 'answer' must be text, not true/false"],
    ),
    ("no explanation", lambda d: second(d).pop("explanation"), ["('second')", "field 'explanation' is missing"]),
    ("field typo", lambda d: second(d).update(explaination="x"), ["('second')", "field 'explaination' is not allowed"]),
]


def test_the_course_bank_loads_with_its_three_questions(tmp_path):
    bank = load_bank()
    assert bank.title == "Flask-Mail performance quiz"
    assert [q.id for q in bank.questions] == ["blocking", "threaded", "verify"]
    # Where the file lies does not matter; what it says does: a copy loads equal, a changed copy does not.
    copy = tmp_path / "copy.yaml"
    copy.write_text(DEFAULT_BANK.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_bank(copy) == bank
    changed = tmp_path / "changed.yaml"
    changed.write_text(DEFAULT_BANK.read_text(encoding="utf-8").replace("title: Flask-Mail", "title: Another"))
    assert load_bank(changed) != bank and load_bank(changed).questions == bank.questions


def test_the_course_bank_asks_what_the_issue_asks():
    bank = load_bank()
    blocking = bank.question("blocking")
    # Question 1 keeps its stem and its right answer...
    assert blocking.prompt.startswith("A Flask view calls mail.send(msg) and only then returns its response.")
    assert blocking.option(blocking.answer).text == "The response waits until the mail server has taken the mail."
    # ...and its wrong options are misconceptions about the server, no longer about the browser.
    wrong_texts = " ".join(o.text for o in blocking.options if o.key != blocking.answer).lower()
    for topic in ("css", "layout", "javascript"):
        assert topic not in wrong_texts
    for misconception in ("later", "cpu"):
        assert misconception in wrong_texts
    threaded = bank.question("threaded").option(bank.question("threaded").answer).text
    for fact in ("at once", "as long", "app context"):
        assert fact in threaded
    verify = bank.question("verify").option(bank.question("verify").answer).text
    assert "Network tab" in verify and "every mail still arrives" in verify  # both halves: time and delivery


def test_every_option_of_the_course_bank_has_its_own_feedback():
    for question in load_bank().questions:
        feedbacks = [option.feedback for option in question.options]
        assert len(set(feedbacks)) == len(feedbacks), question.id
        assert len(question.options) == 4, question.id


def test_the_correct_options_are_not_all_in_the_same_place():
    # In bank order (the default), a learner must not be able to guess by position.
    positions = {[o.key for o in q.options].index(q.answer) for q in load_bank().questions}
    assert len(positions) > 1


@pytest.mark.parametrize("which", ["questions", "lesson_questions"])
def test_the_right_option_is_not_always_the_longest(which):
    # Otherwise "pick the longest" scores full marks without reading a word.
    questions = [q for q in getattr(load_bank(), which) if q.kind != "numeric"]
    longest_is_right = [max(q.options, key=lambda o: len(o.text)).key == q.answer for q in questions]
    assert questions and not all(longest_is_right)
    assert sum(longest_is_right) <= len(questions) // 3


def test_every_lesson_question_teaches_with_each_option():
    bank = load_bank()
    for question in bank.lesson_questions:
        feedbacks = [option.feedback for option in question.options]
        assert len(question.options) == 4 and len(set(feedbacks)) == 4, question.id
        assert question.explanation, question.id
    positions = {[o.key for o in q.options].index(q.answer) for q in bank.lesson_questions}
    assert len(positions) > 2  # the right option is not always in the same place


def test_every_option_has_feedback_and_the_options_have_similar_lengths():
    for question in load_bank().questions:
        for option in question.options:
            assert option.feedback.strip(), f"{question.id}: option {option.key} has no feedback"
        lengths = [len(option.text) for option in question.options]
        assert max(lengths) <= 1.5 * min(lengths), f"{question.id}: option lengths {lengths}"


def test_wrong_options_of_question_1_name_real_misconceptions_with_feedback_that_corrects_them():
    blocking = load_bank().question("blocking")
    wrong = {o.key: o for o in blocking.options if o.key != blocking.answer}
    assert set(wrong) == {"mail-later", "cpu-cost", "server-stops"}
    assert "lesson 6" in wrong["cpu-cost"].feedback  # the CPU measurement that refutes it (06-under-load)
    assert "other" in wrong["server-stops"].feedback and "workers" in wrong["server-stops"].feedback


def test_the_valid_example_passes():
    bank = check_bank(valid_bank(), SOURCE)
    assert bank.question(2).code == "print('hi')"  # trailing blank lines dropped
    assert bank.question("first").option("wrong").feedback == "No, because."


@pytest.mark.parametrize(("case", "change", "pieces"), MALFORMED, ids=[case for case, _, _ in MALFORMED])
def test_a_malformed_bank_names_the_question_and_the_field(case, change, pieces):
    refused_with(check_bank, broken(change), SOURCE, pieces, case)


def test_a_bank_that_is_not_a_mapping_is_refused():
    with pytest.raises(BankError, match=r"^test\.yaml: the bank must be a mapping"):
        check_bank(["a", "b"], SOURCE)


def test_invalid_yaml_names_the_file_and_line(tmp_path):
    path = tmp_path / "bank.yaml"
    path.write_text("title: x\nquestions: [\n  - id: a\n")
    # libyaml's words ("did not find expected node content") where PyYAML has it, PyYAML's own elsewhere
    problem = r"(did not find expected|expected the) node content"
    with pytest.raises(BankError, match=rf"^bank\.yaml: not valid YAML at line 3, column 3: {problem}"):
        load_bank(path)


def test_duplicate_yaml_keys_are_refused_not_silently_overwritten():
    text = yaml.safe_dump(valid_bank(), sort_keys=False).replace(
        "title: Tiny quiz\n", "title: Tiny quiz\ntitle: Other\n"
    )
    with pytest.raises(BankError, match=r"^test\.yaml: not valid YAML at line 2, column 1: duplicate key 'title'$"):
        parse_bank(text, SOURCE)


def test_a_missing_file_is_a_bank_error(tmp_path):
    with pytest.raises(BankError, match=re.escape(str(tmp_path / "nope.yaml"))):
        load_bank(tmp_path / "nope.yaml")


def test_a_file_that_is_not_utf8_is_a_bank_error(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes("title: caf\xe9\n".encode("latin-1"))
    with pytest.raises(BankError, match="not UTF-8"):
        load_bank(path)


def test_a_bank_file_round_trips_through_yaml(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(valid_bank(), sort_keys=False))
    assert load_bank(path) == check_bank(valid_bank(), "tiny.yaml")


def test_questions_are_found_by_id_or_number_and_unknown_ones_are_named():
    bank = check_bank(valid_bank(), SOURCE)
    assert bank.question(1) is bank.question("first")
    with pytest.raises(ValueError, match="numbered 1 to 2"):
        bank.question(3)
    with pytest.raises(ValueError, match="the questions are: first, second"):
        bank.question("third")
    with pytest.raises(ValueError, match="choose one of: right, wrong"):
        bank.question("first").option("maybe")


# Where the bank points a learner: (item id, lesson number cited) -> the slug of the lesson meant. Lessons get
# renumbered: this table then fails, naming the feedback whose number to update.
CITED = {
    ("blocking", 6): "under-load",  # the CPU per send, and other users queueing under load
    ("threaded", 3): "threaded",
    ("verify", 4): "thread-failures",  # a thread whose send fails still answers at once
    ("verify", 11): "when-sending-fails",
    ("verify", 5): "measuring",
    ("threaded-context", 3): "threaded",
    ("under-load-ping", 6): "under-load",
}
CITATION = re.compile(r"\blessons? (\d+)(?: and (\d+))?")


def test_every_lesson_the_bank_cites_by_number_is_the_one_it_means():
    bank = load_bank()
    numbers = {int(path.name[:2]): path.stem[3:] for path in (ROOT / "lessons").glob("[0-9][0-9]-*.md")}
    found = set()
    for item in (*bank.questions, *bank.lesson_questions, *bank.checkpoints):
        texts = [item.prompt, item.explanation, *(o.feedback for o in item.options)]
        texts += [item.feedback[d] for d in ("low", "close", "high")] if item.feedback is not None else []
        for text in texts:
            for match in CITATION.finditer(" ".join(text.split())):
                found |= {(item.id, int(number)) for number in match.groups() if number}
    assert found == set(CITED), "update CITED with the lesson each citation means"
    wrong = {cited: (numbers.get(cited[1]), slug) for cited, slug in CITED.items() if numbers.get(cited[1]) != slug}
    assert not wrong, f"lessons were renumbered: update these citations in quiz/bank.yaml: {wrong}"
