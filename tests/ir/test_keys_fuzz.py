"""Generated configs through the key registry, the dims and the dataset forms: a result or a NetcError, never
another exception (issue 9: 0 crashes)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netc.data.datasets import dataset_spec, training_dims
from netc.ir import Document, NetcError, Where
from netc.ir.keys import CHECK, DUMP, KEYS, TRAIN, account
from netc.ir.read import Opaque
from netc.trainer.config import read_data_config, read_train_config

from netc.cli import network_of

NAMES = ["network", "num_inputs", "num_outputs", "extern_data", "target", "train", "dev", "device", "task", "log",
         "log_verbosity", "window", "chunking", "sparse_input", "default_input", "load", "get_network", "data",
         "classes", "class", "files", "dim", "shape", "sparse", "start_epoch", "learning_rate_decay", "x"]
STRINGS = ["gpu", "gpu1", "cpu", "cuda:1", "train", "search", "sprint:x", "config:train", "config:f()", "a.hdf",
           "Task12AXDataset:num_seqs=2", "HDFDataset", "Task12AXDataset", "|cat", "stdout", "classes", "data", "",
           "x:y", "1:2"]
values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 2 ** 21) | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(STRINGS) | st.builds(Opaque, st.integers(1, 9), st.integers(1, 9)),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
    | st.dictionaries(st.sampled_from(NAMES), inner, max_size=4),
    max_leaves=10)
NET = {"output": {"class": "softmax", "loss": "ce"}}
configs = st.dictionaries(st.sampled_from(NAMES + sorted(KEYS)[:40]), values, max_size=6)


@settings(max_examples=400, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(config=configs)
def test_generated_configs_give_a_result_or_a_netc_error(config: dict) -> None:
    doc = Document("c.config", {"network": NET} | config)
    for step in (lambda: account(doc, CHECK), lambda: account(doc, TRAIN), lambda: account(doc, DUMP),
                 lambda: network_of(doc, None, None), lambda: read_train_config(doc), lambda: read_data_config(doc),
                 lambda: training_dims(doc.values.get("train"), Where("c.config"), doc.values.get)):
        try:
            step()
        except NetcError:
            pass


@pytest.mark.parametrize("value", [{"class": ["x"]}, {"class": None}, "a\x00b.hdf", [1, "a"], "config:"])
def test_odd_dataset_values_are_netc_errors(value) -> None:
    from netc.data.datasets import dataset_from_config

    with pytest.raises(NetcError):
        dataset_from_config(value, Where("c.config"))
    assert dataset_spec("x.hdf", Where()) == ["x.hdf"]
