"""Frame-budget bucketing: every sequence once, budget kept, and the cheapest runs of the length-sorted sequences
under the cost model `max_len * (count + step_cost)`."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st
from netc.runtime import buckets
from netc.runtime.batching import MAX_ROWS


def cost(lengths: list[int], batches: list[list[int]], step_cost: float) -> float:
    return sum(max(lengths[i] for i in b) * (len(b) + step_cost) for b in batches)


@given(st.lists(st.integers(1, 60), max_size=40), st.integers(1, 200), st.sampled_from([0.0, 0.5, 1.0, 4.0]))
def test_buckets_cover_each_index_once_within_the_budget_longest_first(lengths, budget, step_cost):
    batches = buckets(lengths, budget, step_cost)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch, after in zip(batches, batches[1:] + [[]]):
        longest = max(lengths[i] for i in batch)
        assert longest * len(batch) <= budget or len(batch) == 1
        assert len(batch) <= MAX_ROWS
        assert all(lengths[i] >= lengths[j] for i in batch for j in after)


@given(st.lists(st.integers(1, 30), min_size=1, max_size=8), st.integers(1, 100), st.sampled_from([0.0, 1.0, 3.0]))
def test_buckets_are_the_cheapest_runs_of_the_sorted_lengths(lengths, budget, step_cost):
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    best = float("inf")
    for cuts in itertools.product([False, True], repeat=len(order) - 1):  # every split into runs
        runs, run = [], [order[0]]
        for i, cut in zip(order[1:], cuts):
            runs, run = (runs + [run], [i]) if cut else (runs, run + [i])
        runs.append(run)
        if all(max(lengths[i] for i in r) * len(r) <= budget or len(r) == 1 for r in runs):
            best = min(best, cost(lengths, runs, step_cost))
    assert cost(lengths, buckets(lengths, budget, step_cost), step_cost) == best


def test_buckets_weigh_padding_against_the_cost_per_step():
    assert buckets([5, 50, 6, 48, 7, 49], 150) == [[1, 5, 3], [4, 2, 0]]
    # 100 * (2 + 1) < (100 + 60) * (1 + 1): one batch pays 40 padded frames to save 60 steps
    assert buckets([60, 100], 1000, step_cost=1.0) == [[1, 0]]
    assert buckets([60, 100], 1000, step_cost=0.0) == [[1], [0]]
    assert buckets([60, 100], 150, step_cost=1.0) == [[1], [0]]  # 2 x 100 frames are over the budget
    assert len(buckets([7] * 1000, 10**6)) == 2  # at most MAX_ROWS rows each
