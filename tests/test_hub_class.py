"""A class on the real hub: eight learners answer at once in their own kernels; the class view counts each by name.

Each learner's kernel, started through the hub in the learner's own server, answers the closing quiz's first
question (every other learner wrong first, then right) and commits and reveals a checkpoint, recording to the
course service with the token the hub gave that server. No sandbox starts: eight lessons would take minutes on two
cores. Each learner's memory is the unique memory (USS) of their server with its kernel, at its peak.
"""

import re
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
from service_fixtures import instructor_token, run_in_kernel

from quiz import load_bank
from tools.memory_per_learner import PeakSampler

pytestmark = pytest.mark.hub
CLASS = [f"pupil{number}" for number in range(1, 9)]  # names no other hub test uses
QUESTION = load_bank().question("blocking")
WRONG = "server-stops"
CHECKPOINT = "blocking-response"
KERNEL_CODE = """\
import quiz
closing = quiz.Quiz(record=True)
for choice in {choices!r}:
    closing.answer("blocking", choice)
guess = quiz.checkpoint({checkpoint!r})
guess.commit(300)
guess.reveal(305.0)
print("recorded:", closing.session.problem, guess.session.problem)
"""


def choices_of(number):
    """What the learner numbered `number` checks, in order: every other one is wrong first."""
    return [WRONG, QUESTION.answer] if number % 2 else [QUESTION.answer]


def class_view(hub, token):
    """The class report's data, as the live view shows it."""
    status, report = hub.request("GET", hub.service_url + "api/class", token=token)
    assert status == 200, report
    return report


def question_stats(report):
    """The closing quiz's first question in a class report."""
    return next(stats for stats in report["questions"] if stats["id"] == QUESTION.id)


def checkpoint_stats(report):
    """The checkpoint in a class report (nothing counted if nobody revealed it yet)."""
    return next(
        (stats for stats in report["checkpoints"] if stats["id"] == CHECKPOINT), {"resolved": 0, "predicted": 0}
    )


def test_eight_learners_answer_at_once_and_the_class_view_counts_each_under_their_own_name(hub):
    token = instructor_token(hub)
    before = class_view(hub, token)
    for name in CLASS:
        hub.home(name)
    began = time.monotonic()
    hub.start_servers(CLASS, timeout=180)  # all at once, as a class opening the same link
    servers_s = time.monotonic() - began
    samplers = {name: PeakSampler(hub.server_process(name).pid, interval=1.0) for name in CLASS}
    codes = {name: KERNEL_CODE.format(choices=choices_of(n), checkpoint=CHECKPOINT) for n, name in enumerate(CLASS, 1)}
    began = time.monotonic()
    with ExitStack() as sampling, ThreadPoolExecutor(len(CLASS)) as pool:
        for sampler in samplers.values():
            sampling.enter_context(sampler)
        printed = dict(
            zip(CLASS, pool.map(lambda name: run_in_kernel(hub, name, codes[name], 180), CLASS), strict=True)
        )
    answered_s = time.monotonic() - began
    assert all("recorded: None None" in text for text in printed.values()), printed  # sent at once, nothing kept

    after = class_view(hub, token)
    assert after["learners"] - before["learners"] == len(CLASS)
    was, now = question_stats(before), question_stats(after)
    assert now["answered"] - was["answered"] == len(CLASS)
    assert now["eventually_correct"] - was["eventually_correct"] == len(CLASS)
    for key in (WRONG, QUESTION.answer):
        assert now["first_answers"].get(key, 0) - was["first_answers"].get(key, 0) == len(CLASS) // 2, key
    for count in ("resolved", "predicted"):
        assert checkpoint_stats(after)[count] - checkpoint_stats(before)[count] == len(CLASS), count

    # Each learner's answers are under their own name only, each answer once.
    ids = set()
    for number, name in enumerate(CLASS, 1):
        status, reply = hub.request("GET", hub.service_url + f"api/answers?learner={name}", token=token)
        assert status == 200 and {record["learner"] for record in reply["answers"]} == {name}, reply
        items = [record.get("question") or record.get("checkpoint") for record in reply["answers"]]
        assert items == [QUESTION.id] * len(choices_of(number)) + [CHECKPOINT]
        ids |= {record["id"] for record in reply["answers"]}
    assert len(ids) == sum(len(choices_of(number)) + 1 for number in range(1, len(CLASS) + 1))

    # The live view's own sections (what its page polls) say the same.
    began = time.monotonic()
    status, sections = hub.request("GET", hub.service_url + "live", token=token)
    shown_s = time.monotonic() - began
    assert status == 200 and f"{after['learners']} learners answered so far" in sections
    counted = re.search(rf'id="question-{QUESTION.id}">.*?Answered by (\d+)', sections, flags=re.S)
    assert counted and int(counted.group(1)) == now["answered"]

    peaks = {name: round(sampler.peak["total"]) for name, sampler in samplers.items()}
    print(
        f"{len(CLASS)} learners: servers ready together in {servers_s:.1f} s, every answer recorded in"
        f" {answered_s:.1f} s, the live view's sections in {shown_s * 1000:.0f} ms; peak USS of each learner's"
        f" server with its kernel (MB): {peaks}; the course service: {hub.service.memory_mb():.0f} MB"
    )
    assert all(peak > 0 for peak in peaks.values()), peaks
