"""The sending patterns: each module's `send_email(app, msg)` sends and returns the HTTP status."""

from . import blocking, threaded

PATTERNS = {
    "blocking": blocking.send_email,
    "threaded": threaded.send_email,
}
