"""The async view: an `async def` view awaits the send in a thread; its fire-and-forget twin does not wait."""

import asyncio

from ..mailer import mail


async def send_email(app, msg):
    """Await `mail.send` in a worker thread: the event loop is free meanwhile, but this response still waits."""
    # to_thread copies the context, and with it Flask's app context: mail.send finds current_app.
    await asyncio.to_thread(mail.send, msg)
    return 200


PREPARE_SECONDS = 0.01  # stands in for the async work such a task does first: look up the user, render the mail


async def send_and_forget(msg):
    """The task the fire-and-forget view starts: prepare the mail, then send it (if it is still alive)."""
    await asyncio.sleep(PREPARE_SECONDS)
    await asyncio.to_thread(mail.send, msg)


async def send_email_nowait(app, msg):
    """Start the send as a task and answer at once, without awaiting it."""
    asyncio.get_running_loop().create_task(send_and_forget(msg))  # nobody keeps or awaits this task
    return 202
