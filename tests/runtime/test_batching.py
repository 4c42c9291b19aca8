"""Frame-budget bucketing: every sequence once, budget kept, similar lengths together."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from netc.runtime import buckets


@given(st.lists(st.integers(1, 60), max_size=40), st.integers(1, 200))
def test_buckets_cover_each_index_once_within_the_budget(lengths, budget):
    batches = buckets(lengths, budget)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert longest * len(batch) <= budget or len(batch) == 1


def test_buckets_group_similar_lengths_longest_first():
    assert buckets([5, 50, 6, 48, 7, 49], 150) == [[1, 5, 3], [4, 2, 0]]
