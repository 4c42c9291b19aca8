"""Fuzzed configs: every input compiles or fails with exit code 2 and a located message; never a traceback."""

from __future__ import annotations

import random
import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hardening.frontend_fuzz import KEYS, VALUES, case_text, check_case

CASES = 2000


def test_mutated_examples_compile_or_fail_cleanly(tmp_path: Path) -> None:
    rng = random.Random(20261122)
    outcomes = [check_case(tmp_path, *case_text(rng)) for _ in range(CASES)]
    assert {"ok", "error"} <= set(outcomes), "the mutations reach both outcomes"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**15), 10**15) | st.floats(allow_nan=False)
    | st.sampled_from(VALUES[:30]) | st.text(string.printable + "\u2212\u201c", max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=12)
layers = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6)
nets = st.dictionaries(st.sampled_from(["output", "fw_0", "bw_0", "a", "b", "#c"]), layers | json_values,
                       min_size=0, max_size=5)


@settings(max_examples=400, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(net=nets)
def test_generated_net_dicts_compile_or_fail_cleanly(tmp_path: Path, net: dict) -> None:
    import json

    check_case(tmp_path, ".json", json.dumps(net))
