"""The service's web application (tornado, as JupyterHub's own services are): identity from the hub, answers in SQLite.

Under the service's prefix (JUPYTERHUB_SERVICE_PREFIX, /services/course/ behind the hub's proxy):

- `POST api/answers` `{"answers": [record, ...]}`: a learner's kernel records with its hub token and the write
  scope; each record carries an id made by the kernel, so a retried POST is stored once. A record naming
  another learner gets 403 for the whole request.
- `GET api/answers[?learner=NAME]`: one's own answers; anyone else's need the read scope.
- `GET api/class`: the class report's data (as `python -m quiz report --json`), read scope.
- `GET api/health`: answers without a token, for readiness checks.
- `GET ` (the prefix itself): the live class view, for the `instructors` group, behind the hub's login (HubOAuth);
  `GET live?part=...` its sections, which the page polls; `GET export` the class's answers as a zip of
  `<learner>.jsonl` files.
- `oauth_callback`: the end of the hub's login for browsers (HubOAuth).
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from http import HTTPStatus
from typing import Any

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated, UserNotAllowed
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.escape import xhtml_escape

from ..answer_reader import parse_line
from ..bank import Bank, load_bank
from ..report_data import report_of
from ..report_render import live_html
from .hub_config import ACCESS_SCOPE, READ_SCOPE, WRITE_SCOPE
from .storage import Store

# A kernel sends what it kept while the service was away in one request: bounded, so one request stays small.
MAX_BATCH = 500
MAX_BODY_BYTES = 4 * 1024 * 1024
ANSWER_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


class ServiceHandler(HubOAuthenticated, web.RequestHandler):
    """Who is asking, from the hub (a token, or the OAuth cookie of a browser); errors as JSON."""

    def initialize(self) -> None:
        self.hub_auth = self.settings["hub_auth"]
        self.store: Store = self.settings["store"]

    async def prepare(self) -> None:
        # The hub's check of the token, awaited: the synchronous path would block every other request meanwhile.
        model = await self.hub_auth.get_user(self, sync=False)
        self.current_user = None
        if model:
            try:
                self.current_user = self.check_hub_user(model)
            except UserNotAllowed:
                raise web.HTTPError(403, f"{model.get('name')} may not use this service ({ACCESS_SCOPE})") from None

    def has_scope(self, scope: str) -> bool:
        """Whether the hub gave the caller's token this scope."""
        return bool(self.current_user and self.hub_auth.check_scopes({scope}, self.current_user))

    def identified(self) -> str:
        """The caller's hub name; 401 without one."""
        if not self.current_user:
            raise web.HTTPError(401, "no hub identity: send 'Authorization: token <JUPYTERHUB_API_TOKEN>'")
        return self.current_user["name"]

    def require(self, scope: str, doing: str) -> str:
        """The caller's name, if its token holds scope; 403 naming what is missing otherwise."""
        name = self.identified()
        if not self.has_scope(scope):
            raise web.HTTPError(403, f"{name} may not {doing} (needs {scope})")
        return name

    def class_report(self):
        """The class report of every stored answer, counted again only when an answer arrived since."""
        # Each instructor's live view asks every second: counting thousands of answers each time would be the
        # service's main work, and the answers change far less often than that.
        cache = self.settings["report_cache"]
        latest = self.store.latest()
        if cache.get("latest") != latest:
            cache.update(latest=latest, report=class_report(self.store, self.settings["bank"]))
        return cache["report"]

    def write_json(self, document: Any, status: int = 200) -> None:
        """Finish with document as JSON, never cached."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(document, ensure_ascii=False))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # The reason given to HTTPError, never a traceback.
        error = kwargs.get("exc_info", (None, None, None))[1]
        reason = getattr(error, "log_message", None) or HTTPStatus(status_code).phrase
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": reason}))


class AnswersHandler(ServiceHandler):
    """Record one's own answers; read one's own (anyone's with the read scope)."""

    async def post(self) -> None:
        name = self.require(WRITE_SCOPE, "record answers")
        if not getattr(self, "_token_authenticated", False):
            # Only a kernel's token records: a browser's cookie alone could be used by another site's form.
            raise web.HTTPError(403, "answers are recorded with a token, not a browser's cookie")
        records = self._records()
        for record in records:
            if record.get("learner", name) != name:
                raise web.HTTPError(403, f"{name} may record only their own answers, not {record['learner']!r}'s")
        valid, rejected = [], []
        for record in records:
            record = {**record, "learner": name}
            problem = _problem(record)
            if problem:
                rejected.append({"id": record.get("id"), "reason": problem})
            else:
                valid.append(record)
        stored, duplicates = self.store.add(name, valid)
        self.write_json({"learner": name, "stored": stored, "duplicates": duplicates, "rejected": rejected})

    async def get(self) -> None:
        name = self.identified()
        learner = self.get_argument("learner", name)
        if learner != name:
            self.require(READ_SCOPE, f"read {learner!r}'s answers")
        self.write_json({"learner": learner, "answers": self.store.records(learner)})

    def _records(self) -> list[dict[str, Any]]:
        try:
            body = json.loads(self.request.body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise web.HTTPError(400, "the body is not JSON") from None
        records = body.get("answers") if isinstance(body, dict) else None
        if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
            raise web.HTTPError(400, 'expected {"answers": [record, ...]}')
        if len(records) > MAX_BATCH:
            raise web.HTTPError(413, f"at most {MAX_BATCH} answers per request")
        return records


class ClassHandler(ServiceHandler):
    """The class report's data, for instructors."""

    async def get(self) -> None:
        self.require(READ_SCOPE, "read the class's answers")
        self.write_json(self.class_report().to_dict())


class PageHandler(ServiceHandler):
    """The instructors' pages: a browser without a hub login is sent to the hub's; a learner gets 403."""

    def instructor(self) -> str:
        """The caller's name if they may read the class (the instructors group); 403 saying so otherwise."""
        name = self.identified()
        if not self.has_scope(READ_SCOPE):
            raise web.HTTPError(403, f"{name} is not in the instructors group: the class view is for instructors")
        return name

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        reason = getattr(error, "log_message", None) or HTTPStatus(status_code).phrase
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Course service</title></head>'
            f"<body><main><h1>{status_code} {HTTPStatus(status_code).phrase}</h1><p>{xhtml_escape(reason)}</p>"
            "</main></body></html>"
        )


class ClassPageHandler(PageHandler):
    """The live class view."""

    @web.authenticated
    async def get(self) -> None:
        name = self.instructor()
        report = self.class_report()
        self.set_header("Cache-Control", "no-store")
        xsrf = self.xsrf_token.decode("ascii")  # HubOAuth's: it checks the page's polls (fetches) for it
        self.finish(live_html(report, self.get_argument("part", ""), user=name, xsrf=xsrf))


class LiveHandler(PageHandler):
    """The live view's sections, as the page polls them."""

    async def get(self) -> None:
        self.instructor()
        report = self.class_report()
        self.set_header("Cache-Control", "no-store")
        self.finish(live_html(report, self.get_argument("part", ""), fragment=True))


class ExportHandler(PageHandler):
    """The class's answers as a zip of <learner>.jsonl files, which `python -m quiz report DIR` reads once unzipped."""

    @web.authenticated
    async def get(self) -> None:
        self.instructor()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in self.store.files().items():
                archive.writestr(f"quiz-responses/{name}", text)
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Disposition", 'attachment; filename="quiz-responses.zip"')
        self.finish(buffer.getvalue())


class HealthHandler(ServiceHandler):
    """Answers without identity: the service is up."""

    async def prepare(self) -> None:
        pass  # no hub round trip for a readiness probe

    async def get(self) -> None:
        self.write_json({"ok": True})


def class_report(store: Store, bank: Bank | None = None):
    """The class report (quiz.report_data) of every stored answer."""
    responses, skipped = [], []
    for number, line in enumerate(store.lines(), start=1):
        try:
            responses.append(parse_line(line, "course service", number))
        except ValueError:
            continue  # checked on the way in; a row from an older course version may not parse: not counted
    return report_of(responses, skipped, bank if bank is not None else _default_bank(), ["the course service"])


def _default_bank() -> Bank:
    return load_bank()


def _problem(record: dict[str, Any]) -> str:
    """Why a record cannot be stored ('' if it can): the folder mode's line format, plus an id."""
    answer_id = record.get("id")
    if not isinstance(answer_id, str) or not ANSWER_ID.fullmatch(answer_id):
        return "field 'id' must be 8 to 64 letters, digits, '-' or '_'"
    try:
        parse_line(json.dumps(record).encode("utf-8"))
    except ValueError as error:
        return str(error)
    return ""


def make_app(store: Store, prefix: str, *, hub_auth: HubOAuth | None = None, bank: Bank | None = None,
             cookie_secret: bytes | None = None) -> web.Application:  # fmt: skip
    """The service's application under prefix (ending in '/')."""
    # The one instance: JupyterHub's OAuth callback handler finds it as HubOAuth.instance().
    hub_auth = hub_auth or HubOAuth.instance()
    if not hub_auth.access_scopes:
        hub_auth.access_scopes = {ACCESS_SCOPE}  # run by hand, without the hub's environment naming it
    if "JUPYTERHUB_SERVICE_PREFIX" not in os.environ:
        hub_auth.base_url = prefix  # the browser login's cookies belong to the service's pages
    handlers = [
        (prefix, ClassPageHandler),
        (prefix.rstrip("/"), web.RedirectHandler, {"url": prefix}),
        (url_path_join(prefix, "live"), LiveHandler),
        (url_path_join(prefix, "export"), ExportHandler),
        (url_path_join(prefix, "api/answers"), AnswersHandler),
        (url_path_join(prefix, "api/class"), ClassHandler),
        (url_path_join(prefix, "api/health"), HealthHandler),
        (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
    ]
    return web.Application(
        handlers,
        hub_auth=hub_auth,
        store=store,
        bank=bank if bank is not None else _default_bank(),
        cookie_secret=cookie_secret,
        report_cache={},
    )
