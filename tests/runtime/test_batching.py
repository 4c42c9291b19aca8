"""Frame-budget bucketing: every sequence once, budget and length spread kept, similar lengths together."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from netc.runtime import buckets


@given(st.lists(st.integers(1, 60), max_size=40), st.integers(1, 200), st.sampled_from([0.0, 0.1, 0.5, 1.0]))
def test_buckets_cover_each_index_once_within_the_limits(lengths, budget, spread):
    batches = buckets(lengths, budget, spread)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert longest * len(batch) <= budget or len(batch) == 1
        assert all(lengths[i] >= (1 - spread) * longest for i in batch)


def test_buckets_group_similar_lengths_longest_first():
    assert buckets([5, 50, 6, 48, 7, 49], 150, max_spread=0.5) == [[1, 5, 3], [4, 2, 0]]
    assert buckets([5, 50, 6, 48, 7, 49], 1000, max_spread=0.5) == [[1, 5, 3], [4, 2, 0]]
    assert buckets([100, 95, 89, 81], 1000, max_spread=0.1) == [[0, 1], [2, 3]]
