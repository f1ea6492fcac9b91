"""The main programs of the sandbox's child processes: the app under a server, the queues' workers.

Nothing imports them but a command line (`gunicorn`, `huey_consumer`, `celery -A`, `python -m`): they sit
above everything they build the app from. Each reads its settings first (`startup.child_settings`).
"""
