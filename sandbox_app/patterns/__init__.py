"""The sending patterns: each module's `send_email(app, msg)` sends and returns the HTTP status."""

from ..queue.mailqueue import init_queue
from . import blocking, bulk, pool, queue, threaded

# One message per request (POST /send/<pattern>): the page's buttons and the bench's rows.
PATTERNS = {
    "blocking": blocking.send_email,
    "threaded": threaded.send_email,
    "pool": pool.send_email,
    "queue": queue.send_email,
}
# Every pattern /api/stats counts: the ones above, and bulk (many messages per request, POST /send/bulk).
COUNTED_PATTERNS = [*PATTERNS, "bulk"]


def init_app(app) -> None:
    """Give the app what the patterns own: the pool, and the queue whose task is `queue.deliver`."""
    pool.init_app(app)
    init_queue(app, queue.deliver)
