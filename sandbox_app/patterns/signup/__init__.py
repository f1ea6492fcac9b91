"""Four ways to send the welcome mail of a sign-up, each a `sign_up(email, name, via)` that writes the user and commits.

`via` names the queue behind the queued ways by its public pattern name: "queue" (Huey), "celery", "rq".
"""

from . import after_commit, in_transaction, inline, outbox

WAYS = {
    "inline": inline.sign_up,
    "in-transaction": in_transaction.sign_up,
    "after-commit": after_commit.sign_up,
    "outbox": outbox.sign_up,
    # The task carries the address instead of the id: it never misses a user, and welcomes one who rolled back.
    "in-transaction-address": in_transaction.sign_up_with_address,
}
QUEUED_WAYS = [way for way in WAYS if way != "inline"]
