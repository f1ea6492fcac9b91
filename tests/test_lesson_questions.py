"""Every lesson from 02 on ends with a graded question of its own, from the bank, asked before its key points."""

import html
import re

import markdown_it
import pytest

import quiz
from quiz.kinds import kind_of
from quiz.model import format_number
from quiz.public import escape
from tools.course import lesson_paths, notebook_from_lesson

BANK = quiz.load_bank()
ASKED = re.compile(r'quiz\.ask\("([\w-]+)"')
CHECKPOINT = re.compile(r'quiz\.checkpoint\("([\w-]+)"')
LESSONS = [path for path in lesson_paths() if not path.name.startswith("01-")]
# Slugs of lessons not written yet, whose questions the bank drafts ahead of them.
DRAFTS: set[str] = set()  # none today


def code_of(path):
    return [c.source for c in notebook_from_lesson(path).cells if c.cell_type == "code"]


@pytest.mark.parametrize("lesson", [p for p in LESSONS if p != lesson_paths()[-1]], ids=lambda p: p.stem)
def test_the_lesson_ends_with_one_or_two_of_its_questions(lesson):
    nb = notebook_from_lesson(lesson)
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    asked = [ASKED.findall(nb.cells[i].source) for i in code_cells]
    ids = [qid for found in asked for qid in found]
    assert 1 <= len(ids) <= 2, f"{lesson.name} asks {ids}"
    assert asked[-1], f"{lesson.name}: the last code cell should ask the lesson's question"
    assert nb.cells[-1].source.startswith("## Key points")  # the question comes just before them
    lessons = {BANK.lesson_question(qid).lesson for qid in ids}
    assert len(lessons) == 1, f"{lesson.name}: its questions belong to one lesson slug, not {lessons}"


def asked_in_lessons():
    return {qid for path in lesson_paths() for source in code_of(path) for qid in ASKED.findall(source)}


def test_every_lesson_question_is_asked_in_a_lesson_and_every_asked_one_exists():
    drafts = {q.id for q in BANK.lesson_questions if q.lesson in DRAFTS}
    assert asked_in_lessons() - drafts == {q.id for q in BANK.lesson_questions} - drafts


def test_drafted_questions_wait_for_their_lesson():
    drafts = {q.id: q.lesson for q in BANK.lesson_questions if q.lesson in DRAFTS}
    assert set(drafts.values()) == DRAFTS, "a slug in DRAFTS has no question in the bank"
    asked = asked_in_lessons() & set(drafts)
    assert not asked, f"a lesson asks {sorted(asked)} now: take its slug out of DRAFTS"


def test_every_checkpoint_a_lesson_uses_has_its_feedback_in_the_bank():
    used = {cid for path in lesson_paths() for source in code_of(path) for cid in CHECKPOINT.findall(source)}
    assert used and all(BANK.checkpoint(cid) is not None for cid in used), used - {c.id for c in BANK.checkpoints}


def test_a_lesson_question_grades_records_and_reports(tmp_path, monkeypatch):
    monkeypatch.setenv("QUIZ_RESPONSES_DIR", str(tmp_path))
    monkeypatch.setenv("QUIZ_LEARNER", "ada")
    shown = quiz.ask("blocking-two-mails")
    wrong = shown.answer("one-delay")
    assert not wrong.correct and "nothing overlaps" in shown.feedback
    assert (
        shown.answer("two-delays").correct and repr(shown) == "LessonQuestion('blocking-two-mails', lesson 'blocking')"
    )
    report = quiz.class_report(tmp_path)
    (stats,) = report.lessons["blocking"]
    assert (stats.answered, stats.first_try_correct, stats.eventually_correct) == (1, 0, 1)
    assert "Lesson questions: blocking" in str(report)


def test_public_markdown_never_gives_the_answer_away():
    for item in (*BANK.questions, *BANK.lesson_questions, *BANK.checkpoints):
        text = quiz.public_markdown(item.id)
        # Every line is the prompt, the code, how to answer or an option: nothing else can slip in.
        allowed = {"", escape(item.prompt), kind_of(item).how_to_answer(item), "```python", "```"}
        allowed |= set((item.code or "").splitlines())
        allowed |= {f"- {letter}. {escape(o.text)}" for letter, o in zip("ABCDEFGH", item.options, strict=False)}
        assert set(text.splitlines()) <= allowed, (item.id, set(text.splitlines()) - allowed)
        secrets = [o.feedback for o in item.options] + [item.explanation]
        secrets += [item.feedback[d] for d in ("low", "close", "high")] if item.feedback is not None else []
        assert not any(secret and secret in text for secret in secrets), item.id
        if item.answer is not None and item.kind == "numeric":
            assert format_number(item.answer) not in text, item.id


def test_public_markdown_renders_as_the_prompt_and_a_list_of_the_options():
    md = markdown_it.MarkdownIt("commonmark")
    for item in (*BANK.questions, *BANK.lesson_questions, *BANK.checkpoints):
        page = md.render(quiz.public_markdown(item.id))
        shown = html.unescape(re.sub(r"<[^>]+>", "", page))  # the text a reader sees
        assert " ".join(item.prompt.split()) in " ".join(shown.split()), item.id  # markup characters shown as typed
        assert page.count("<li>") == len(item.options), item.id
        for option in item.options:
            assert option.text in shown, (item.id, option.key)
