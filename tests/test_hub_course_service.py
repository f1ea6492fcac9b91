"""The course service on a real JupyterHub: identity from the hub, custom scopes, answers stored exactly once.

Two learners' servers run (their hub tokens are the ones the hub gave their servers, with
Spawner.server_token_scopes); the instructor is in the `instructors` group. The service runs beside the hub,
registered by URL: a test kills it in the middle while a learner keeps answering, and starts it again.
"""

import io
import json
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path

import pytest
from helpers import eventually, missing
from hub_fixtures import INSTRUCTOR
from playwright.sync_api import expect
from service_fixtures import LEARNERS, instructor_token, open_class_view, run_in_kernel

from quiz import answer_sender, cli, load_bank
from quiz.answer_sender import ServiceRecorder
from quiz.service import __main__ as service_main
from quiz.service.hub_config import READ_SCOPE, WRITE_SCOPE

pytestmark = pytest.mark.hub
AXE = Path(__file__).resolve().parent.parent / "build" / "test-tools" / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BANK = load_bank()
BLOCKING = BANK.question("blocking")


def call(hub, method, path, token, body=None):
    """A request to the service through the hub's proxy: (status, parsed JSON)."""
    request = urllib.request.Request(
        hub.service_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def answer(learner, choice=None, answer_id=None):
    """One Check of the closing quiz's first question, as the kernel sends it."""
    return {
        "id": answer_id or uuid.uuid4().hex, "learner": learner, "session": "s-" + learner, "question": "blocking",
        "answer": choice or BLOCKING.answer, "correct": (choice or BLOCKING.answer) == BLOCKING.answer,
        "attempt": 1, "time": "2026-12-07T18:00:00.000000Z", "version": "test",
    }  # fmt: skip


def test_a_learner_records_with_their_servers_token_and_reads_only_their_own(course_hub):
    hub = course_hub
    ana = hub.server_token("ana")
    status, reply = call(hub, "POST", "api/answers", ana, {"answers": [answer("ana")]})
    assert (status, reply["learner"], reply["stored"], reply["duplicates"]) == (200, "ana", 1, 0), reply
    status, reply = call(hub, "GET", "api/answers", ana)
    assert status == 200 and reply["learner"] == "ana" and reply["answers"]
    assert {record["learner"] for record in reply["answers"]} == {"ana"}
    # Anyone else's answers, and the class, need the read scope: 403, saying which.
    status, reply = call(hub, "GET", "api/answers?learner=ben", ana)
    assert status == 403 and READ_SCOPE in reply["error"]
    status, reply = call(hub, "GET", "api/class", ana)
    assert status == 403 and READ_SCOPE in reply["error"]
    # A learner cannot give themselves the read scope: the hub makes tokens only with scopes their owner holds.
    assert hub.request("POST", f"{hub.url}hub/api/users/ana/tokens", {"scopes": [READ_SCOPE]})[0] in (400, 403)


def test_recording_as_another_learner_is_refused_and_stores_nothing(course_hub):
    hub = course_hub
    ana, ben = hub.server_token("ana"), hub.server_token("ben")
    before = call(hub, "GET", "api/answers", ben)[1]["answers"]
    status, reply = call(hub, "POST", "api/answers", ana, {"answers": [answer("ana"), answer("ben")]})
    assert status == 403 and "only their own" in reply["error"]
    assert call(hub, "GET", "api/answers", ben)[1]["answers"] == before
    # No token, or a token without the write scope (the instructor's): no recording either.
    assert call(hub, "POST", "api/answers", "not-a-token", {"answers": [answer("ana")]})[0] == 401
    status, reply = call(hub, "POST", "api/answers", instructor_token(hub), {"answers": [answer(INSTRUCTOR)]})
    assert status == 403 and WRITE_SCOPE in reply["error"]


def test_an_answer_retried_with_the_same_id_is_stored_once(course_hub):
    hub = course_hub
    ben = hub.server_token("ben")
    record = answer("ben", "server-stops")
    replies = [call(hub, "POST", "api/answers", ben, {"answers": [record]})[1] for _ in range(3)]
    assert [(reply["stored"], reply["duplicates"]) for reply in replies] == [(1, 0), (0, 1), (0, 1)]
    stored = call(hub, "GET", "api/answers", ben)[1]["answers"]
    assert [r["id"] for r in stored].count(record["id"]) == 1
    # A malformed record is refused by name, and the rest of its batch is stored.
    bad = {**answer("ben"), "attempt": 0}
    reply = call(hub, "POST", "api/answers", ben, {"answers": [bad, answer("ben")]})[1]
    assert reply["stored"] == 1 and reply["rejected"] == [{"id": bad["id"], "reason": bad_reason(bad)}]


def bad_reason(record):
    from quiz.answer_reader import parse_line

    try:
        parse_line(json.dumps(record).encode())
    except ValueError as error:
        return str(error)
    raise AssertionError("the record was meant to be malformed")


def test_answers_given_while_the_service_restarts_are_kept_and_delivered_exactly_once(
    course_hub, tmp_path, capsys, monkeypatch
):
    hub = course_hub
    # The kernel's retry thread, every 0.2 s: its own schedule (2 s, 5 s, then every 10 s) is the client tests'
    # (tests/test_course_service_client.py); here it only has to find the service back.
    monkeypatch.setattr(answer_sender, "RETRY_DELAYS", (0.2,))
    pending = tmp_path / "state" / answer_sender.PENDING_FILE
    recorder = ServiceRecorder(hub.service_url, token=hub.server_token("ana"), learner="ana", pending=pending)
    session = "restart-" + uuid.uuid4().hex[:8]
    sent = lambda n: [recorder.append({"session": session, "question": "blocking", "answer": BLOCKING.answer,
                                       "correct": True, "attempt": n})]  # fmt: skip
    assert sent(1) == [True] and recorder.unsent() == [] and recorder.problem is None

    killed = hub.service.pid
    hub.service.kill()  # SIGKILL, as a crash or an out-of-memory kill ends it
    results = [sent(n)[0] for n in (2, 3, 4)]
    assert results == [False, False, False]
    assert [record["attempt"] for record in recorder.unsent()] == [2, 3, 4]  # kept, in the learner's state folder
    assert len(pending.read_text().splitlines()) == 3
    # One line in the notebook, saying the answers will be sent later; never a traceback.
    assert "\n" not in recorder.problem and "3 answers kept" in recorder.problem
    assert "sent when it answers again" in recorder.problem
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    time.sleep(0.5)  # the retry thread's tries meet the service down too: they keep the answers, never lose them
    assert [record["attempt"] for record in recorder.unsent()] == [2, 3, 4]

    # Started again on the same port, with the same database and token (what the hub would do at its next poll);
    # nobody clicks again: the kernel's retry thread sends what was kept.
    restarted = time.monotonic()
    hub.service.start()
    assert hub.service.pid != killed
    eventually(lambda: not recorder.unsent(), timeout=15, interval=0.05)
    print(f"the kept answers arrived {time.monotonic() - restarted:.2f} s after the service was started again")
    assert pending.read_text() == ""
    # The same answers sent again (another kernel read the same file before it was emptied): stored once.
    again = [{**record, "learner": "ana"} for record in stored_in(hub, "ana", session)]
    assert call(hub, "POST", "api/answers", hub.server_token("ana"), {"answers": again})[1]["duplicates"] == 4
    attempts = sorted(record["attempt"] for record in stored_in(hub, "ana", session))
    assert attempts == [1, 2, 3, 4]


def stored_in(hub, learner, session):
    """The learner's stored answers of one session, read by the instructor."""
    reply = call(hub, "GET", f"api/answers?learner={learner}", instructor_token(hub))[1]
    return [record for record in reply["answers"] if record["session"] == session]


def test_the_instructor_reads_the_class_and_its_export_is_what_the_report_reads(course_hub, tmp_path):
    hub = course_hub
    for name in LEARNERS:
        call(hub, "POST", "api/answers", hub.server_token(name), {"answers": [answer(name, "server-stops")]})
    status, live = call(hub, "GET", "api/class", instructor_token(hub))
    assert status == 200 and live["learners"] >= len(LEARNERS)
    assert call(hub, "GET", "api/answers?learner=ben", instructor_token(hub))[0] == 200

    out = tmp_path / "export"
    assert service_main.main(["export", str(out), "--data", str(hub.service_data)]) == 0
    # One file per learner who answered (the session's other hub tests answer too), ana's and ben's among them.
    files = {path.name for path in out.iterdir()}
    assert {f"{name}.jsonl" for name in LEARNERS} <= files and len(files) == live["learners"]
    stdout, stderr = io.StringIO(), io.StringIO()
    assert cli.report_main([str(out), "--json"], stdout=stdout, stderr=stderr) == 0
    assert stderr.getvalue() == ""  # every exported line is a response the report reads unchanged
    exported = json.loads(stdout.getvalue())
    assert exported["learners"] == live["learners"] and exported["questions"] == live["questions"]
    assert exported["checkpoints"] == live["checkpoints"]


def test_a_learners_kernel_records_under_their_hub_name_through_the_proxy(course_hub):
    hub = course_hub
    printed = run_in_kernel(
        hub,
        "ben",
        "import quiz\nprint(quiz.recording())\n"
        "shown = quiz.Quiz(record=True)\nshown.answer('blocking', 'server-stops')\n"
        "print(shown.session.id, shown.session.problem)\n",
    )
    lines = printed.splitlines()
    assert lines[0].startswith(f"Answers are sent to the course service at {hub.service_url} as ben"), printed
    session, problem = lines[1].split()
    assert problem == "None", printed
    (stored,) = stored_in(hub, "ben", session)
    assert (stored["learner"], stored["answer"], stored["correct"]) == ("ben", "server-stops", False)


@pytest.mark.browser
def test_the_live_view_is_for_instructors_and_shows_an_answer_within_two_seconds(course_hub, chromium, tmp_path):
    if not AXE.is_file():
        missing("axe-core is not in build/test-tools", "install npm, then `make test-deps`")
    hub = course_hub
    question = BANK.lesson_questions[1]  # one no other test answers
    section = f"#question-{question.id} .fmq-stats"
    context = chromium.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        open_class_view(page, hub, INSTRUCTOR)
        expect(page.locator("h1")).to_contain_text("Live class view")
        expect(page.locator(section)).to_contain_text("Answered by 0")
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
            ".then(r => r.violations.map(v => v.id + ': ' + v.nodes.length))",
            WCAG,
        )
        assert violations == []

        record = {**answer("ana", question.answer), "question": question.id}
        assert call(hub, "POST", "api/answers", hub.server_token("ana"), {"answers": [record]})[1]["stored"] == 1
        sent = time.monotonic()
        expect(page.locator(section)).to_contain_text("Answered by 1", timeout=2000)  # without a reload
        print(
            f"answer to view: {time.monotonic() - sent:.2f} s; the service's memory: {hub.service.memory_mb():.0f} MB USS"
        )
        assert page.locator(f"#question-{question.id} td.fmq-right").first.inner_text() == question.answer

        page.select_option("#fmq-part", question.lesson)
        page.get_by_role("button", name="Show").click()
        expect(page.locator(section)).to_be_visible()
        assert page.locator("h2.fmq-part").all_inner_texts() == [f"Lesson questions: {question.lesson}"]

        with page.expect_download() as download:
            page.get_by_role("link", name="Export the class's answers (.zip)").click()
        with zipfile.ZipFile(download.value.path()) as archive:
            assert "quiz-responses/ana.jsonl" in archive.namelist()
        assert errors == []
    except Exception:
        page.screenshot(path=tmp_path / "live-view.png", full_page=True)
        print("status line:", page.locator("#fmq-status").inner_text(), "errors:", errors)
        raise
    finally:
        context.close()

    # A learner who logs in to the hub and opens the page is refused, with the reason.
    context = chromium.new_context()
    try:
        page = context.new_page()
        open_class_view(page, hub, "ben")
        expect(page.locator("body")).to_contain_text("not in the instructors group")
    finally:
        context.close()
