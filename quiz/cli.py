"""Play the quiz at a terminal prompt: `python -m quiz`, for when widgets are not available."""

from __future__ import annotations

import argparse
import os
import shutil
import string
import sys
import textwrap
from typing import TextIO

from . import json_export, recording, render
from .bank import BankError, Option, Question, load_bank
from .grading import Grader, grade, parse_number


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


def letters(count: int) -> str:
    """'A-D' for four options."""
    return f"A-{string.ascii_uppercase[count - 1]}"


def parse_choice(text: str, count: int) -> int | None:
    """The 0-based option a typed letter (or 1-based number) picks, None if it picks none."""
    text = text.strip().rstrip(").").upper()
    if len(text) == 1 and text in string.ascii_uppercase[:count]:
        return string.ascii_uppercase.index(text)
    if text.isdigit() and 1 <= int(text) <= count:
        return int(text) - 1
    return None


def parse_letters(text: str, count: int) -> list[int] | None:
    """The 0-based options 'A C', 'a,c' or '1 3' picks (each once), None if any part picks none."""
    parts = text.replace(",", " ").split()
    picked = [parse_choice(part, count) for part in parts]
    if not parts or any(index is None for index in picked):
        return None
    return sorted(set(picked))


class Prompts:
    """What the terminal asks and says for one question, by kind."""

    def __init__(self, question: Question, options: tuple[Option, ...]):
        span = letters(len(options)) if options else ""
        unit = question.unit or "a number"
        if question.kind == "numeric":
            self.first = f"Your answer ({unit}): "
            self.retry = f"Try another number ({unit}), or press Enter to move on: "
            self.how = "a number" + (f" of {question.unit}" if question.unit else "") + " and press Enter."
        elif question.kind == "multiple":
            self.first = f"Your answers ({span}, e.g. A C): "
            self.retry = f"Try other answers ({span}), or press Enter to move on: "
            self.how = f"the letters of every answer that applies ({span}), like A C, and press Enter."
        else:
            self.first = f"Your answer ({span}): "
            self.retry = f"Try another answer ({span}), or press Enter to move on: "
            self.how = f"one of the letters {span} and press Enter."


def read_answer(question: Question, options: tuple[Option, ...], typed: str, prompts: Prompts):
    """The answer typed, as grading takes it; ValueError with what to say when it is not one."""
    if question.kind == "numeric":
        try:
            return parse_number(typed, question.unit)
        except ValueError as error:
            raise ValueError(f"{error}; type {prompts.how}") from error
    if question.kind == "multiple":
        picked = parse_letters(typed, len(options))
        if picked is None:
            raise ValueError(f"{typed!r} is not a list of option letters: type {prompts.how}")
        return [options[index].key for index in picked]
    picked = parse_choice(typed, len(options))
    if picked is None:
        raise ValueError(f"{typed!r} is not one of the options: type {prompts.how}")
    return options[picked].key


def play_question(term: Terminal, grader: Grader, number: int, session: recording.Session | None = None) -> None:
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
    prompts = Prompts(question, options)
    prompt = prompts.first
    while True:
        typed = term.ask(prompt)
        if not typed and grader.result(number) is not None:
            term.say()
            return  # Enter after a wrong answer moves on, keeping that answer
        try:
            answer = read_answer(question, options, typed, prompts) if typed else None
        except ValueError as error:
            # Not an answer, so not a wrong one (and a previous answer stands): say how to answer.
            term.say(str(error), indent="  ")
            continue
        if answer is None:
            term.say(f"{grade(question, None).headline} Type {prompts.how}", indent="  ")
            continue
        result = grader.check(number, answer)
        if session is not None:
            session.record("question", question.id, result.answer, result.correct)
        for line in render.feedback_lines(result):
            term.say(line, indent="  ")
        term.say()
        if result.correct:
            return
        prompt = prompts.retry


def play(grader: Grader, term: Terminal, session: recording.Session | None = None) -> None:
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
        "--no-record", action="store_true", help=f"do not record answers, even with {recording.ENV_VAR} set"
    )
    return parser


def main(argv: list[str] | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Run the quiz (or `report ...`); 0 when it ends or the learner stops it, 2 for a bad bank file."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["report"]:
        from .report_cli import main as report_main

        return report_main(argv[1:], stdout=stdout)
    args = build_parser().parse_args(argv)
    stdout = stdout if stdout is not None else sys.stdout
    term = Terminal(stdin if stdin is not None else sys.stdin, stdout)
    try:
        grader = Grader(load_bank(args.bank), shuffle=args.shuffle, seed=args.seed)
    except BankError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    session = recording.session_for(not args.no_record)
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
        json_export.save(grader, args.json)
        term.say(f"Answers written to {args.json}")
    return 0
