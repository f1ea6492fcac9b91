"""Notebook helpers for the lessons: source code, replies, the inbox, links, tables, plots, hints.

Every helper takes the running `Sandbox` (what `sandbox_app.start()` returns) and raises
`SandboxNotRunning` when it has stopped. In a notebook that error, and a NameError in a cell
run before the first one, show as one line saying what to run ("start the sandbox first: run
the first cell") instead of a traceback. Tables and replies have a plain-text view with no
ports, paths or times in it, so a cell showing them gives the same output every run. Plots
return a matplotlib Figure, shown once as the cell's result.
"""

from __future__ import annotations

import html
import inspect
import json as jsonlib
import random
import re
import threading
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from .measure import (
    DEFAULT_EMAIL,
    DelaySweep,
    Samples,
    Timeline,
    base_url,
    blocks_worker,
    timed_exchange,
    wait_until_settled,
)
from .runner import SandboxNotRunning, current

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# Response time limits of usability research (Nielsen, 1993): instant, keeps the flow, loses attention.
FEELS_INSTANT_MS = 100
KEEPS_FLOW_MS = 1000
LOG_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")  # logging's asctime, as the runner writes it
COLORS = {"ping": "#7f7f7f", "blocking": "#d62728", "threaded": "#1f77b4", "pool": "#2ca02c", "queue": "#9467bd"}


# --- The sandbox, and what to say when it is not there -----------------------------------


def running_sandbox(sandbox=None):
    """`sandbox` if it is running, else the running one; SandboxNotRunning when there is none."""
    if sandbox is not None and sandbox.running:
        return sandbox
    running = current()
    if running is None:
        raise SandboxNotRunning()
    return running


def _hint_for(shell, etype, value, tb, tb_offset=None):
    """IPython's custom exception handler: one line for SandboxNotRunning, a hint with a NameError."""
    error = f"\x1b[31m{etype.__name__}\x1b[39m: {value}"
    if issubclass(etype, SandboxNotRunning):
        stb = [error]  # raised deep in a helper: its traceback says nothing useful
    elif current() is None:
        stb = [error, f"\x1b[1mHint\x1b[0m: {SandboxNotRunning()}."]  # the missing name is a symptom, not the cause
    else:
        name = getattr(value, "name", None) or "this name"
        stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
        stb.append(f"\x1b[1mHint\x1b[0m: if {name!r} is set by a cell above this one, run the cells above first.")
    shell._showtraceback(etype, value, stb)
    return stb


def install_hints(shell=None) -> bool:
    """In IPython, show the sandbox's errors as hints (see the module docstring); True when installed."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False
    if shell.custom_exceptions and shell.custom_exceptions != (SandboxNotRunning, NameError):
        return False  # someone else's handler: leave it alone
    shell.set_custom_exc((SandboxNotRunning, NameError), _hint_for)
    return True


@dataclass
class Status:
    """A one-line description of a running sandbox, with no port in it."""

    text: str

    def __repr__(self) -> str:
        return self.text


def status(sandbox) -> Status:
    """Say what is running: the app, its workers, the debug mail server and its delay."""
    sandbox = running_sandbox(sandbox)
    server = sandbox.mail_server
    smtp = f"the debug mail server (delay {server.settings.delay:g} s)" if server else "an outside mail server"
    workers = sandbox.http_server.workers
    return Status(f"The sandbox is running: the app ({workers} workers) and {smtp}, on {sandbox.host} only.")


def reset(sandbox, *, settle=("threaded", "pool")) -> None:
    """Let background sends of `settle` patterns finish, then empty the inbox and zero every counter."""
    sandbox = running_sandbox(sandbox)
    wait_until_settled(sandbox, settle)
    sandbox.app.extensions["sandbox_stats"].reset()
    if sandbox.mail_server is not None:
        sandbox.mail_server.clear()
        sandbox.mail_server.reset_counters()


def log_messages(sandbox, last: int | None = None) -> list[str]:
    """The app's log lines without timestamps ("WARNING threaded: mail not delivered: ..."), the `last` few if given."""
    lines = [LOG_TIMESTAMP.sub("", line) for line in running_sandbox(sandbox).read_log()]
    return lines[-last:] if last else lines


# --- Code, taken from the real modules ------------------------------------------------------


class Source:
    """The source of a module, class or function, shown highlighted with the file it lives in."""

    def __init__(self, *objects: Any) -> None:
        self.parts = [(_where(obj), inspect.getsource(obj)) for obj in objects]

    def _repr_markdown_(self) -> str:
        return "\n\n".join(f"`{where}`\n\n```python\n{code.rstrip()}\n```" for where, code in self.parts)

    def __repr__(self) -> str:
        return "\n\n".join(f"# {where}\n{code.rstrip()}" for where, code in self.parts)


def _where(obj: Any) -> str:
    """Where an object is defined, relative to the repository: 'sandbox_app/send.py: send'."""
    path = Path(inspect.getsourcefile(obj)).resolve()
    try:
        where = path.relative_to(PACKAGE_ROOT).as_posix()
    except ValueError:
        where = inspect.getmodule(obj).__name__
    return where if inspect.ismodule(obj) else f"{where}: {obj.__qualname__}"


def show_source(*objects: Any) -> Source:
    """Show the real code of modules or functions (`inspect.getsource`), never a retyped copy."""
    return Source(*objects)


# --- Requests, one at a time --------------------------------------------------------------


@dataclass
class Reply:
    """One response from the sandbox: status, headers, body and how long it took."""

    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    started_at: float

    @property
    def ms(self) -> float:
        """The response time in milliseconds, as the client saw it."""
        return self.seconds * 1000

    @property
    def finished_at(self) -> float:
        """When the whole response had arrived (epoch seconds)."""
        return self.started_at + self.seconds

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", errors="replace")

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return jsonlib.loads(self.body)
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        """A response header, whatever its capitalisation."""
        return next((value for key, value in self.headers.items() if key.lower() == name.lower()), None)

    @property
    def server_timing(self) -> dict[str, float]:
        """The Server-Timing header as {name: milliseconds}, e.g. {'smtp': 301.2, 'app': 1.1}."""
        timings = {}
        for entry in (self.header("Server-Timing") or "").split(","):
            name, *params = (part.strip() for part in entry.split(";"))
            durations = [float(p[4:]) for p in params if p.startswith("dur=")]
            if name and durations:
                timings[name] = durations[0]
        return timings

    def __repr__(self) -> str:
        try:
            reason = HTTPStatus(self.status).phrase
        except ValueError:  # a status code Python has no name for
            reason = ""
        shown = jsonlib.dumps(self.json) if self.json is not None else self.text[:200]
        return f"{self.method} /{self.path} -> {self.status} {reason}: {shown}"


def call(sandbox, method: str, path: str, json: dict | None = None, timeout: float = 30.0) -> Reply:
    """Send one request to the sandbox and keep everything about the answer."""
    sandbox = running_sandbox(sandbox)
    path = path.lstrip("/")
    exchange = timed_exchange(base_url(sandbox) + path, method, json, timeout)
    sample = exchange.sample
    return Reply(method, path, sample.status, exchange.headers, exchange.body, sample.seconds, sample.started_at)


def get(sandbox, path: str) -> Reply:
    """GET a path of the sandbox, e.g. get(sandbox, "api/stats")."""
    return call(sandbox, "GET", path)


def post(sandbox, path: str, json: dict | None = None) -> Reply:
    """POST JSON to a path of the sandbox, e.g. post(sandbox, "send/blocking", email) (a test email if none)."""
    return call(sandbox, "POST", path, DEFAULT_EMAIL if json is None and path.strip("/").startswith("send/") else json)


def put(sandbox, path: str, json: dict) -> Reply:
    """PUT JSON to a path of the sandbox, e.g. put(sandbox, "api/smtp", {"delay": 0.1})."""
    return call(sandbox, "PUT", path, json)


# --- Tables and links -----------------------------------------------------------------------


class Table:
    """Rows of text shown as an HTML table, and as aligned text where HTML is not shown."""

    def __init__(self, columns: list[str], rows: list[list[str]], caption: str = "", empty: str = "(no rows)") -> None:
        self.columns, self.rows, self.caption, self.empty = columns, rows, caption, empty

    def _repr_html_(self) -> str:
        if not self.rows:
            return f"<p>{html.escape(self.caption or self.empty)}</p>"
        cell = lambda tag, value: f"<{tag} style='text-align:left'>{html.escape(str(value))}</{tag}>"  # noqa: E731
        head = "".join(cell("th", c) for c in self.columns)
        body = "".join("<tr>" + "".join(cell("td", v) for v in row) + "</tr>" for row in self.rows)
        caption = f"<caption style='text-align:left'>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        if not self.rows:
            return self.caption or self.empty
        widths = [max(len(str(v)) for v in column) for column in zip(self.columns, *self.rows)]
        line = lambda values: "  ".join(str(v).ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
        lines = [line(self.columns), line("-" * w for w in widths), *(line(row) for row in self.rows)]
        return "\n".join(([self.caption] if self.caption else []) + lines)


def _short(text: str, limit: int = 80) -> str:
    """The first line of a text, cut to `limit` characters."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


INBOX_COLUMNS = {
    "from": lambda m: m.mail_from,
    "to": lambda m: ", ".join(m.rcpt_tos),
    "subject": lambda m: m.subject,
    "body": lambda m: _short(m.body),
    "bytes": lambda m: m.size,
}


def inbox(sandbox, *, last: int | None = None, columns=("from", "to", "subject", "body")) -> Table:
    """The debug mail server's captured mail as a table, oldest first (the `last` few if given)."""
    sandbox = running_sandbox(sandbox)
    if sandbox.mail_server is None:
        raise ValueError("this sandbox sends to an outside mail server: there is no inbox to show")
    messages = sandbox.mail_server.messages
    shown = messages[-last:] if last else messages
    rows = [[INBOX_COLUMNS[c](m) for c in columns] for m in shown]
    caption = f"Inbox: {len(messages)} message{'s' if len(messages) != 1 else ''} captured"
    if len(shown) < len(messages):
        caption += f", the last {len(shown)} shown"
    return Table(list(columns), rows, caption if messages else "The inbox is empty.")


@dataclass
class Link:
    """A link the learner's browser can open (through JupyterHub's proxy on a hub)."""

    url: str
    text: str

    def _repr_html_(self) -> str:
        return f'<a href="{html.escape(self.url)}" target="_blank" rel="noopener">{html.escape(self.text)}</a>'

    def __repr__(self) -> str:
        return f"{self.text}: {self.url}"


def link(sandbox, path: str = "", text: str | None = None) -> Link:
    """A clickable link to a page of the sandbox, e.g. link(sandbox, "inbox")."""
    sandbox = running_sandbox(sandbox)
    path = path.lstrip("/")
    return Link(sandbox.browser_url + path, text or f"Open /{path} in a new tab")


# --- Threads --------------------------------------------------------------------------------


def run_in_thread(target, *args: Any, timeout: float = 30.0) -> BaseException | None:
    """Run `target(*args)` in a new thread, wait for it, and return what it raised (None if nothing).

    The exception comes back to the caller to print from the cell: an exception left in a thread
    is only printed to stderr, which in a notebook can land in a later cell or nowhere.
    """
    raised: list[BaseException] = []

    def run() -> None:
        try:
            target(*args)
        except BaseException as error:
            raised.append(error)

    thread = threading.Thread(target=run, name="lesson-thread")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"the thread was still running after {timeout:g} s")
    return raised[0] if raised else None


def error_text(error: BaseException | None) -> str:
    """An exception as Python prints its last line: 'RuntimeError: ...' (or 'no error')."""
    return "no error" if error is None else f"{type(error).__name__}: {error}"


# --- Comparing patterns ---------------------------------------------------------------------


def experience(ms: float) -> str:
    """What a response time feels like to a person (usability research's limits)."""
    if ms < FEELS_INSTANT_MS:
        return "feels instant"
    if ms < KEEPS_FLOW_MS:
        return "a noticeable wait"
    return "long enough to lose the user's attention"


@dataclass
class Comparison:
    """One pattern, measured alone and with `clients` clients at once, against the mail server's delay."""

    pattern: str
    delay: float
    alone: Samples
    crowd: Samples | None = None
    clients: int | None = None

    @property
    def blocks_worker(self) -> bool:
        """Whether each response waited for the mail server (the worker was held meanwhile)."""
        return blocks_worker(self.alone, self.delay)

    @property
    def verdict(self) -> str:
        """The page's verdict, from this measurement."""
        return "[X] Bad" if self.blocks_worker else "[OK] Good"

    def row(self, crowd_column: bool = True) -> list[str]:
        """The table row: pattern, blocks the worker?, response delay, (in a crowd,) user experience, verdict."""
        blocks = f"yes, for the mail server's {self.delay * 1000:g} ms" if self.blocks_worker else "no"
        delay = f"p50 {_ms(self.alone.p50_ms)}, p95 {_ms(self.alone.p95_ms)}"
        feel = experience(self.alone.p50_ms)
        crowd = "-"
        if self.crowd is not None:
            crowd = f"p50 {_ms(self.crowd.p50_ms)}, p95 {_ms(self.crowd.p95_ms)}"
            if experience(self.crowd.p50_ms) != feel:
                feel += f"; {experience(self.crowd.p50_ms)} in the crowd"
        return [self.pattern, blocks, delay, *([crowd] if crowd_column else []), feel, self.verdict]


def _ms(value: float) -> str:
    """Milliseconds as people read them: 0.52 ms, 3.4 ms, 204 ms."""
    return f"{value:.2f} ms" if value < 1 else f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


class ComparisonTable(Table):
    """The page's comparison table, rebuilt from measurements."""

    def __init__(self, comparisons: list[Comparison]) -> None:
        self.comparisons = comparisons
        delay = comparisons[0].delay if comparisons else 0
        crowds = {c.clients for c in comparisons if c.crowd is not None}
        with_crowd = bool(crowds)
        columns = ["pattern", "blocks the worker?", "response delay, one client"]
        if with_crowd:
            clients = crowds.pop() if len(crowds) == 1 else None
            columns.append(f"{clients or 'many'} clients at once")
        columns += ["user experience", "verdict"]
        rows = [c.row(crowd_column=with_crowd) for c in comparisons]
        super().__init__(columns, rows, f"Measured here, mail server delay {delay * 1000:g} ms")

    def verdicts(self) -> str:
        """Only what does not change from run to run: each pattern, whether it blocks, its verdict."""
        return "\n".join(
            f"{c.pattern}: {'blocks' if c.blocks_worker else 'does not block'} the worker, {c.verdict}"
            for c in self.comparisons
        )


def comparison_table(
    delay: float, alone: list[Samples], crowd: list[Samples] = (), clients: int | None = None
) -> ComparisonTable:
    """Rebuild the page's table from samples labelled with their pattern (as `measure_send` labels them).

    `delay` is the mail server's delay (s) while measuring; `crowd` holds the same patterns
    measured with `clients` clients at once.
    """
    crowds = {s.label: s for s in crowd}
    return ComparisonTable([Comparison(s.label, delay, s, crowds.get(s.label), clients) for s in alone])


def percentile_table(*samples: Samples, percentiles=(50, 95, 99)) -> Table:
    """Response time percentiles (ms) of each measurement, side by side."""
    columns = ["measured", "n", "min", *(f"p{q:g}" for q in percentiles), "max"]
    rows = [
        [s.label, s.n, f"{s.min_ms:.1f}", *(f"{s.pct(q):.1f}" for q in percentiles), f"{s.max_ms:.1f}"]
        for s in samples
    ]
    return Table(columns, rows, "Response times in ms")


# --- Plots ----------------------------------------------------------------------------------


def _figure(width: float = 7.5, height: float = 3.4, **subplots):
    """A new figure that IPython shows once, as the cell's result (pyplot does not show it again)."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(width, height), layout="constrained", **subplots)
    plt.close(figure)
    return figure, axes


def _color(label: str) -> str:
    """A pattern's colour, from the first word of a label ("blocking, no warm-up" is blocking's)."""
    word = re.match(r"\w*", label).group()
    return COLORS.get(word, "#444444")


def plot_delay_sweep(*sweeps: DelaySweep):
    """Response time against the mail server's delay, every sample as a dot and the medians joined."""
    figure, axes = _figure()
    top = 0.0
    for sweep in sweeps:
        xs = [delay * 1000 for delay in sweep.delays]
        color = _color(sweep.pattern)
        for x in xs:
            values = sweep.runs[x / 1000].ms
            axes.scatter([x] * len(values), values, color=color, alpha=0.5, s=18)
            top = max(top, *values)
        axes.plot(xs, sweep.medians_ms(), "-o", color=color, label=f"{sweep.pattern} (median)")
    longest = max(delay for sweep in sweeps for delay in sweep.delays) * 1000
    axes.plot([0, longest], [0, longest], ":", color="black", label="response = delay")
    axes.set(xlabel="mail server delay (ms)", ylabel="response time (ms)")
    axes.set_title("Does the user wait for the mail server?")
    axes.set_ylim(bottom=0, top=max(top, longest) * 1.1)
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3)
    return figure


def plot_timeline(*timelines: Timeline):
    """For each pattern: the request's span (what the user waits for) over the span of the SMTP send."""
    figure, axes = _figure(height=1.0 + 1.1 * len(timelines))
    labels = []
    for row, timeline in enumerate(reversed(timelines)):
        origin = timeline.request.start
        color = _color(timeline.pattern)
        spans = [
            (timeline.smtp, "SMTP send (mail.send)", 0.35),
            (timeline.request, "HTTP request (the user waits)", 1.0),
        ]
        for offset, (span, what, alpha) in enumerate(spans):
            y = row * 2.5 + offset
            start, width = (span.start - origin) * 1000, span.ms
            axes.barh(y, max(width, 0.5), left=start, height=0.8, color=color, alpha=alpha)
            axes.text(start + max(width, 0.5) + 4, y, f"{width:.1f} ms", va="center", fontsize=9)
            labels.append((y, f"{timeline.pattern}: {what}"))
    axes.set_yticks([y for y, _ in labels], [text for _, text in labels])
    right = max((t.smtp.end - t.request.start) * 1000 for t in timelines)
    axes.set_xlim(left=-5, right=right * 1.25)
    axes.set(xlabel="ms since the request started", title="One request each: when does the user get the answer?")
    axes.grid(axis="x", alpha=0.3)
    return figure


def plot_distributions(*samples: Samples, log: bool = True, title: str = "Response times"):
    """A box plot of each measurement with every sample drawn over it as a dot (log scale by default)."""
    figure, axes = _figure(height=3.8)
    jitter = random.Random(0)  # the same spread of dots every run
    axes.boxplot([s.ms for s in samples], showfliers=False, widths=0.5)
    for position, s in enumerate(samples, start=1):
        xs = [position + jitter.uniform(-0.18, 0.18) for _ in s.ms]
        axes.scatter(xs, s.ms, s=9, alpha=0.45, color=_color(s.label), zorder=3)
    axes.set_xticks(range(1, len(samples) + 1), [f"{s.label}\n(n={s.n})" for s in samples])
    if log:
        axes.set_yscale("log")
    axes.set(ylabel="response time (ms)" + (", log scale" if log else ""), title=title)
    axes.grid(axis="y", alpha=0.3, which="both")
    return figure


def plot_in_order(*samples: Samples, log: bool = False):
    """Each response time against its request number: warm-up effects and hiccups show up as spikes."""
    figure, axes = _figure()
    for s in samples:
        axes.plot(range(1, s.n + 1), s.ms, ".-", color=_color(s.label), label=s.label, alpha=0.8)
    if log:
        axes.set_yscale("log")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set(xlabel="request number", ylabel="response time (ms)")
    axes.set_title("Response times in the order they were measured")
    axes.set_ylim(bottom=0 if not log else None)
    axes.legend()
    axes.grid(alpha=0.3)
    return figure


install_hints()  # importing this module in a notebook is enough
