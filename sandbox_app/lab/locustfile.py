"""A Locust scenario for your own sandbox: `locust -f this_file --host URL` (SANDBOX_KEY from the environment).

Every simulated user runs both tasks, picking the next one at random with weights 3:1: three looks
around (/ping) for each sign-up, which sends a welcome mail with the pattern in $SANDBOX_PATTERN
(blocking unless set). Never imported by the package: importing Locust patches the standard library for gevent.
"""

import os

from locust import HttpUser, constant, task

from sandbox_app.addresses import KEY_HEADER
from sandbox_app.examples import DEFAULT_EMAIL

PATTERN = os.environ.get("SANDBOX_PATTERN", "blocking")


class Visitor(HttpUser):
    """One user clicking as fast as the app answers."""

    wait_time = constant(0)

    def on_start(self) -> None:
        """Carry the sandbox's key on every request."""
        key = os.environ.get("SANDBOX_KEY")
        if key:
            self.client.headers[KEY_HEADER] = key

    @task(3)
    def look_around(self) -> None:
        """A page that sends nothing."""
        self.client.get("ping", name="/ping")

    @task(1)
    def sign_up(self) -> None:
        """A page that sends a mail."""
        self.client.post(f"send/{PATTERN}", json=DEFAULT_EMAIL, name=f"/send/{PATTERN}")
