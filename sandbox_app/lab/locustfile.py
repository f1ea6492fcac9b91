"""A Locust scenario for your own sandbox: `locust -f this_file --host URL` (SANDBOX_KEY from the environment).

Most users only look around (/ping); one in four signs up, which sends a welcome mail with the
pattern in $SANDBOX_PATTERN (blocking unless set). Never imported by the package: importing
Locust patches the standard library for gevent.
"""

import os

from locust import HttpUser, constant, task

PATTERN = os.environ.get("SANDBOX_PATTERN", "blocking")
EMAIL = {"to": "new.user@example.com", "subject": "Welcome!", "body": "Thanks for signing up."}


class Visitor(HttpUser):
    """One user clicking as fast as the app answers."""

    wait_time = constant(0)

    def on_start(self) -> None:
        """Carry the sandbox's key on every request."""
        key = os.environ.get("SANDBOX_KEY")
        if key:
            self.client.headers["X-Sandbox-Key"] = key

    @task(3)
    def look_around(self) -> None:
        """A page that sends nothing."""
        self.client.get("ping", name="/ping")

    @task(1)
    def sign_up(self) -> None:
        """A page that sends a mail."""
        self.client.post(f"send/{PATTERN}", json=EMAIL, name=f"/send/{PATTERN}")
