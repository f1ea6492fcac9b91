"""The time model instructors schedule by: every lesson claims at least its minutes, none is over 30, the core track fits 90."""

import json
import textwrap

import pytest
import yaml

from tools import cell_seconds, course, schedule
from tools.course import lesson_paths

TIMES = schedule.course_times()
MODEL = schedule.model()
MYST = "jupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"


def lesson_file(path, body, front="title: t\nminutes: 5\nquestions: [q]\nobjectives: [o]\nkeypoints: [k]\n"):
    """A lesson source in MyST Markdown, as lessons/ has them."""
    path.write_text(f"---\n{MYST}{front}---\n\n{textwrap.dedent(body)}", encoding="utf-8")
    return path


def test_the_model_uses_rates_no_faster_than_experts_do():
    assert MODEL["words_per_minute"] <= 150
    assert MODEL["minutes_per_code_cell"] >= 0.5
    assert MODEL["source_lines_per_minute"] <= 10
    assert MODEL["minutes_per_prediction"] >= 2 and MODEL["minutes_per_question"] >= 2
    assert MODEL["minutes_per_exercise"] >= 5 and MODEL["minutes_per_exercise_line"] > 0


@pytest.mark.parametrize(
    ("stem", "title"),
    [
        ("11-when-sending-fails", "Exercise: which errors are worth trying again?"),
        ("17-sending-once", "Exercise: a guard that sends once"),
    ],
)
def test_the_exercises_the_expert_timed_take_what_the_expert_took(stem, title):
    # Issue 25: `is_temporary` and the send-once guard "took the expert 10 to 15 minutes each".
    (lesson,) = [t for t in TIMES if t.path.stem == stem]
    (section,) = [s for s in lesson.sections if s.title == title]
    assert 10 <= section.minutes <= 15, f"{stem}, {title!r}: {section.minutes:.1f} minutes by the model"


@pytest.mark.parametrize("lesson", TIMES, ids=lambda t: t.path.stem)
def test_every_lesson_claims_at_least_what_the_model_gives_and_not_much_more(lesson):
    assert lesson.claimed >= lesson.minutes, (
        f"{lesson.path.name}: claims {lesson.claimed}, the model gives {lesson.minutes}"
    )
    assert lesson.claimed <= lesson.minutes + MODEL["max_minutes_over_model"], (
        f"{lesson.path.name}: claims {lesson.claimed}, the model gives only {lesson.minutes}"
    )


def test_no_lesson_is_over_the_limit():
    limit = MODEL["max_lesson_minutes"]
    over = {t.path.stem: max(t.minutes, t.claimed) for t in TIMES if max(t.minutes, t.claimed) > limit}
    assert not over, f"over {limit} minutes by the model (split or trim them): {over}"


def test_the_core_track_is_a_short_workshop_on_the_page_s_own_story():
    core = {t.path.stem: t for t in TIMES if t.core}
    minutes = schedule.track_minutes(TIMES)["core"]
    assert minutes <= MODEL["max_core_minutes"], f"the core track takes {minutes} minutes by the model: " + ", ".join(
        f"{stem} {t.core_minutes}" for stem, t in core.items()
    )
    # The page's story: meet the sandbox, blocking, threaded, measuring (its table), and the closing quiz.
    assert {"01-meet-the-sandbox", "02-blocking", "03-threaded", "05-measuring", "06-under-load"} <= set(core)
    assert max(core) == lesson_paths()[-1].stem  # the closing quiz
    assert "The page's table, from your numbers" in core["06-under-load"].core


def test_the_model_counts_what_a_lesson_asks():
    section = schedule.Section("s", words=150, code_cells=2, predictions=1, questions=1, exercise=True)
    assert section.minutes == pytest.approx(1 + 2 * 0.5 + 2 + 2 + 5)


SHOWN = '''\
def shown(x):
    """Four lines, one blank."""

    y = x + 1
    return y
'''


def test_the_model_prices_run_time_shown_source_and_exercises(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(tmp_path)
    (tmp_path / "model_arithmetic_shown.py").write_text(SHOWN, encoding="utf-8")
    measured_cell = (
        "from model_arithmetic_shown import shown\nfrom sandbox_app.lab import show_source\n\nshow_source(shown)"
    )
    lesson = lesson_file(
        tmp_path / "01-arithmetic.md",
        f"""\
        ## Run

        ```{{code-cell}} ipython3
        {textwrap.indent(measured_cell, "        ").lstrip()}
        ```

        ```{{code-cell}} ipython3
        print("changed since it was measured")
        ```

        ## Exercise: one more

        ```{{code-cell}} ipython3
        def attempt():
            return 1
        ```

        <details><summary>Solution</summary>

        ```python
        show_source(shown)
        ```
        </details>
        """,
    )
    seconds = tmp_path / "cell_seconds.yaml"
    cell_seconds.record(
        seconds,
        lesson.stem,
        [
            cell_seconds.CellTime(0, cell_seconds.source_hash(measured_cell), 30.0),
            cell_seconds.CellTime(1, cell_seconds.source_hash('print("as it was")'), 600.0),
        ],
    )
    run, exercise = schedule.time_lesson(lesson, seconds).sections_titled("Run", "Exercise: one more")
    assert (run.code_cells, run.run_seconds, run.unmeasured_cells, run.source_lines) == (2, 30.0, 1, 4)
    assert exercise.unmeasured_cells == 1 and exercise.source_lines == 0
    # its attempt (2 lines), its solution (1 line) and the 4 lines the solution shows
    assert exercise.exercise_lines == 2 + 1 + 4
    rates = MODEL
    assert run.minutes == pytest.approx(
        run.words / rates["words_per_minute"]
        + 2 * rates["minutes_per_code_cell"]
        + 30 / 60
        + 4 / rates["source_lines_per_minute"]
    )
    assert exercise.minutes == pytest.approx(
        exercise.words / rates["words_per_minute"]
        + rates["minutes_per_code_cell"]
        + rates["minutes_per_exercise"]
        + 7 * rates["minutes_per_exercise_line"]
    )


def test_a_show_source_of_something_the_lesson_never_imported_is_an_error(tmp_path):
    lesson = lesson_file(tmp_path / "01-x.md", "## Here\n\n```{code-cell} ipython3\nshow_source(nowhere.thing)\n```\n")
    with pytest.raises(ValueError, match="code cell 0: .*'nowhere' is not imported"):
        schedule.time_lesson(lesson)


def test_a_core_list_naming_no_section_is_an_error(tmp_path):
    front = "title: t\nminutes: 5\ncore: [Nowhere]\nquestions: [q]\nobjectives: [o]\nkeypoints: [k]\n"
    lesson = lesson_file(tmp_path / "01-x.md", "## Here\n\ntext\n", front)
    with pytest.raises(ValueError, match="'core' names no section"):
        schedule.time_lesson(lesson)


@pytest.mark.slow  # a kernel runs the lesson it builds
def test_a_build_records_each_cell_s_seconds_and_leaves_no_timestamps(tmp_path, capsys):
    quick, sleepy = "x = 1", "import time\n\ntime.sleep(0.3)"
    lesson = lesson_file(
        tmp_path / "01-timed.md",
        f"## Cells\n\n```{{code-cell}} ipython3\n{quick}\n```\n\n```{{code-cell}} ipython3\n{sleepy}\n```\n",
    )
    seconds_file, out = tmp_path / "cell_seconds.yaml", tmp_path / "built"
    assert course.main(["build", str(lesson), "--out", str(out), "--cell-seconds", str(seconds_file)]) == 0
    assert "built" in capsys.readouterr().out

    data = yaml.safe_load(seconds_file.read_text())
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu"] and data["machine"]["python"]
    first, second = data["lessons"]["01-timed"]
    assert (first["cell"], first["source"]) == (0, cell_seconds.source_hash(quick))
    assert (second["cell"], second["source"]) == (1, cell_seconds.source_hash(sleepy))
    assert first["seconds"] < 0.3 <= second["seconds"]
    (section,) = schedule.time_lesson(lesson, seconds_file).sections_titled("Cells")
    assert section.unmeasured_cells == 0 and section.run_seconds >= 0.3

    notebook = (out / "01-timed.ipynb").read_text()
    assert "iopub" not in notebook and "execute_reply" not in notebook
    assert all("execution" not in cell["metadata"] for cell in json.loads(notebook)["cells"])


def test_seconds_from_another_machine_are_not_mixed_with_this_one_s(tmp_path):
    seconds = tmp_path / "cell_seconds.yaml"
    elsewhere = {"cpu": "another CPU", "cores": 64, "python": "3.10.0"}
    seconds.write_text(
        yaml.safe_dump({"machine": elsewhere, "lessons": {"01-a": [{"cell": 0, "source": "x", "seconds": 9}]}})
    )
    cell_seconds.record(seconds, "02-b", [cell_seconds.CellTime(0, "y", 1.0)])
    assert cell_seconds.load(seconds) == {
        "machine": cell_seconds.this_machine(),
        "lessons": {"02-b": [{"cell": 0, "source": "y", "seconds": 1.0}]},
    }
    cell_seconds.record(seconds, "01-a", [cell_seconds.CellTime(0, "x", 2.0)])  # same machine: both kept
    assert set(cell_seconds.load(seconds)["lessons"]) == {"01-a", "02-b"}


def test_a_build_of_a_lesson_that_is_not_there_says_so(tmp_path, capsys):
    assert course.main(["build", str(tmp_path / "01-none.md"), "--out", str(tmp_path)]) == 2
    assert "no lesson file" in capsys.readouterr().err
