"""A jobs module written the way the Flask Mega-Tutorial writes `app/tasks.py`: it builds the app when imported.

Lesson 14 runs it under the stock `rq worker`, which imports a job's module in each work horse, after the fork,
and under a worker that imports it first, as RQ's documentation recommends ("Performance notes").
"""

from ..web.factory import create_app

app = create_app()
app.app_context().push()


def welcome_job() -> str:
    """A job that needs the app: it reads one setting, so what it costs is what running it costs RQ."""
    return app.config["MAIL_DEFAULT_SENDER"]
