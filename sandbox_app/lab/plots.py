"""Plots for lesson cells: each returns a matplotlib Figure, shown once as the cell's result."""

from __future__ import annotations

import random
import re

from ..measuring import Samples
from .smtp_delay import DelaySweep, Timeline

COLORS = {"ping": "#7f7f7f", "blocking": "#d62728", "threaded": "#1f77b4", "pool": "#2ca02c", "queue": "#9467bd"}


def new_figure(width: float = 7.5, height: float = 3.4, **subplots):
    """A new figure that IPython shows once, as the cell's result (pyplot does not show it again)."""
    import matplotlib.pyplot as plt  # here, not at the top: pyplot takes a second to import, and most cells never plot

    figure, axes = plt.subplots(figsize=(width, height), layout="constrained", **subplots)
    plt.close(figure)
    return figure, axes


def _color(label: str) -> str:
    """A pattern's colour, from the first word of a label ("blocking, no warm-up" is blocking's)."""
    word = re.match(r"\w*", label).group()
    return COLORS.get(word, "#444444")


def plot_delay_sweep(*sweeps: DelaySweep):
    """Response time against the mail server's delay, every sample as a dot and the medians joined."""
    figure, axes = new_figure()
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
    figure, axes = new_figure(height=1.0 + 1.1 * len(timelines))
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
    figure, axes = new_figure(height=3.8)
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
    figure, axes = new_figure()
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
