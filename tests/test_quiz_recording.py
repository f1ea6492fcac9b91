"""Recording answers: the line, the learner, whole lines from concurrent writers, and folders that fail."""

import io
import json
import os
import stat
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import eventually

import quiz
from quiz import answer_writer, cli, learner, view
from quiz.bank import load_bank

BANK = load_bank()
RIGHT = {q.id: q.answer for q in BANK.questions}
QUESTION_KEYS = {"learner", "session", "question", "answer", "correct", "attempt", "time", "version"}
CHECKPOINT_KEYS = QUESTION_KEYS - {"question"} | {"checkpoint", "measured", "unit"}


def wrong(question_id):
    question = BANK.question(question_id)
    return next(o.key for o in question.options if o.key != question.answer)


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean environment: no hub user, no learner name, recording off, state under tmp_path."""
    for name in ("QUIZ_RESPONSES_DIR", "JUPYTERHUB_USER", "QUIZ_LEARNER", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SANDBOX_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(answer_writer, "_warned", set())
    monkeypatch.setattr(learner, "_process_id", None)
    monkeypatch.setattr(view, "_current", None)
    return monkeypatch


@pytest.fixture
def responses(env, tmp_path):
    """Recording on, into tmp_path/responses, as learner 'ada'."""
    folder = tmp_path / "responses"
    folder.mkdir()
    env.setenv("QUIZ_RESPONSES_DIR", str(folder))
    env.setenv("QUIZ_LEARNER", "ada")
    return folder


def lines(path):
    """The JSON lines of a responses file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --- what is written -----------------------------------------------------------------------


def test_every_check_appends_one_line_with_the_specified_fields(responses):
    shown = quiz.Quiz(record=True)
    shown.answer("blocking", wrong("blocking"))
    shown.answer("blocking", RIGHT["blocking"])
    shown.check("threaded")  # nothing chosen: not an answer, not recorded
    first, second = lines(responses / "ada.jsonl")
    assert set(first) == QUESTION_KEYS
    assert first["learner"] == "ada" and first["question"] == "blocking"
    assert (first["answer"], first["correct"], first["attempt"]) == (wrong("blocking"), False, 1)
    assert (second["answer"], second["correct"], second["attempt"]) == (RIGHT["blocking"], True, 2)
    assert first["session"] == second["session"]
    assert first["version"] == learner.course_version() == "0.1.0"
    assert first["time"].endswith("Z") and first["time"] < second["time"]


def test_a_revealed_checkpoint_appends_its_prediction_and_measurement(responses):
    guess = quiz.checkpoint("blocking-response")
    guess.commit(450)
    guess.reveal(502.3)
    (line,) = lines(responses / "ada.jsonl")
    assert set(line) == CHECKPOINT_KEYS
    assert (line["checkpoint"], line["answer"], line["measured"]) == ("blocking-response", 450.0, 502.3)
    assert line["unit"] == "ms"
    assert (line["correct"], line["attempt"]) == (True, 1)


def test_an_unanswered_checkpoint_records_the_measurement_with_no_prediction(responses):
    quiz.checkpoint("crash-loses-mail").reveal(["threaded", "pool"])
    (line,) = lines(responses / "ada.jsonl")
    assert (line["answer"], line["correct"], line["measured"]) == (None, None, ["threaded", "pool"])


def test_a_new_run_of_the_quiz_cell_is_a_new_session_and_try_again_is_not(responses):
    first_run = quiz.Quiz(record=True)
    first_run.answer("verify", wrong("verify"))
    first_run.reset()  # Try again: same session, the attempt count goes on
    first_run.answer("verify", RIGHT["verify"])
    quiz.Quiz(record=True).answer("verify", RIGHT["verify"])
    one, two, three = lines(responses / "ada.jsonl")
    assert one["session"] == two["session"] != three["session"]
    assert [one["attempt"], two["attempt"], three["attempt"]] == [1, 2, 1]


def test_demonstration_copies_never_record_as_the_learner(responses, capsys):
    # The quiz lesson's worked example answers a Quiz() built in code: that must not count as the learner's.
    quiz.Quiz().answer("blocking", RIGHT["blocking"])
    quiz.checkpoint("blocking-response", record=False).reveal(500)
    assert list(responses.iterdir()) == []
    quiz.show()  # the learner's quiz records
    quiz.answer("blocking", RIGHT["blocking"])
    assert len(lines(responses / "ada.jsonl")) == 1
    quiz.show(record=False)
    quiz.answer("blocking", RIGHT["blocking"])
    assert len(lines(responses / "ada.jsonl")) == 1
    capsys.readouterr()


def test_unset_means_nothing_is_written_anywhere(env, tmp_path):
    shown = quiz.Quiz(record=True)
    shown.answer("blocking", RIGHT["blocking"])
    guess = quiz.checkpoint("blocking-response")
    guess.commit(300)
    guess.reveal(500)
    assert shown.session.recorder is None and guess.session.recorder is None
    assert list(tmp_path.iterdir()) == []  # not even the anonymous learner id


def test_the_terminal_quiz_records_too_unless_told_not_to(responses):
    answers = "".join(cli_letter(q) + "\n" for q in BANK.questions)
    assert cli.main([], stdin=io.StringIO(answers), stdout=io.StringIO()) == 0
    assert [line["question"] for line in lines(responses / "ada.jsonl")] == ["blocking", "threaded", "verify"]
    assert cli.main(["--no-record"], stdin=io.StringIO(answers), stdout=io.StringIO()) == 0
    assert len(lines(responses / "ada.jsonl")) == 3


# --- who the learner is --------------------------------------------------------------------


def test_the_hub_user_comes_first_then_quiz_learner_then_an_anonymous_id(env):
    assert learner.learner_id({"JUPYTERHUB_USER": "grace", "QUIZ_LEARNER": "ada"}) == "grace"
    assert learner.learner_id({"JUPYTERHUB_USER": " ", "QUIZ_LEARNER": "ada"}) == "ada"
    anonymous = learner.learner_id({"SANDBOX_STATE_DIR": os.environ["SANDBOX_STATE_DIR"]})
    assert anonymous.startswith("anon-") and len(anonymous) == len("anon-") + 12
    assert learner.learner_id() == anonymous  # kept in the state folder...


def test_the_anonymous_id_is_the_same_in_every_kernel_of_the_user(env, tmp_path):
    script = "from quiz import learner; print(learner.learner_id())"
    ids = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()
        for _ in range(2)
    }
    assert ids == {learner.learner_id()}
    assert (tmp_path / "state" / learner.ID_FILE).read_text().strip() in ids


def test_without_a_state_folder_the_anonymous_id_lasts_the_process(env, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env.setenv("SANDBOX_STATE_DIR", str(blocker / "state"))  # cannot be created, even as root
    first = learner.learner_id()
    assert first.startswith("anon-") and learner.learner_id() == first


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("ada", "ada.jsonl"),
        ("ada@example.com", "ada@example.com.jsonl"),
        ("../../etc/passwd", "%2E.%2F..%2Fetc%2Fpasswd.jsonl"),
        ("José Ruiz", "Jos%C3%A9%20Ruiz.jsonl"),
        (".hidden", "%2Ehidden.jsonl"),
    ],
)
def test_a_learner_names_one_file_inside_the_folder(name, file):
    assert learner.file_name(name) == file
    assert "/" not in learner.file_name(name)


# --- concurrent writers --------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from quiz.answer_writer import Recorder

    folder, learner_name, go, count, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    recorder = Recorder(folder, learner_name)
    Path(go + f".ready-{os.getpid()}").touch()  # at the starting line
    while not os.path.exists(go):
        time.sleep(0.001)
    first = time.monotonic()  # one clock for every process of the machine
    for attempt in range(1, count + 1):
        assert recorder.append({"session": str(os.getpid()), "question": "blocking", "answer": "x" * size,
                                "correct": False, "attempt": attempt})
    print(first, time.monotonic())  # when this writer wrote its first and its last line
    """
)


@pytest.mark.slow  # two Python processes
def test_two_kernels_of_one_learner_appending_at_once_never_interleave_a_line(tmp_path):
    folder = tmp_path / "responses"
    folder.mkdir()
    go = tmp_path / "go"
    writers, count, size = 4, 150, 20_000  # lines far over PIPE_BUF and a page, from 4 processes
    command = [sys.executable, "-c", WRITER, str(folder), "ada", str(go), str(count), str(size)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(writers)]
    try:
        eventually(lambda: len(list(tmp_path.glob("go.ready-*"))) == writers, timeout=60)  # all at the line
        go.write_text("")
        spans = [tuple(map(float, process.communicate(timeout=120)[0].split())) for process in processes]
        assert all(process.returncode == 0 for process in processes)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    # The writers did write at the same time: every one began before any one finished.
    assert max(start for start, _end in spans) < min(end for _start, end in spans), spans
    raw = (folder / "ada.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    records = [json.loads(line) for line in raw.decode("utf-8").splitlines()]  # each line whole JSON
    assert len(records) == writers * count
    by_writer = {}
    for record in records:
        assert record["answer"] == "x" * size
        by_writer.setdefault(record["session"], []).append(record["attempt"])
    assert len(by_writer) == writers
    assert all(attempts == list(range(1, count + 1)) for attempts in by_writer.values())


# --- folders that fail ---------------------------------------------------------------------


def bad_folder_cases(tmp_path):
    """A missing folder, and a folder path below a regular file (fails even as root)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    return {"missing": tmp_path / "missing", "below a file": blocker / "responses"}


@pytest.mark.parametrize("case", ["missing", "below a file"])
def test_a_bad_folder_warns_once_in_one_line_and_the_quiz_keeps_working(env, tmp_path, capsys, case):
    folder = bad_folder_cases(tmp_path)[case]
    env.setenv("QUIZ_RESPONSES_DIR", str(folder))
    env.setenv("QUIZ_LEARNER", "ada")
    shown = quiz.Quiz(record=True)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("quiz: answers are not being recorded: cannot write to ")
    assert str(folder) in err and "QUIZ_RESPONSES_DIR" in err and "The quiz works as usual." in err
    assert "fmq-record-problem" in shown.record_note.value  # seen in the widget, where clicks happen
    assert shown.answer("blocking", RIGHT["blocking"]).correct  # the quiz works
    assert shown.answer("threaded", wrong("threaded")).status.value == "incorrect"
    guess = quiz.checkpoint("blocking-response")
    guess.commit(400)
    guess.reveal(500)
    assert guess.outcome.correct is True
    assert capsys.readouterr().err == ""  # one warning, not one per click
    assert not folder.exists()


@contextmanager
def unwritable(folder: Path, learner_name: str):
    """A folder in which the learner's file cannot be written, by any user root included.

    A regular user gets a read-only folder; root writes into those, so for root the learner's file name is
    taken by a folder (opening it for writing fails with "Is a directory", whoever asks).
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        (folder / learner.file_name(learner_name)).mkdir()
        yield "Is a directory"
        return
    folder.chmod(0o555)
    try:
        yield "Permission denied"
    finally:
        folder.chmod(0o755)


def test_a_folder_the_learner_cannot_write_in_warns_and_the_quiz_keeps_working(env, tmp_path, capsys):
    folder = tmp_path / "read-only"
    folder.mkdir()
    env.setenv("QUIZ_RESPONSES_DIR", str(folder))
    env.setenv("QUIZ_LEARNER", "ada")
    with unwritable(folder, "ada") as reason:
        before = sorted(folder.iterdir())
        shown = quiz.Quiz(record=True)
        assert shown.answer("blocking", RIGHT["blocking"]).correct
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(folder) in err and reason in err
        assert sorted(folder.iterdir()) == before  # nothing written


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o000], ids=["usual", "private", "open"])
def test_a_recorded_file_is_the_learners_and_readable_by_their_group_whatever_the_umask(responses, umask):
    # INSTRUCTORS.md: the learner reads and writes it, the instructors' group reads it, nobody else.
    previous = os.umask(umask)
    try:
        quiz.Quiz(record=True).answer("blocking", RIGHT["blocking"])
    finally:
        os.umask(previous)
    (written,) = responses.glob("*.jsonl")
    assert stat.S_IMODE(written.stat().st_mode) == answer_writer.FILE_MODE == 0o640


def test_a_file_the_learner_already_has_keeps_its_mode(responses):
    existing = responses / learner.file_name("ada")
    existing.write_text("")
    existing.chmod(0o600)  # the learner's own choice
    quiz.Quiz(record=True).answer("blocking", RIGHT["blocking"])
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600 and len(existing.read_text().splitlines()) == 1


def test_a_folder_that_fails_later_shows_in_the_widget_not_as_a_traceback(responses, capsys):
    shown = quiz.Quiz(record=True)
    assert shown.record_note.value == ""
    responses.rename(responses.with_name("moved"))  # the shared folder goes away mid-class
    assert shown.answer("blocking", RIGHT["blocking"]).correct
    assert "cannot write to" in shown.record_note.value
    assert capsys.readouterr().err.count("\n") == 1


def test_python_m_quiz_with_a_bad_folder_prints_one_line_and_no_traceback(tmp_path):
    environ = {**os.environ, "QUIZ_RESPONSES_DIR": str(tmp_path / "missing"), "QUIZ_LEARNER": "ada"}
    answers = "".join(cli_letter(q) + "\n" for q in BANK.questions)
    done = subprocess.run(
        [sys.executable, "-m", "quiz"], input=answers, capture_output=True, text=True, env=environ, timeout=60
    )
    assert done.returncode == 0
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stdout.rstrip().endswith("Score: 3 / 3")


def cli_letter(question):
    """The letter of the right answer in the terminal (bank order)."""
    return "ABCD"[[o.key for o in question.options].index(question.answer)]


def test_the_instructor_guide_describes_the_recording_the_code_does():
    guide = (Path(__file__).resolve().parent.parent / "INSTRUCTORS.md").read_text(encoding="utf-8")
    start, end = guide.index("## Collecting quiz answers"), guide.index("## Seeing what the class understood")
    section = guide[start:end]
    assert answer_writer.ENV_VAR in section and "JUPYTERHUB_USER" in section and "QUIZ_LEARNER" in section
    assert f"mode `{answer_writer.FILE_MODE:o}`" in section  # the file mode the quiz creates files with
    assert "-m 3753" in section and "drwxr-s-wt" in section  # sticky, setgid, others write-only
    assert 'subPath: "{username}"' in section  # Zero to JupyterHub: a folder per learner
    assert "python -m quiz report" in guide and "quiz.class_report(" in guide
