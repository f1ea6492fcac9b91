"""`python -m quiz report` and quiz.class_report(): counting a class's answers, junk and all."""

import base64
import io
import json
import re
import subprocess
import sys

import pytest
import yaml
from test_quiz_kinds import kinds_bank

import quiz
from quiz import cli
from quiz.bank import load_bank
from quiz.report_render import ShownReport

BANK = load_bank()
RIGHT = {q.id: q.answer for q in BANK.questions}
SESSION_A, SESSION_B = "a" * 32, "b" * 32


def line(learner, item, answer, correct, attempt=1, session=SESSION_A, minute=0, item_type="question", **extra):
    """One response line, as the recorder writes it."""
    record = {
        "learner": learner,
        "session": session,
        item_type: item,
        "answer": answer,
        "correct": correct,
        "attempt": attempt,
        **extra,
        "time": f"2026-12-01T10:{minute:02d}:00.000000Z",
        "version": "0.1.0",
    }
    return json.dumps(record)


def write(path, *lines, raw=b""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(text + "\n" for text in lines).encode() + raw)
    return path


def run(*argv):
    """main() in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.report_main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def class_dir(tmp_path):
    """Three learners, one of them in two files and with two sessions, and junk of every sort."""
    folder = tmp_path / "responses"
    write(
        folder / "ada.jsonl",
        # ada's first session: wrong first, then right...
        line("ada", "blocking", "mail-later", False, 1, SESSION_A, 0),
        line("ada", "blocking", "blocks-response", True, 2, SESSION_A, 1),
        # ...then she re-ran the quiz cell: the latest session is the one that counts.
        line("ada", "blocking", "cpu-cost", False, 1, SESSION_B, 10),
        line("ada", "blocking", "blocks-response", True, 2, SESSION_B, 11),
        line("ada", "threaded", "returns-at-once", True, 1, SESSION_B, 12),
        "this is not JSON",
        "[1, 2, 3]",
        line("ada", "blocking", "telepathy", False),  # not an option
        line("ada", "nonexistent", "a", True),  # not a question of the bank
    )
    write(
        folder / "grace.jsonl",
        line("grace", "blocking", "cpu-cost", False, 1),
        line("grace", "verify", "both", True, 1),
        line("grace", "blocking-response", 300, False, 1, item_type="checkpoint", measured=500.0, unit="ms"),
        '{"learner": "grace", "session": "s", "question": "verify", "answer": "both", "correct": false, "attempt": 0,'
        ' "time": "2026-12-01T10:00:00Z", "version": "0.1.0"}',
    )
    # grace's other kernel, copied into a second folder by the instructor: merged with her file.
    write(tmp_path / "more" / "grace-laptop.jsonl", line("grace", "threaded", "gil-waits", False, 1, "c" * 32, 5))
    write(
        folder / "lin" / "lin.jsonl",  # a per-learner subfolder, as on Zero to JupyterHub
        line("lin", "blocking", "blocks-response", True, 1),
        line("lin", "blocking-response", 450, True, 1, item_type="checkpoint", measured=510.0, unit="ms"),
        line("lin", "crash-loses-mail", ["threaded"], False, 1, item_type="checkpoint", measured=["threaded", "pool"]),
    )
    write(folder / "broken.jsonl", raw=b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary")
    write(folder / "notes.txt", "remember to ask about the GIL")
    write(folder / ".ipynb_checkpoints" / "ada-checkpoint.jsonl", "junk nobody asked for")  # hidden: ignored
    return folder


# --- the counts ----------------------------------------------------------------------------


def test_each_question_counts_answered_first_try_and_eventually_correct(class_dir, tmp_path):
    code, out, _err = run(str(class_dir), str(tmp_path / "more"), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["learners"] == 3
    blocking, threaded, verify = report["questions"]
    # ada's latest session: cpu-cost first, right on the second try; grace: cpu-cost; lin: right first.
    assert blocking == {
        "id": "blocking",
        "answered": 3,
        "first_try_correct": 1,
        "eventually_correct": 2,
        "first_answers": {"mail-later": 0, "blocks-response": 1, "cpu-cost": 2, "server-stops": 0},
    }
    # grace's answer from the second folder is merged with her first file.
    assert threaded["answered"] == 2 and threaded["first_answers"]["gil-waits"] == 1
    assert verify == {
        "id": "verify",
        "answered": 1,
        "first_try_correct": 1,
        "eventually_correct": 1,
        "first_answers": {"response-time": 0, "both": 1, "status-code": 0, "one-sample": 0},
    }


def test_the_json_has_exactly_the_specified_shape(class_dir):
    report = json.loads(run(str(class_dir), "--json")[1])
    assert list(report) == ["learners", "questions", "lesson_questions", "checkpoints", "skipped"]
    assert [q["id"] for q in report["questions"]] == ["blocking", "threaded", "verify"]  # bank order
    for question in report["questions"]:
        assert list(question) == ["id", "answered", "first_try_correct", "eventually_correct", "first_answers"]
    assert [c["id"] for c in report["checkpoints"]] == [c.id for c in BANK.checkpoints]
    for entry in report["skipped"]:
        assert list(entry) == ["file", "line", "reason"]


def test_checkpoints_compare_predictions_with_measurements(class_dir):
    checkpoints = {c["id"]: c for c in json.loads(run(str(class_dir), "--json")[1])["checkpoints"]}
    blocking = checkpoints["blocking-response"]
    assert (blocking["resolved"], blocking["predicted"], blocking["close"]) == (2, 2, 1)
    # grace: (300 - 500) / 500 = -0.4; lin: (450 - 510) / 510 = -0.1176...
    assert blocking["median_relative_error"] == pytest.approx((-0.4 - 0.1176) / 2, abs=1e-3)
    assert blocking["median_absolute_relative_error"] == pytest.approx((0.4 + 0.1176) / 2, abs=1e-3)
    assert blocking["median_measured"] == 505.0 and blocking["unit"] == "ms"
    crash = checkpoints["crash-loses-mail"]
    assert crash["predictions"] == {"threaded": 1, "pool": 0, "queue": 0}
    assert crash["measured"] == {"threaded": 1, "pool": 1, "queue": 0}
    assert checkpoints["crowd-p50"]["resolved"] == 0 and checkpoints["crowd-p50"]["median_relative_error"] is None


def test_junk_lines_and_files_are_skipped_named_on_stderr_and_exit_0(class_dir):
    code, out, err = run(str(class_dir))
    assert code == 0
    skipped = [entry for entry in err.splitlines() if entry.startswith("quiz report: skipped ")]
    assert len(skipped) == len(err.splitlines()) == 7
    assert f"quiz report: skipped {class_dir / 'ada.jsonl'} line 6: not JSON" in skipped
    assert f"quiz report: skipped {class_dir / 'ada.jsonl'} line 7: not a JSON object" in skipped
    assert any("ada.jsonl line 8: answer 'telepathy' does not fit question 'blocking'" in s for s in skipped)
    assert any("ada.jsonl line 9: unknown question 'nonexistent'" in s for s in skipped)
    assert any("grace.jsonl line 4: field 'attempt' must be a whole number from 1" in s for s in skipped)
    assert f"quiz report: skipped {class_dir / 'broken.jsonl'}: not UTF-8 text: not a responses file" in skipped
    assert f"quiz report: skipped {class_dir / 'notes.txt'}: not a .jsonl file" in skipped
    assert ".ipynb_checkpoints" not in err
    assert "Skipped 7 files or lines that are not responses (listed on stderr)." in out


def test_a_file_full_of_junk_is_named_a_few_times_then_summed_up(tmp_path):
    write(tmp_path / "junk.jsonl", *(f"junk {n}" for n in range(40)))
    _code, _out, err = run(str(tmp_path))
    assert len(err.splitlines()) == 6
    assert err.splitlines()[-1].endswith("junk.jsonl: and 35 more malformed lines")


def test_the_terminal_table_shows_bars_the_right_answer_and_the_most_chosen_wrong_one(class_dir):
    code, out, _err = run(str(class_dir))
    assert code == 0
    assert out.startswith(f"Class report: 3 learners, from {class_dir}\nFlask-Mail performance quiz\n")
    assert "  answered by 3 · first try correct 1 of 3 (33%) · eventually correct 2 of 3 (67%)" in out
    assert re.search(r"^    \* blocks-response +1  #+$", out, flags=re.M)
    assert re.search(r"^      cpu-cost +2  #{30}$", out, flags=re.M)
    cpu = BANK.question("blocking").option("cpu-cost")
    assert "  most chosen wrong answer: cpu-cost, chosen first by 2 of 3 (67%)" in out
    assert cpu.feedback.split()[0] in out and "Its feedback:" in out
    assert "  median relative error -26% (predictions below the measurement); median miss 26%" in out


def test_an_empty_folder_says_there_are_no_responses_yet(tmp_path):
    code, out, err = run(str(tmp_path))
    assert (code, err) == (0, "")
    assert out == f"No responses yet in {tmp_path}: nobody has checked an answer or revealed a checkpoint.\n"
    code, out, err = run(str(tmp_path), "--json")
    assert code == 0 and json.loads(out)["learners"] == 0
    assert err.startswith("quiz report: No responses yet")


def test_a_folder_that_is_not_there_is_an_error_exit_2(tmp_path):
    code, out, err = run(str(tmp_path / "nope"))
    assert (code, out) == (2, "")
    assert err == f"error: {tmp_path / 'nope'}: no such folder\n"


@pytest.mark.slow  # matplotlib draws every chart
def test_the_html_is_one_self_contained_page_with_inlined_png_charts(class_dir, tmp_path):
    page = tmp_path / "report.html"
    code, _out, err = run(str(class_dir), "--html", str(page))
    assert code == 0 and f"quiz report: wrote {page}" in err
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    # a bar chart per answered question (3), a histogram and a predicted/measured chart for checkpoints
    assert len(images) == 5
    assert all(base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n") for data in images)
    # nothing fetched from elsewhere: it opens from a file, offline, without Jupyter
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", html)
    assert "<script" not in html and "<link" not in html
    assert "Most chosen wrong answer:" in html and "notes.txt: not a .jsonl file" in html


def test_a_multiple_and_a_numeric_question_count_options_and_low_close_high(tmp_path):
    bank_file = tmp_path / "kinds.yaml"
    bank_file.write_text(yaml.safe_dump(kinds_bank(), sort_keys=False))
    write(
        tmp_path / "answers" / "ada.jsonl",
        line("ada", "many", ["threaded"], False),
        line("ada", "many", ["threaded", "queue"], True, 2),
        line("ada", "number", 250, False),
        line("bo", "number", 310.0, True),
        line("bo", "many", "threaded", False),  # a key, not a list: skipped
    )
    code, out, err = run(str(tmp_path / "answers"), "--bank", str(bank_file), "--json")
    assert code == 0 and "does not fit question 'many'" in err
    questions = {q["id"]: q for q in json.loads(out)["questions"]}
    assert questions["many"]["first_answers"] == {"blocking": 0, "threaded": 1, "queue": 0}
    assert questions["many"]["eventually_correct"] == 1
    assert questions["number"]["first_answers"] == {"low": 1, "close": 1, "high": 0}


def test_class_report_shows_the_same_in_a_notebook(class_dir, capsys):
    report = quiz.class_report(class_dir)
    assert isinstance(report, ShownReport)
    assert report.learners == 3 and report.to_dict() == json.loads(run(str(class_dir), "--json")[1])
    assert "<h1>Class report: Flask-Mail performance quiz</h1>" in report._repr_html_()
    assert "data:image/png;base64," in report._repr_html_()
    assert str(report) == run(str(class_dir))[1]
    lesson_questions, checkpoints = len(BANK.lesson_questions), len(BANK.checkpoints)
    assert (
        repr(report)
        == f"ClassReport(3 learners, 3 questions, {lesson_questions} lesson questions, {checkpoints} checkpoints)"
    )
    assert capsys.readouterr().err.count("quiz report: skipped") == 7


def test_what_the_quiz_records_the_report_counts(tmp_path, monkeypatch):
    monkeypatch.setenv("QUIZ_RESPONSES_DIR", str(tmp_path))
    for name, choice in (("ada", RIGHT["blocking"]), ("bo", "server-stops")):
        monkeypatch.setenv("QUIZ_LEARNER", name)
        quiz.Quiz(record=True).answer("blocking", choice)
    first_answers = json.loads(run(str(tmp_path), "--json")[1])["questions"][0]["first_answers"]
    assert first_answers == {"mail-later": 0, "blocks-response": 1, "cpu-cost": 0, "server-stops": 1}


@pytest.mark.slow  # a Python process
def test_python_m_quiz_report_runs_as_a_process(class_dir, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "quiz", "report", str(class_dir)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert done.stdout.startswith("Class report: 3 learners")
    missing = subprocess.run([sys.executable, "-m", "quiz", "report"], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "the following arguments are required: DIR" in missing.stderr
    helped = subprocess.run([sys.executable, "-m", "quiz", "--help"], capture_output=True, text=True, timeout=60)
    assert "python -m quiz report DIR..." in helped.stdout


def test_lesson_questions_are_shown_by_lesson_once_someone_answered_them(tmp_path):
    lesson = BANK.lesson_questions[0]
    wrong_key = next(o.key for o in lesson.options if o.key != lesson.answer)
    write(
        tmp_path / "ada.jsonl", line("ada", lesson.id, wrong_key, False), line("ada", lesson.id, lesson.answer, True, 2)
    )
    code, out, err = run(str(tmp_path))
    assert (code, err) == (0, "")
    assert f"Lesson questions: {lesson.lesson}\n\nQuestion {lesson.id} ({lesson.kind})" in out
    assert "answered by 1 · first try correct 0 of 1 (0%) · eventually correct 1 of 1 (100%)" in out
    others = [slug for slug in BANK.lessons() if slug != lesson.lesson]
    assert not any(f"Lesson questions: {slug}\n" in out for slug in others)  # nobody answered them: one line
    assert " ".join(f"No answers yet to the questions of: {', '.join(others)}.".split()) in " ".join(out.split())
    page = quiz.class_report(tmp_path).to_html()
    assert f"<h2>Lesson questions: {lesson.lesson}</h2>" in page and "No answers yet to the questions of:" in page
    entries = json.loads(run(str(tmp_path), "--json")[1])["lesson_questions"]
    assert [entry["id"] for entry in entries] == [q.id for q in BANK.lesson_questions]  # the JSON keeps them all
