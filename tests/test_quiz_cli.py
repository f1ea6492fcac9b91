"""`python -m quiz`: the same questions at a terminal prompt, and clean exits however it ends."""

import io
import json
import os
import signal
import string
import subprocess
import sys
import time

import pytest

from quiz import cli
from quiz.bank import load_bank
from quiz.grading import Grader
from quiz.kinds.single import parse_choice

BANK = load_bank()
RIGHT = {q.id: q.answer for q in BANK.questions}


def letter(question_id, key, seed=None):
    """The letter the terminal shows for an option (it follows the shuffle)."""
    keys = [o.key for o in Grader(BANK, seed=seed).options(question_id)]
    return string.ascii_uppercase[keys.index(key)]


def wrong(question_id):
    """The key of some wrong option of a question."""
    question = BANK.question(question_id)
    return next(o.key for o in question.options if o.key != question.answer)


def play(*lines, argv=()):
    """Run main() in-process on typed lines; (exit code, everything printed)."""
    out = io.StringIO()
    code = cli.main(list(argv), stdin=io.StringIO("".join(line + "\n" for line in lines)), stdout=out)
    return code, out.getvalue()


def run_module(*args, **kwargs):
    """Run `python -m quiz` as a real process."""
    return subprocess.run([sys.executable, "-m", "quiz", *args], capture_output=True, text=True, timeout=30, **kwargs)


def test_all_right_scores_3_of_3():
    code, out = play(*(letter(q, k) for q, k in RIGHT.items()))
    assert code == 0
    assert out.count("Correct!") == 3
    assert out.rstrip().endswith("Score: 3 / 3")
    for question in BANK.questions:
        assert question.explanation.split()[0] in out


def test_the_terminal_shows_the_prompt_options_and_code():
    _code, out = play()
    assert "Question 1 of 3" in out
    assert "  A) " + BANK.question(1).options[0].text in out
    _code, out = play(letter("blocking", RIGHT["blocking"]))
    assert "    def send_async_email(app, msg):" in out  # question 2's snippet, indented


def test_a_wrong_answer_says_why_and_offers_another_try():
    code, out = play(
        letter("blocking", "mail-later"),
        letter("blocking", RIGHT["blocking"]),
        *(letter(q, k) for q, k in list(RIGHT.items())[1:]),
    )
    assert code == 0
    assert "Not yet. " + BANK.question("blocking").option("mail-later").feedback.split()[0] in out
    assert "Try another answer (A-D), or press Enter to move on:" in out
    assert out.rstrip().endswith("Score: 3 / 3")


def test_enter_after_a_wrong_answer_moves_on_and_the_wrong_answer_counts():
    lines = [
        letter("blocking", wrong("blocking")),
        "",
        letter("threaded", RIGHT["threaded"]),
        letter("verify", RIGHT["verify"]),
    ]
    _code, out = play(*lines)
    assert out.rstrip().endswith("Score: 2 / 3")


def test_enter_with_no_answer_asks_for_one_and_does_not_grade_it_wrong():
    _code, out = play("", "z", *(letter(q, k) for q, k in RIGHT.items()))
    out = " ".join(out.split())  # as read, not as wrapped
    assert "Choose an answer first. Type one of the letters A-D and press Enter." in out
    assert "'z' is not one of the options: type one of the letters A-D and press Enter." in out
    assert "Not yet" not in out
    assert out.rstrip().endswith("Score: 3 / 3")


def test_numbers_and_lowercase_letters_are_answers_too():
    number = str([o.key for o in BANK.question("blocking").options].index(RIGHT["blocking"]) + 1)
    assert parse_choice(number, 4) == int(number) - 1
    assert parse_choice("b", 4) == 1 and parse_choice(" C) ", 4) == 2
    assert parse_choice("E", 4) is None and parse_choice("5", 4) is None and parse_choice("", 4) is None


def test_a_seed_shuffles_the_letters_reproducibly():
    lines = [letter(q, k, seed=3) for q, k in RIGHT.items()]
    assert lines != [letter(q, k) for q, k in RIGHT.items()]  # seed 3 does move an answer
    _code, out = play(*lines, argv=["--seed", "3"])
    assert out.rstrip().endswith("Score: 3 / 3")


def test_json_export_is_written_even_when_stopped_early(tmp_path):
    path = tmp_path / "answers.json"
    code, out = play(letter("blocking", RIGHT["blocking"]), argv=["--json", str(path)])
    assert code == 0
    assert "Quiz stopped: 1 of 3 questions checked." in out
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["score"] == 1 and record["questions"][0]["choice"] == RIGHT["blocking"]


def test_a_bad_bank_file_exits_2_with_the_error(tmp_path, capsys):
    bad = tmp_path / "bank.yaml"
    bad.write_text("title: x\nquestions: []\n")
    code, out = play(argv=["--bank", str(bad)])
    assert code == 2 and out == ""
    assert capsys.readouterr().err == "error: bank.yaml: field 'questions' must be a non-empty list of questions\n"


# --- the real process: closed stdin, Ctrl-C, pipes ---------------------------------------


def test_python_m_quiz_plays_from_piped_answers():
    answers = "".join(letter(q, k) + "\n" for q, k in RIGHT.items())
    done = run_module(input=answers)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.rstrip().endswith("Score: 3 / 3")
    assert f"Your answer (A-D): {letter('blocking', RIGHT['blocking'])}\n" in done.stdout  # piped answers echoed


def test_end_of_input_exits_0_without_a_traceback():
    done = run_module(stdin=subprocess.DEVNULL)
    assert done.returncode == 0
    assert done.stderr == ""
    assert done.stdout.rstrip().endswith("Quiz stopped: 0 of 3 questions checked.")


def test_a_closed_stdin_exits_0_without_a_traceback():
    # `0<&-`: no file descriptor 0 at all, so sys.stdin is None.
    done = subprocess.run(
        ["sh", "-c", f'exec "{sys.executable}" -m quiz 0<&-'], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0
    assert done.stderr == ""
    assert "Quiz stopped" in done.stdout


def test_ctrl_c_at_the_prompt_exits_0_without_a_traceback():
    process = subprocess.Popen(
        [sys.executable, "-m", "quiz"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        # Wait for the prompt: only then is the process inside readline(), as a learner's is.
        seen = b""
        os.set_blocking(process.stdout.fileno(), False)
        deadline = time.monotonic() + 20
        while b"Your answer (A-D): " not in seen:
            assert time.monotonic() < deadline, f"no prompt: {seen!r}"
            seen += process.stdout.read() or b""
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert err == b""
    assert (seen + out).rstrip().endswith(b"Quiz stopped: 0 of 3 questions checked.")


@pytest.mark.parametrize("argv", [["--help"]])
def test_help_describes_the_options(argv):
    done = run_module(*argv)
    assert done.returncode == 0
    for option in ("--seed", "--shuffle", "--json", "--bank"):
        assert option in done.stdout


@pytest.mark.parametrize("argv", [[], ["report", "--json"]], ids=["quiz", "report"])
def test_the_terminal_loads_no_widgets_and_no_charts(argv, tmp_path):
    # Why quiz/__init__.py, the kinds and the report import these lazily (tests/test_architecture.py, LAZY_IMPORTS).
    args = [*argv, str(tmp_path)] if argv else argv
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "quiz", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "quiz.bank" in imported  # the listing is real
    assert not {name for name in imported if name.split(".")[0] in ("ipywidgets", "matplotlib", "IPython")}
