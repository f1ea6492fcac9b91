"""The sign-up routes: POST /signup/<way> writes a user and sends the welcome mail one way; GET/DELETE /api/users;
GET/PUT /api/commit-gate holds the commits, for the lesson's races."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, request
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest

from ..database import OutboxMail, User, db
from ..database.gate import POINTS, get_gate, tasks_settled
from ..database.relays import get_relays
from ..patterns.signup import QUEUED_WAYS, WAYS
from ..patterns.signup.welcome import LaterStepFailed
from ..queues.registry import BACKENDS, FIRST_QUEUE
from .api import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, list_limit
from .compose import check_address, read_fields

MAX_NAME = 200
MAX_GATE_SECONDS = 3600

bp = Blueprint("signup", __name__)


def parse_signup(way: str) -> tuple[str, str, str | None, bool]:
    """The address, the name, the queue (`?via=`) and `fail_after_enqueue`; a 400 that says what is wrong."""
    data = read_fields(request)
    missing = [name for name in ("email", "name") if name not in data]
    if missing:
        raise BadRequest(f"missing field(s): {', '.join(missing)} (send email and name)")
    email, name = data["email"], data["name"]
    for field, value in (("email", email), ("name", name)):
        if not isinstance(value, str):
            raise BadRequest(f"'{field}' must be a string")
        if "\r" in value or "\n" in value:
            raise BadRequest(f"'{field}' must not contain CR or LF (header injection)")
    check_address(email, "email")
    if not name.strip() or len(name) > MAX_NAME:
        raise BadRequest(f"'name' must be 1 to {MAX_NAME} characters")
    fail = data.get("fail_after_enqueue", False)
    if fail not in (True, False, "true", "false"):  # a form post sends text
        raise BadRequest("'fail_after_enqueue' must be true or false")
    via = request.args.get("via")
    if way not in QUEUED_WAYS:
        if via is not None:
            raise BadRequest(f"the {way} way sends in the request: it takes no ?via=")
    elif via is None:
        via = FIRST_QUEUE
    elif via not in BACKENDS:
        raise BadRequest(f"unknown queue ?via={via!r}; choose one of: {', '.join(BACKENDS)}")
    return email, name, via, fail in (True, "true")


@bp.post("/signup/<way>")
def sign_up(way):
    """Sign a user up and send the welcome mail the named way: 201 with the user, 409 for an address already
    signed up, 422 when a later step failed (`fail_after_enqueue`) and the transaction rolled back."""
    if way not in WAYS:
        abort(404, f"unknown way {way!r}; choose one of: {', '.join(WAYS)}")
    email, name, via, g.fail_after_enqueue = parse_signup(way)
    if way == "outbox":
        get_relays(current_app).ensure()  # on the outbox's first use, as a queue starts its workers
    # The answer shows the user as written: read back after COMMIT, it cost a second transaction per sign-up (a
    # sixth of its time). This request's session only: it ends with the request.
    db.session().expire_on_commit = False
    try:
        user = WAYS[way](email, name, via)
    except IntegrityError:
        db.session.rollback()
        abort(409, f"{email} has already signed up")
    except LaterStepFailed as error:
        db.session.rollback()
        abort(422, str(error))
    except BaseException:
        db.session.rollback()  # a mail server or a queue that failed: nothing of the sign-up is kept
        raise
    return {"way": way, "via": via, "user": user.to_dict()}, 201


@bp.get("/api/users")
def list_users():
    """The newest `limit` users, newest first, with how many there are."""
    limit = list_limit(request.args.get("limit", str(LIST_LIMIT_DEFAULT)), LIST_LIMIT_MAX)
    users = db.session.scalars(select(User).order_by(User.id.desc()).limit(limit)).all()
    count = db.session.scalar(select(func.count()).select_from(User))
    return {"count": count, "users": [user.to_dict() for user in users]}


@bp.delete("/api/users")
def clear_users():
    """Remove every user, and the outbox's mail with them: the next sign-up starts afresh."""
    deleted = db.session.execute(delete(User)).rowcount
    db.session.execute(delete(OutboxMail))
    db.session.commit()
    return {"deleted": deleted}


@bp.get("/api/commit-gate")
def read_commit_gate():
    """The commit gate of the app process that answers: held, at which point, commits waiting and passed."""
    return get_gate().to_dict()


@bp.put("/api/commit-gate")
def set_commit_gate():
    """Hold the commits (`{"held": true, "at": "before-commit" | "after-commit", "until_settled": "queue",
    "timeout": 30}`: each commit waits until released, or until the queue named has run every task handed to it)
    or let them through (`{"held": false}`)."""
    changes = request.get_json(silent=True)
    if not isinstance(changes, dict) or not isinstance(changes.get("held"), bool):
        abort(400, 'send a JSON object such as {"held": true, "at": "before-commit"} or {"held": false}')
    unknown = set(changes) - {"held", "at", "until_settled", "timeout"}
    if unknown:
        abort(400, f"unknown setting(s): {', '.join(sorted(unknown))} (held, at, until_settled, timeout)")
    gate = get_gate()
    if not changes["held"]:
        gate.release()
        return gate.to_dict()
    at, settled, timeout = changes.get("at", POINTS[0]), changes.get("until_settled"), changes.get("timeout", 30.0)
    if at not in POINTS:
        abort(400, f"'at' is one of {', '.join(POINTS)}, got {at!r}")
    if settled is not None and settled not in BACKENDS:
        abort(400, f"'until_settled' names a queue: one of {', '.join(BACKENDS)}, got {settled!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_GATE_SECONDS:
        abort(400, f"'timeout' is a number of seconds from 0 to {MAX_GATE_SECONDS}, got {timeout!r}")
    gate.hold(tasks_settled(settled) if settled else None, float(timeout), at)
    return gate.to_dict()
