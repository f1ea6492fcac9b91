"""The course on one real JupyterHub (the session's): a learner runs a lesson and clicks through to the sandbox,
learners get sandboxes of their own that no other learner can use, and the closing quiz records each learner's
answers for the instructor's report.

The hub tests live in this one file: pytest-xdist's --dist loadfile then runs them on one worker, which starts
the session's hub once. Each test has learner names of its own.
"""

import getpass
import io
import json
import re
import shutil
import smtplib
from concurrent.futures import ThreadPoolExecutor

import pytest
from browser_fixtures import (
    NOTEBOOK,
    NOTEBOOKS_DIR,
    run_all_cells,
    strip_notebook_outputs,
    wait_for_kernel_idle,
    write_notebook,
)
from playwright.sync_api import expect
from sandbox_pages import SandboxPage, check_sends_and_inbox, check_stays_under

from quiz import cli, load_bank

pytestmark = pytest.mark.hub
# The first lesson starts the sandbox and links to its inbox page.
COURSE_NOTEBOOK = NOTEBOOKS_DIR / "01-meet-the-sandbox.ipynb"
STATE_DIR = ".local/state/flask-mail-sandbox"  # sandbox_app.paths.state_dir() under each learner's HOME
DELAY = 0.3  # the launcher's sandbox: sandbox_app.jupyter_proxy.LAUNCHER_SMTP_DELAY
NEWS_SETTINGS = ".jupyter/lab/user-settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
QUESTION = load_bank().question("blocking")


def quiet_lab(home):
    """No news pop-up over the learner's JupyterLab, as the course leaves it."""
    settings = home / NEWS_SETTINGS
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def prepare_home(hub, name):
    """A learner's home as the course leaves it: the lesson, and no news pop-up over JupyterLab."""
    assert COURSE_NOTEBOOK.exists(), "build the notebooks first: make notebooks"
    home = hub.home(name)
    shutil.copy(COURSE_NOTEBOOK, home / COURSE_NOTEBOOK.name)
    strip_notebook_outputs(home / COURSE_NOTEBOOK.name)  # every output on the page is new
    quiet_lab(home)
    return home


def log_in(page, hub, name):
    """Log in on the hub's page, as a learner does; wait until their JupyterLab is up."""
    page.goto(hub.url + "hub/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(hub.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"/user/{name}/lab"), timeout=90_000)


@pytest.mark.browser
def test_learner_reaches_the_sandbox_from_a_notebook_through_the_hub(hub, chromium, tmp_path):
    name = "learner"
    prepare_home(hub, name)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        log_in(page, hub, name)
        page.goto(hub.user_url(name) + f"lab/tree/{COURSE_NOTEBOOK.name}?reset")
        wait_for_kernel_idle(page)
        run_all_cells(page)

        # The lesson's link goes through the hub's proxy: the kernel knows its prefix.
        link = page.locator(f"{NOTEBOOK} .jp-OutputArea a[href*='/proxy/']").first
        href = link.get_attribute("href")
        match = re.fullmatch(rf"/user/{name}/proxy/(\d+)/([\w/]*)\?key=[\w-]+", href)
        assert match, href
        with page.expect_popup() as opened:
            link.click()  # the one click
        tab = opened.value
        expect(tab).to_have_url(hub.url + href.split("?")[0].lstrip("/"))  # the key traded for a cookie
        prefix_url = f"{hub.user_url(name)}proxy/{match.group(1)}/"
        tab.get_by_role("link", name="Inbox").click()  # the mail the lesson sent is there
        expect(tab).to_have_url(prefix_url + "inbox")
        expect(tab.locator("table.inbox tbody tr").first).to_be_visible()

        sandbox = SandboxPage(tab, prefix_url).open()  # the / page; every request from now on is recorded
        check_sends_and_inbox(sandbox, prefix_url)
        check_stays_under(sandbox, prefix_url)

        # The launcher's sandbox, through the hub too: one click on "Mail sandbox".
        page.goto(hub.user_url(name) + "lab?reset")
        with page.expect_popup() as opened:
            page.locator(".jp-LauncherCard", has_text="Mail sandbox").click()
        launcher_url = hub.user_url(name) + "sandbox/"
        expect(opened.value).to_have_url(launcher_url)
        launched = SandboxPage(opened.value, launcher_url).open()
        check_sends_and_inbox(launched, launcher_url)
        check_stays_under(launched, launcher_url)
    except Exception:
        page.screenshot(path=tmp_path / "failure.png", full_page=True)
        print(f"screenshot of the failure: {tmp_path / 'failure.png'}")
        raise
    finally:
        context.close()


def test_learners_on_one_machine_get_sandboxes_of_their_own(hub):
    names = ["ana", "ben"]
    tokens = hub.start_learners(names)

    def call(name, method, path, body=None):
        status, reply = hub.request(
            method, hub.user_url(name) + "sandbox/" + path, body, token=tokens[name], timeout=60
        )
        assert status < 300, f"{name}: {method} {path}: {status} {reply}"
        return reply

    # Both open the launcher's sandbox at once; each gets their own app and mail server.
    with ThreadPoolExecutor(len(names)) as pool:
        smtp = dict(zip(names, pool.map(lambda name: call(name, "GET", "api/smtp"), names), strict=True))
    assert smtp["ana"]["address"] != smtp["ben"]["address"]
    call("ana", "POST", "send/blocking", {"to": "ana@example.com", "subject": "from ana", "body": "hi"})
    assert [m["subject"] for m in call("ana", "GET", "api/messages")["messages"]] == ["from ana"]
    assert call("ben", "GET", "api/messages")["count"] == 0

    # Each sandbox keeps its state in its learner's own folder, in a file named by its port.
    logs = {name: sorted((hub.homes / name / STATE_DIR / "logs").glob("sandbox-*.log")) for name in names}
    assert all(len(found) == 1 for found in logs.values()), logs
    assert logs["ana"][0].name != logs["ben"][0].name  # two app ports


# --- one learner cannot use another's sandbox ---------------------------------------------------


def sandbox_port(hub, name):
    """The app port of the learner's launcher sandbox, from the log file it names after it."""
    (log,) = (hub.homes / name / STATE_DIR / "logs").glob("sandbox-*.log")
    return int(re.fullmatch(r"sandbox-(\d+)\.log", log.name).group(1))


@pytest.mark.browser
def test_a_learner_cannot_use_another_learners_sandbox_through_their_own_proxy(hub, chromium):
    """On one hub machine, B reaches A's sandbox port through B's own proxy path: 403, nothing changed."""
    owner, other = "cleo", "dan"
    tokens = hub.start_learners([owner, other])

    def call(name, method, url, body=None):
        return hub.request(method, url, body, token=tokens[name], timeout=60)

    # The owner opens her launcher sandbox: jupyter-server-proxy adds her key, so it just works.
    owner_sandbox = hub.user_url(owner) + "sandbox/"
    status, state = call(owner, "GET", owner_sandbox + "api/smtp")
    assert status == 200 and state["settings"]["delay"] == DELAY
    mail = {"to": "a@example.com", "subject": "hers", "body": "x"}
    assert call(owner, "POST", owner_sandbox + "send/blocking", mail)[0] == 200
    port = sandbox_port(hub, owner)

    # The other, logged in to his own server, tries her port through his proxy: the sandbox refuses.
    other_proxy = f"{hub.user_url(other)}proxy/{port}/"
    for method, path, body in [("GET", "", None), ("GET", "api/messages", None), ("PUT", "api/smtp", {"delay": 3600})]:
        status, reply = call(other, method, other_proxy + path, body)
        assert status == 403, (method, path, status, reply)
        assert "key" in (reply["error"] if isinstance(reply, dict) else json.loads(reply)["error"])

    # In his browser too: the page itself answers 403.
    context = chromium.new_context()
    try:
        page = context.new_page()
        log_in(page, hub, other)
        answer = page.goto(other_proxy)
        assert answer.status == 403
        answer = page.goto(other_proxy + "api/messages")
        assert answer.status == 403 and "key" in answer.json()["error"]
    finally:
        context.close()

    # Nothing changed for the owner: her delay, and her one message.
    status, state = call(owner, "GET", owner_sandbox + "api/smtp")
    assert state["settings"]["delay"] == DELAY
    assert [m["subject"] for m in call(owner, "GET", owner_sandbox + "api/messages")[1]["messages"]] == ["hers"]

    # Over SMTP from the same machine, without her key: refused, nothing captured.
    host, smtp_port = state["address"].split(":")
    with smtplib.SMTP(host, int(smtp_port), timeout=10) as client, pytest.raises(smtplib.SMTPSenderRefused) as refused:
        client.sendmail("dan@example.com", ["cleo@example.com"], b"Subject: hi\r\n\r\nfrom dan")
    assert refused.value.smtp_code == 530
    assert call(owner, "GET", owner_sandbox + "api/messages")[1]["total"] == 1


# --- the closing quiz, answered by two learners, counted in the instructor's report -------------


@pytest.mark.browser
def test_two_learners_answer_differently_and_the_report_counts_both(hub, chromium, tmp_path):
    """The hub records into the class's folder (its Spawner.environment); each learner's file has their hub name."""
    answers = {"eve": QUESTION.answer, "finn": "server-stops"}
    for name in answers:
        write_notebook(hub.home(name) / "quiz.ipynb", ["import quiz\n\nquiz.show()"])  # the closing quiz's cell
        quiet_lab(hub.home(name))
    hub.start_servers(list(answers))  # both at once: the hub spawns them side by side; logging in finds them up
    for name, key in answers.items():
        context = chromium.new_context(viewport={"width": 1280, "height": 1400})
        page = context.new_page()
        try:
            log_in(page, hub, name)
            page.goto(hub.user_url(name) + "lab/tree/quiz.ipynb?reset")
            wait_for_kernel_idle(page)
            run_all_cells(page)
            card = page.locator(f"{NOTEBOOK} .fmq-quiz .fmq-question-blocking")
            card.get_by_label(QUESTION.option(key).text).click()
            card.get_by_role("button", name="Check").click()
            expect(card.locator(".fmq-feedback")).to_contain_text("Correct!" if key == QUESTION.answer else "Not yet.")
        except Exception:
            page.screenshot(path=tmp_path / f"failure-{name}.png", full_page=True)
            raise
        finally:
            context.close()

    # Each learner's file is named by the hub's user name (JUPYTERHUB_USER), not by the Unix user.
    recorded = {path.name for path in hub.responses.iterdir()}
    assert {"eve.jsonl", "finn.jsonl"} <= recorded and f"{getpass.getuser()}.jsonl" not in recorded, recorded
    responses = tmp_path / "responses"  # the report over these two learners: the class folder is the session's
    responses.mkdir()
    for name in answers:
        shutil.copy(hub.responses / f"{name}.jsonl", responses)
    out, err = _report(responses, "--json")
    report = json.loads(out)
    assert report["learners"] == 2 and err == ""
    blocking = report["questions"][0]
    assert blocking["answered"] == 2 and blocking["first_try_correct"] == 1
    assert blocking["first_answers"][QUESTION.answer] == 1 and blocking["first_answers"]["server-stops"] == 1
    table, _err = _report(responses)
    print(table)  # the terminal table, for the record of the run
    assert "most chosen wrong answer: server-stops, chosen first by 1 of 2 (50%)" in table


def _report(*argv):
    """python -m quiz report in-process: (stdout, stderr), exit 0 asserted."""
    out, err = io.StringIO(), io.StringIO()
    assert cli.report_main([str(arg) for arg in argv], stdout=out, stderr=err) == 0
    return out.getvalue(), err.getvalue()
