"""Play the quiz at a terminal prompt: `python -m quiz`, for when widgets are not available."""

from __future__ import annotations

import argparse
import os
import shutil
import string
import sys
import textwrap
from pathlib import Path
from typing import TextIO

from . import answer_writer, render
from .answer_reader import FolderError
from .bank import BankError, load_bank
from .grading import Grader
from .kinds import kind_of
from .report_data import build_report
from .report_render import html_page, to_text


def width() -> int:
    """Columns to wrap at: the terminal's, but no wider than comfortable reading."""
    return min(shutil.get_terminal_size((80, 24)).columns, 88) - 2


class Stop(Exception):
    """The learner left: end of input or Ctrl-C."""


class Terminal:
    """Questions out, answers in, on two text streams."""

    def __init__(self, stdin: TextIO | None, stdout: TextIO):
        self.stdin = stdin
        self.stdout = stdout

    def say(self, text: str = "", indent: str = "", hang: str | None = None) -> None:
        """Print wrapped prose (blank lines kept); hang indents the lines after the first."""
        for paragraph in text.split("\n"):
            wrapped = textwrap.fill(paragraph, width(), initial_indent=indent, subsequent_indent=hang or indent)
            self.stdout.write(wrapped + "\n")
        self.stdout.flush()

    def ask(self, prompt: str) -> str:
        """One line of input without its newline; Stop at end of input."""
        self.stdout.write(prompt)
        self.stdout.flush()
        # sys.stdin is None when the process was started with its stdin closed.
        line = self.stdin.readline() if self.stdin is not None else ""
        if not line:
            self.stdout.write("\n")
            raise Stop
        if not _isatty(self.stdin):
            # A terminal echoes what was typed; piped answers would vanish from the transcript.
            self.stdout.write(line if line.endswith("\n") else line + "\n")
        return line.strip()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or already closed
        return False


def play_question(term: Terminal, grader: Grader, number: int, session: answer_writer.Session | None = None) -> None:
    """Ask one question until it is answered correctly or the learner moves on."""
    question = grader.question(number)
    options = grader.options(number)
    term.say(f"Question {number} of {grader.total}")
    term.say(question.prompt)
    if question.code:
        # Code is shown as written: wrapping would break it.
        term.stdout.write("\n" + textwrap.indent(question.code, "    ") + "\n")
    term.say()
    for letter, option in zip(string.ascii_uppercase, options, strict=False):
        term.say(option.text, indent=f"  {letter}) ", hang="     ")
    if options:
        term.say()
    kind = kind_of(question)
    first, retry, how = kind.prompts(question, options)
    prompt = first
    while True:
        typed = term.ask(prompt)
        if not typed and grader.result(number) is not None:
            term.say()
            return  # Enter after a wrong answer moves on, keeping that answer
        try:
            answer = kind.read_typed(question, options, typed, how) if typed else None
        except ValueError as error:
            # Not an answer, so not a wrong one (and a previous answer stands): say how to answer.
            term.say(str(error), indent="  ")
            continue
        if answer is None:
            term.say(f"{kind.first} Type {how}", indent="  ")
            continue
        result = grader.check(number, answer)
        if session is not None:
            session.record("question", question.id, result.answer, result.correct)
        for line in render.feedback_lines(result):
            term.say(line, indent="  ")
        term.say()
        if result.correct:
            return
        prompt = retry


def play(grader: Grader, term: Terminal, session: answer_writer.Session | None = None) -> None:
    """The whole quiz, then the score."""
    term.say(f"{grader.bank.title}: {grader.total} questions.")
    term.say("Type the letter of your answer and press Enter. Ctrl-D or Ctrl-C stops.")
    term.say()
    for number in range(1, grader.total + 1):
        play_question(term, grader, number, session)
    term.say(render.score_line(grader))


def build_parser() -> argparse.ArgumentParser:
    """The command line options."""
    parser = argparse.ArgumentParser(
        prog="python -m quiz",
        description="Play the course quiz in the terminal.",
        epilog="python -m quiz report DIR... [--json] [--html FILE] prints the class report instead"
        " (python -m quiz report --help).",
    )
    parser.add_argument("--bank", help="a question bank file (default: the course's)")
    parser.add_argument("--shuffle", action="store_true", help="shuffle the options")
    parser.add_argument("--seed", type=int, help="shuffle the options reproducibly with this seed")
    parser.add_argument("--json", metavar="PATH", help="write your answers and score to PATH as JSON")
    parser.add_argument(
        "--no-record", action="store_true", help=f"do not record answers, even with {answer_writer.ENV_VAR} set"
    )
    return parser


def main(argv: list[str] | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Run the quiz (or `report ...`); 0 when it ends or the learner stops it, 2 for a bad bank file."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["report"]:
        return report_main(argv[1:], stdout=stdout)
    args = build_parser().parse_args(argv)
    stdout = stdout if stdout is not None else sys.stdout
    term = Terminal(stdin if stdin is not None else sys.stdin, stdout)
    try:
        grader = Grader(load_bank(args.bank), shuffle=args.shuffle, seed=args.seed)
    except BankError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    session = answer_writer.session_for(not args.no_record)
    try:
        play(grader, term, session)
    except (Stop, KeyboardInterrupt) as stop:
        # Leaving is a normal way to end a quiz, not an error.
        if isinstance(stop, KeyboardInterrupt):
            term.say()  # end the line the ^C was typed on
        term.say(f"Quiz stopped: {grader.answered} of {grader.total} questions checked.")
        if grader.complete:
            term.say(render.score_line(grader))
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): point stdout at devnull so the flush at exit is quiet.
        if stdout is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    if args.json:
        grader.save(args.json)
        term.say(f"Answers written to {args.json}")
    return 0


def build_report_parser() -> argparse.ArgumentParser:
    """The report's command line: `python -m quiz report DIR... [--json] [--html FILE]`."""
    parser = argparse.ArgumentParser(
        prog="python -m quiz report",
        description=f"The class report: what learners answered, read from the folders {answer_writer.ENV_VAR} pointed"
        " at (searched recursively). Each learner's latest session counts; files and lines that are not"
        " responses are skipped and named on stderr.",
    )
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="a folder of <learner>.jsonl files")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.add_argument("--html", metavar="FILE", help="also write one self-contained HTML page with charts")
    parser.add_argument("--bank", help="the question bank the answers belong to (default: the course's)")
    return parser


def report_main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """0 when a report was printed (junk and empty folders included), 2 for a missing folder or a bad bank."""
    args = build_report_parser().parse_args(argv)
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    try:
        report = build_report(args.dirs, load_bank(args.bank))
    except (BankError, FolderError) as error:
        print(f"error: {error}", file=stderr)
        return 2
    for skip in report.skipped:
        print(f"quiz report: skipped {skip}", file=stderr)
    if args.html:
        try:
            Path(args.html).write_text(html_page(report), encoding="utf-8")
        except OSError as error:
            print(f"error: cannot write {args.html}: {error.strerror or error}", file=stderr)
            return 2
        print(f"quiz report: wrote {args.html}", file=stderr)
    if args.json:
        print(report.to_json(), file=stdout)
        if report.empty:
            print(f"quiz report: {report.empty_message}", file=stderr)
    else:
        print(to_text(report), end="", file=stdout)
    return 0
