"""The rules lesson tables follow: a percentile only with samples above it, usability research's three limits."""

import pytest

from sandbox_app.lab import percentile_table
from sandbox_app.lab.tables import TOO_FEW, enough_samples
from sandbox_app.lab.under_load import comparison_table, experience
from sandbox_app.measuring import Sample, Samples, percentile


def samples(label: str, n: int, ms: float = 10.0) -> Samples:
    """`n` made-up samples of `ms` each and then one slower: only the table's layout is under test."""
    return Samples(label, [Sample(0.0, (ms + number) / 1000, 200) for number in range(n)])


@pytest.mark.parametrize(
    ("n", "q", "enough"),
    [(1, 50, False), (3, 50, True), (20, 95, False), (21, 95, True), (100, 99, False), (101, 99, True),
     (1000, 99.9, False), (1001, 99.9, True), (10**6, 100, False)],
)  # fmt: skip
def test_a_percentile_needs_1_plus_100_over_100_minus_q_samples(n, q, enough):
    assert enough_samples(n, q) is enough


@pytest.mark.parametrize("q", [95, 99])
def test_the_rule_is_where_the_percentile_stops_restating_the_two_slowest_samples(q):
    # Distinct times, so that "between the two slowest" is unambiguous: the course's own percentile().
    first_enough = next(n for n in range(2, 1000) if enough_samples(n, q))
    for n, enough in ((first_enough - 1, False), (first_enough, True)):
        ms = sorted(float(i) for i in range(1, n + 1))
        p = percentile(ms, q)
        assert (p > ms[-2]) is not enough, (n, p)  # too few: strictly between the two slowest
        assert p < ms[-1]  # the slowest lies beyond it either way: that alone is not the rule


def test_the_table_shows_a_dash_where_a_percentile_has_too_few_samples():
    table = percentile_table(samples("few", 15), samples("some", 21), samples("many", 101))
    assert table.columns == ["measured", "n", "min", "p50", "p95", "p99", "max"]
    few, some, many = table.rows
    assert few[4:6] == [TOO_FEW, TOO_FEW] and few[3] != TOO_FEW
    assert some[4] != TOO_FEW and some[5] == TOO_FEW
    assert TOO_FEW not in many
    assert "too few samples" in table.caption
    assert "too few" not in percentile_table(samples("many", 101)).caption


def test_the_comparison_table_follows_the_same_rule():
    table = comparison_table(0.0, [samples("threaded", 15)])
    assert table.rows[0][2] == f"p50 17.0 ms, p95 {TOO_FEW}"


@pytest.mark.parametrize(
    ("ms", "feel"),
    [(99, "feels instant"), (100, "a noticeable wait"), (999, "a noticeable wait"),
     (1000, "breaks the user's flow of thought"), (9999, "breaks the user's flow of thought"),
     (10_000, "long enough to lose the user's attention")],
)  # fmt: skip
def test_experience_uses_the_three_limits_of_usability_research(ms, feel):
    assert experience(ms) == feel
