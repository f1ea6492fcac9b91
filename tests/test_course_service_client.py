"""The kernel's side of recording without a hub: which mode it picks, what it keeps unsent, and the folder mode kept."""

import io
import json
import os
import time
from contextlib import closing

import pytest
from helpers import eventually, refusing_port

import quiz
from quiz import answer_sender, answer_writer, learner, load_bank, view
from quiz.service import hub_config

BANK = load_bank()
RIGHT = BANK.question("blocking").answer


@pytest.fixture
def env(monkeypatch, tmp_path):
    """No recording, no hub, state under tmp_path, the learner 'ada'; retries every 0.1 s."""
    for name in ("QUIZ_RESPONSES_DIR", "QUIZ_SERVICE_URL", "JUPYTERHUB_USER", "JUPYTERHUB_API_TOKEN", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SANDBOX_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("QUIZ_LEARNER", "ada")
    monkeypatch.setattr(answer_writer, "_warned", set())
    monkeypatch.setattr(answer_sender, "_warned", set())
    monkeypatch.setattr(answer_sender, "RETRY_DELAYS", (0.1,))
    monkeypatch.setattr(learner, "_process_id", None)
    monkeypatch.setattr(view, "_current", None)
    return monkeypatch


@pytest.fixture
def down_service(env, tmp_path):
    """QUIZ_SERVICE_URL at a port that refuses, a hub token set, and a folder set too (the service wins)."""
    folder = tmp_path / "responses"
    folder.mkdir()
    env.setenv("QUIZ_RESPONSES_DIR", str(folder))
    env.setenv("JUPYTERHUB_API_TOKEN", "learner-token")
    with refusing_port() as port:
        env.setenv("QUIZ_SERVICE_URL", f"http://127.0.0.1:{port}/services/course/")
        yield folder
    env.delenv("QUIZ_SERVICE_URL")
    (tmp_path / "state" / answer_sender.PENDING_FILE).unlink(missing_ok=True)  # the retry thread then ends


def test_the_folder_mode_still_records_one_line_per_check(env, tmp_path):
    folder = tmp_path / "responses"
    folder.mkdir()
    env.setenv("QUIZ_RESPONSES_DIR", str(folder))
    assert quiz.recording() == f"Answers are written to {folder / 'ada.jsonl'}."
    quiz.Quiz(record=True).answer("blocking", RIGHT)
    (line,) = [json.loads(text) for text in (folder / "ada.jsonl").read_text().splitlines()]
    assert (line["learner"], line["question"], line["answer"], line["correct"]) == ("ada", "blocking", RIGHT, True)


def test_without_a_service_or_a_folder_nothing_is_recorded_and_it_says_so(env, tmp_path):
    assert quiz.recording() == "Answers are not recorded: neither QUIZ_SERVICE_URL nor QUIZ_RESPONSES_DIR is set."
    assert quiz.Quiz(record=True).session.recorder is None


def test_with_the_service_down_an_answer_is_kept_with_its_id_and_the_notebook_shows_one_line(
    down_service, tmp_path, capsys
):
    assert quiz.recording().startswith("Answers are sent to the course service at http://127.0.0.1:")
    shown = quiz.Quiz(record=True)
    shown.answer("blocking", RIGHT)
    shown.answer("verify", BANK.question("verify").answer)
    pending = tmp_path / "state" / answer_sender.PENDING_FILE
    kept = [json.loads(line) for line in pending.read_text().splitlines()]
    assert [(r["question"], r["learner"]) for r in kept] == [("blocking", "ada"), ("verify", "ada")]
    assert len({r["id"] for r in kept}) == 2 and all(len(r["id"]) == 32 for r in kept)  # made once, in the kernel
    assert list(down_service.iterdir()) == []  # the service is configured: the folder is not written
    note = view.render.html_to_text(shown.record_note.value)
    assert "2 answers kept in" in note and "sent when it answers again" in note and "\n" not in note.strip()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err  # one warning line per kernel, not one per click


def test_the_retry_thread_keeps_the_answers_while_the_service_stays_down(down_service, tmp_path):
    recorder = answer_sender.ServiceRecorder(os.environ["QUIZ_SERVICE_URL"])
    assert (
        recorder.append({"session": "s", "question": "blocking", "answer": RIGHT, "correct": True, "attempt": 1})
        is False
    )
    key = (recorder.url, str(recorder.pending))
    eventually(lambda: key in answer_sender._retrying, timeout=2)
    first = recorder.unsent()
    time.sleep(0.35)  # three retries, refused
    assert recorder.unsent() == first and len(first) == 1


def test_without_a_hub_token_the_answer_waits_and_the_line_says_why(down_service, env):
    env.delenv("JUPYTERHUB_API_TOKEN")
    shown = quiz.Quiz(record=True)
    shown.answer("blocking", RIGHT)
    assert "no hub token (JUPYTERHUB_API_TOKEN)" in shown.session.problem


def test_the_hub_config_grants_what_the_kernel_and_the_instructors_need():
    from traitlets.config import Config

    c = Config()
    c.JupyterHub.load_roles = [{"name": "user", "scopes": ["self", "read:users:name"]}]
    c.Spawner.environment = {"PATH": "/usr/bin"}
    hub_config.configure(c, data_dir="/srv/course-service", instructors=["tess"])
    (service,) = c.JupyterHub.services
    assert service["command"][1:] == ["-m", "quiz.service", "--data", "/srv/course-service"]
    assert service["oauth_client_allowed_scopes"] == [hub_config.READ_SCOPE]
    roles = {role["name"]: role for role in c.JupyterHub.load_roles}
    # The instructor's own scopes are kept, and the service's added once.
    assert roles["user"]["scopes"] == ["self", "read:users:name", hub_config.ACCESS_SCOPE, hub_config.WRITE_SCOPE]
    assert roles["course-instructors"]["groups"] == ["instructors"]
    assert c.JupyterHub.load_groups == {"instructors": {"users": ["tess"]}}
    assert c.Spawner.server_token_scopes[:2] == ["users:activity!user", "access:servers!server"]
    assert c.Spawner.environment == {"PATH": "/usr/bin", "QUIZ_SERVICE_URL": "http://127.0.0.1:8000/services/course/"}
    with pytest.raises(ValueError, match="api_token"):
        hub_config.configure(Config(), data_dir="/srv/course-service", managed=False)


def test_the_store_keeps_an_id_once_per_learner_and_exports_what_the_report_reads(tmp_path):
    from quiz import cli
    from quiz.service.storage import Store

    store = Store(tmp_path / "service")
    line = {"id": "a" * 32, "learner": "ada", "session": "s", "question": "blocking", "answer": RIGHT,
            "correct": True, "attempt": 1, "time": "2026-12-07T18:00:00Z", "version": "test"}  # fmt: skip
    assert store.add("ada", [line]) == (1, 0)
    assert store.add("ada", [line, line]) == (0, 2)
    assert store.add("bo", [{**line, "learner": "bo"}]) == (1, 0)  # the same id from another learner is theirs
    assert store.count() == 2 and store.latest() == 2
    assert store.records("ada") == [line]
    written = store.export(tmp_path / "out")
    assert [path.name for path in written] == ["ada.jsonl", "bo.jsonl"]
    store.close()
    with closing(Store(tmp_path / "service")) as reopened:  # closed: Python 3.13 warns about a connection left open
        assert reopened.count() == 2  # on disk, not in memory
    out, err = io.StringIO(), io.StringIO()
    assert cli.report_main([str(tmp_path / "out"), "--json"], stdout=out, stderr=err) == 0
    assert err.getvalue() == "" and json.loads(out.getvalue())["questions"][0]["answered"] == 2


def test_the_service_command_says_what_is_missing_in_one_line(tmp_path, monkeypatch, capsys):
    from quiz.service import __main__ as service_main

    monkeypatch.delenv("QUIZ_SERVICE_DATA", raising=False)
    for argv, expected in (
        ([], "error: name the service's folder with --data DIR or $QUIZ_SERVICE_DATA"),
        (
            ["export", str(tmp_path / "out"), "--data", str(tmp_path)],
            f"error: no course service database in {tmp_path}",
        ),
    ):
        assert service_main.main(argv) == 2
        out, err = capsys.readouterr()
        assert (err.strip(), out) == (expected, "")


def test_without_a_writable_state_folder_the_unsent_answers_wait_in_the_kernel(down_service, env, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state folder should be")
    env.setenv("SANDBOX_STATE_DIR", str(blocker / "state"))
    shown = quiz.Quiz(record=True)
    shown.answer("blocking", RIGHT)
    assert [record["question"] for record in shown.session.recorder.unsent()] == ["blocking"]
    assert "1 answer kept in this kernel" in shown.session.problem
    shown.session.recorder._memory.clear()  # nothing left to send: its retry thread ends
