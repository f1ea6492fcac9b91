"""Send answers to the course service with the learner's hub token; those it cannot send yet wait in a small file.

QUIZ_SERVICE_URL names the service (through the hub's proxy); JUPYTERHUB_API_TOKEN, which the hub puts in every
learner's server, says who is answering. Each answer gets an id here, once: the service stores an id once, so an
answer sent twice (a retry after a lost reply, two kernels sending the same unsent file) is stored once.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import learner as learners

try:
    import fcntl
except ImportError:  # Windows: the one kernel's own lock only
    fcntl = None

SERVICE_ENV = "QUIZ_SERVICE_URL"
TOKEN_ENV = "JUPYTERHUB_API_TOKEN"
PENDING_FILE = "pending-answers.jsonl"
# A click waits at most this long for the service; an answer not sent by then is kept and sent later.
TIMEOUT = 5.0
# While answers wait, a background thread tries again: soon at first (a service restarting), then every 10 s. A
# managed service that crashed is back at the hub's next poll (30 and 35 s after a kill, measured): the answers
# then arrive within 10 s of it, at one small request per learner every 10 s meanwhile.
RETRY_DELAYS = (2.0, 5.0, 10.0)
# The service takes at most this many answers per request (quiz.service.app.MAX_BATCH).
BATCH = 500

_warned: set[str] = set()  # one stderr line per service and process, not one per click
_retrying: set[tuple[str, str]] = set()  # the (service, file) pairs a retry thread is working on
_retrying_lock = threading.Lock()


class ServiceRecorder:
    """Sends each answer to the course service, keeping it in the unsent file until the service has it; never raises."""

    def __init__(self, url: str, token: str | None = None, learner: str | None = None,
                 pending: str | Path | None = None, timeout: float = TIMEOUT):  # fmt: skip
        self.url = url if url.endswith("/") else url + "/"
        self.token = os.environ.get(TOKEN_ENV, "").strip() if token is None else token
        self._learner = learner
        self.pending = Path(pending) if pending else learners.state_dir() / PENDING_FILE
        self.timeout = timeout
        self.problem: str | None = None
        self._memory: list[str] = []  # unsent lines, when the state folder cannot hold the file
        self._lock = threading.Lock()  # one flush at a time in this kernel (the retry thread and a click)
        self._memory_lock = threading.Lock()  # a click may keep an answer while the retry thread forgets some

    enabled = True

    @property
    def learner(self) -> str:
        """Whose answers these are: the hub's user name in a learner's server."""
        if self._learner is None:
            self._learner = learners.learner_id()
        return self._learner

    def describe(self) -> str:
        """The recording mode, as one sentence."""
        return (
            f"Answers are sent to the course service at {self.url} as {self.learner}"
            f" (unsent ones wait in {self.pending})."
        )

    def check(self) -> bool:
        """Send what an earlier kernel left unsent; False (and one warning) if some still wait."""
        return self.flush() if self.unsent() else True

    def append(self, record: dict[str, Any]) -> bool:
        """Keep the answer (with its id, learner, time and version) as unsent, then send; False if it must wait."""
        line = {"id": uuid.uuid4().hex, "learner": self.learner, **record, "time": utc_now(),
                "version": learners.course_version()}  # fmt: skip
        self._keep(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
        return self.flush()

    def unsent(self) -> list[dict[str, Any]]:
        """The answers kept but not yet acknowledged by the service."""
        with self._file_lock():
            return [json.loads(line) for line in self._read()]

    def flush(self, quiet: bool = False) -> bool:
        """Send every unsent answer; True when none is left. quiet: no stderr line (the retry thread's calls)."""
        with self._lock:
            with self._file_lock():
                lines = self._read()
            done: set[str] = set()
            problem = None
            for start in range(0, len(lines), BATCH):
                batch = [json.loads(line) for line in lines[start : start + BATCH]]
                try:
                    reply = self._post({"answers": batch})
                except SendError as error:
                    problem = str(error)
                    break
                done.update(record["id"] for record in batch)
                for rejected in reply.get("rejected", []):
                    problem = f"the course service refused an answer: {rejected.get('reason')}"
            if done:
                self._forget(done)
            left = len(lines) - len(done)
            if left:
                self._fail(problem, left, quiet)
                self._retry_later()
            else:
                self.problem = None if problem is None else f"quiz: {problem}."
            return left == 0

    # --- the unsent file -------------------------------------------------------------------

    def _keep(self, line: str) -> None:
        try:
            self.pending.parent.mkdir(parents=True, exist_ok=True)
            with self._file_lock(), open(self.pending, "a", encoding="utf-8") as file:
                file.write(line + "\n")
        except OSError:
            with self._memory_lock:
                self._memory.append(line)  # kept for this kernel's life only

    def _read(self) -> list[str]:
        try:
            text = self.pending.read_text(encoding="utf-8")
        except OSError:
            text = ""
        lines = []
        with self._memory_lock:
            memory = list(self._memory)
        for line in [*text.splitlines(), *memory]:
            with contextlib.suppress(json.JSONDecodeError):  # a line cut short by a full disk: nothing to send
                if isinstance(json.loads(line), dict):
                    lines.append(line)
        return lines

    def _forget(self, ids: set[str]) -> None:
        """Take the acknowledged answers out of the file (and memory), keeping any added meanwhile."""
        with self._memory_lock:
            self._memory = [line for line in self._memory if json.loads(line).get("id") not in ids]
        with contextlib.suppress(OSError), self._file_lock():
            keep = [line for line in self._read() if json.loads(line).get("id") not in ids and line not in self._memory]
            spare = self.pending.with_name(f".{PENDING_FILE}.{os.getpid()}")
            spare.write_text("".join(line + "\n" for line in keep), encoding="utf-8")
            os.replace(spare, self.pending)

    @contextlib.contextmanager
    def _file_lock(self):
        """An exclusive lock beside the file: another kernel of the learner's may append or send meanwhile."""
        if fcntl is None:
            yield
            return
        try:
            self.pending.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.pending.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            yield  # no state folder: the answers are in memory, this kernel's alone
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # --- the service -----------------------------------------------------------------------

    def _post(self, document: dict[str, Any]) -> dict[str, Any]:
        """POST to api/answers; the reply, or SendError saying why not."""
        if not self.token:
            raise SendError(f"no hub token ({TOKEN_ENV}) to send answers with")
        request = urllib.request.Request(
            self.url + "api/answers",
            data=json.dumps(document, ensure_ascii=False).encode("utf-8"),
            method="POST",
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise SendError(f"the course service answered {error.code} {_reason(error)}") from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", None) or error
            raise SendError(f"the course service did not answer ({reason})") from None

    def _fail(self, problem: str | None, left: int, quiet: bool) -> None:
        where = "in this kernel" if self._memory else f"in {self.pending}"
        self.problem = (
            f"quiz: {problem}: {left} answer{'s' if left != 1 else ''} kept {where}, sent when it answers again."
            " The quiz works as usual."
        )
        if not quiet and self.url not in _warned:
            _warned.add(self.url)
            print(self.problem, file=sys.stderr)

    def _retry_later(self) -> None:
        """One background thread per service and file tries again until nothing waits."""
        key = (self.url, str(self.pending))
        with _retrying_lock:
            if key in _retrying:
                return
            _retrying.add(key)
        threading.Thread(target=self._retry, args=(key,), name="quiz-unsent-answers", daemon=True).start()

    def _retry(self, key: tuple[str, str]) -> None:
        attempt = 0
        try:
            while True:
                time.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])
                attempt += 1
                if self.flush(quiet=True) or not self.unsent():
                    return
        except Exception:  # noqa: BLE001 - a background thread must never print a traceback into a cell
            return
        finally:
            with _retrying_lock:
                _retrying.discard(key)


class SendError(Exception):
    """The answers could not be sent now; they stay unsent."""


def _reason(error: urllib.error.HTTPError) -> str:
    """The service's {"error": ...}, or the HTTP reason."""
    try:
        return str(json.loads(error.read()).get("error") or error.reason)
    except (ValueError, AttributeError, OSError):
        return str(error.reason)


def utc_now() -> str:
    """UTC time with microseconds: orders the lines of a session."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
