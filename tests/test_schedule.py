"""The time model instructors schedule by: every lesson claims at least its minutes, none is over 30, the core track fits 90."""

import pytest

from tools import schedule
from tools.course import lesson_paths

TIMES = schedule.course_times()
MODEL = schedule.model()


def test_the_model_uses_rates_no_faster_than_experts_do():
    assert MODEL["words_per_minute"] <= 150
    assert MODEL["minutes_per_code_cell"] >= 0.5
    assert MODEL["minutes_per_prediction"] >= 2 and MODEL["minutes_per_question"] >= 2
    assert MODEL["minutes_per_exercise"] >= 5


@pytest.mark.parametrize("lesson", TIMES, ids=lambda t: t.path.stem)
def test_every_lesson_claims_at_least_what_the_model_gives_and_not_much_more(lesson):
    assert lesson.claimed >= lesson.minutes, (
        f"{lesson.path.name}: claims {lesson.claimed}, the model gives {lesson.minutes}"
    )
    assert lesson.claimed <= lesson.minutes + MODEL["max_minutes_over_model"], (
        f"{lesson.path.name}: claims {lesson.claimed}, the model gives only {lesson.minutes}"
    )


@pytest.mark.parametrize("lesson", TIMES, ids=lambda t: t.path.stem)
def test_no_lesson_is_over_the_limit(lesson):
    assert lesson.minutes <= MODEL["max_lesson_minutes"], f"{lesson.path.name}: {lesson.minutes} minutes by the model"
    assert lesson.claimed <= MODEL["max_lesson_minutes"]


def test_the_core_track_is_a_short_workshop_on_the_page_s_own_story():
    core = {t.path.stem: t for t in TIMES if t.core}
    assert schedule.track_minutes(TIMES)["core"] <= MODEL["max_core_minutes"]
    # The page's story: meet the sandbox, blocking, threaded, measuring (its table), and the closing quiz.
    assert {"01-meet-the-sandbox", "02-blocking", "03-threaded", "04-measuring", "05-under-load"} <= set(core)
    assert max(core) == lesson_paths()[-1].stem  # the closing quiz
    assert "The page's table, from your numbers" in core["05-under-load"].core


def test_the_model_counts_what_a_lesson_asks():
    section = schedule.Section("s", words=150, code_cells=2, predictions=1, questions=1, exercise=True)
    assert section.minutes == pytest.approx(1 + 2 * 0.5 + 2 + 2 + 5)


def test_a_core_list_naming_no_section_is_an_error(tmp_path):
    lesson = tmp_path / "01-x.md"
    myst = "jupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
    front = "title: t\nminutes: 5\ncore: [Nowhere]\nquestions: [q]\nobjectives: [o]\nkeypoints: [k]\n"
    lesson.write_text(f"---\n{myst}{front}---\n\n## Here\n\ntext\n")
    with pytest.raises(ValueError, match="'core' names no section"):
        schedule.time_lesson(lesson)
