"""The instructor guide: linked from the README, its schedule true to the lessons, its links well formed."""

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tools import schedule
from tools.course import lesson_paths

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "INSTRUCTORS.md"


def test_readme_links_to_the_guide():
    assert "](INSTRUCTORS.md)" in (ROOT / "README.md").read_text()
    assert GUIDE.is_file()


def test_schedule_in_the_guide_is_the_lessons_front_matter():
    assert schedule.guide_table(GUIDE) == schedule.schedule_table(), (
        "INSTRUCTORS.md's schedule differs from lessons/: run `python -m tools.schedule --write`"
    )


def test_schedule_lists_every_lesson_and_adds_up():
    table = schedule.schedule_table()
    rows = re.findall(r"^\| `notebooks/.*\| (\d+) \| (\d+|–) \|$", table, flags=re.M)
    assert len(rows) == len(lesson_paths()) > 0
    whole, core = sum(int(m) for m, _ in rows), sum(int(c) for _, c in rows if c != "–")
    assert f"| **{whole}** | **{core}** |" in table


def test_write_replaces_only_the_table(tmp_path):
    guide = tmp_path / "INSTRUCTORS.md"
    guide.write_text(f"# Guide\n\nbefore\n\n{schedule.BEGIN}\n| old | table |\n{schedule.END}\n\nafter\n")
    assert schedule.write_guide(guide) is True
    text = guide.read_text()
    assert text.startswith("# Guide\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert schedule.guide_table(guide) == schedule.schedule_table()
    assert schedule.write_guide(guide) is False  # already up to date: nothing rewritten


def test_repository_files_the_guide_names_exist():
    named = set(
        re.findall(r"`((?:tests|sandbox_app)/[\w/.-]+\.py|environment\.yml|pyproject\.toml)`", GUIDE.read_text())
    )
    assert named, "the guide names no files?"
    assert [name for name in sorted(named) if not (ROOT / name).exists()] == []


def test_nbgitpuller_link_template_is_well_formed():
    (link,) = [line for line in GUIDE.read_text().splitlines() if "/hub/user-redirect/git-pull?" in line]
    query = parse_qs(urlsplit(link.strip()).query)
    assert set(query) == {"repo", "branch", "urlpath"}
    assert query["repo"] == ["https://YOUR-GIT-HOST/YOUR-ORG/YOUR-COURSE-REPO"]
    # urlpath is relative to the learner's home and must include the clone's folder.
    urlpath = query["urlpath"][0]
    assert re.fullmatch(r"lab/tree/YOUR-COURSE-REPO/notebooks/\d\d-[\w-]+\.ipynb", urlpath)
    # The link opens the first lesson, whatever it is called now.
    (first_lesson,) = [p.stem for p in lesson_paths() if p.name.startswith("01-")]
    assert urlpath.endswith(f"/{first_lesson}.ipynb")
