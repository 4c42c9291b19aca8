"""The config key registry (ir/keys.py): each command reads only its keys; every key is accounted for."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from netc.data.datasets import network_dims
from netc.ir import Document, NetcError, graph_from_document
from netc.ir.keys import CHECK, KEYS, TRAIN, Differs, Refused, Used, account, needed
from netc.ir.pretrain import read_pretrain
from netc.ir.read import Opaque
from netc.trainer.chunking import read_chunking
from netc.trainer.config import TrainConfig, read_train_config
from netc.trainer.initial import KEYS as GIVEN_PARAMS_KEYS
from netc.trainer.initial import read_given_params
from netc.trainer.input_window import read_window

NET = {"output": {"class": "softmax", "loss": "ce"}}
BLOCKED = Opaque(7, 9, "calls get_login_username() imported from returnn.util.basic")
# Keys used by train that read_train_config does not read: the datasets (trainer/setup.py: prepare), the
# network and dims (the graph), adagrad (the optimizer forms of issue 9 item 5, read by read_optimizer), and the
# keys of starting from given parameters (trainer/initial.py: read_given_params).
# Keys of train read by their own readers, each with the values that make it read the key.
OWN_READERS = {**{key: (read_given_params, {}) for key in GIVEN_PARAMS_KEYS},
               **{key: (read_chunking, {"chunking": "20:10"}) for key in ("chunking", "min_chunk_size",
                                                                          "chunking_variance")},
               "window": (read_window, {}),
               **{key: (read_pretrain, {"network": NET, "pretrain": "default"}) for key in (
                   "pretrain", "pretrain_learning_rate", "pretrain_repetitions", "pretrain_construction_algo",
                   "pretrain_copy_output_layer", "pretrain_greedy")}}
NOT_READ_BY_TRAIN_CONFIG = {"train", "dev", "eval", "network", "num_inputs", "num_outputs", "extern_data", "adagrad",
                            "sparse_input", *OWN_READERS}


def check_graph(doc: Document):
    """What `netc check` does with a document: account for its keys, then build with the needed dims only."""
    account(doc, CHECK)
    return graph_from_document(doc, fallback_dims=network_dims(doc, None, None))


def test_every_train_config_field_is_a_key_used_by_train() -> None:
    for field in dataclasses.fields(TrainConfig):
        if field.name != "optimizer_options":
            assert TRAIN in KEYS[field.name].commands, field.name


@pytest.mark.parametrize("key", sorted(k for k, rule in KEYS.items()
                                       if not (isinstance(rule, (Used, Refused)) and CHECK in rule.commands)))
def test_check_never_looks_at_a_key_it_does_not_use(key: str) -> None:
    doc = Document("c.config", {"network": NET, "num_inputs": 3, "num_outputs": 4, key: BLOCKED})
    assert check_graph(doc).dims.num_inputs == 3


def test_check_without_config_dims_ignores_an_opaque_train_dataset_until_a_dim_is_needed() -> None:
    doc = Document("c.config", {"network": NET, "num_outputs": 4, "train": BLOCKED})
    with pytest.raises(NetcError, match=r"input dim is unknown") as error:
        check_graph(doc)
    assert "the train dataset is not computed (calls get_login_username()" in error.value.hint
    assert check_graph(Document("c.config", {"network": NET, "num_inputs": 3, "num_outputs": 4,
                                             "train": BLOCKED})).dims.num_inputs == 3


@pytest.mark.parametrize("key", sorted(k for k, rule in KEYS.items() if isinstance(rule, Used)
                                       and TRAIN in rule.commands and k not in NOT_READ_BY_TRAIN_CONFIG))
def test_train_needs_its_keys_and_says_how_to_give_them(key: str) -> None:
    assert_needs(read_train_config, key)


@pytest.mark.parametrize("key", sorted(OWN_READERS))
def test_train_keys_with_their_own_readers_are_needed_there(key: str) -> None:
    read, values = OWN_READERS[key]
    assert_needs(read, key, values)


def assert_needs(read, key: str, values: dict | None = None) -> None:
    with pytest.raises(NetcError) as error:
        read(Document("c.config", (values or {}) | {key: BLOCKED}))
    assert f"{key!r} is needed, but netc cannot compute it without running the config" in error.value.message
    assert "calls get_login_username() imported from returnn.util.basic" in error.value.message
    assert (error.value.where.line, error.value.where.col, error.value.where.key) == (7, 9, key)
    assert error.value.hint == f"pass ++{key} VALUE, or --exec-config for a trusted config"


@pytest.mark.parametrize("key", ["num_inputs", "num_outputs", "extern_data", "target"])
def test_check_needs_the_network_and_the_dims(key: str) -> None:
    doc = Document("c.config", {"network": NET, "num_inputs": 3, "num_outputs": 4, key: BLOCKED})
    with pytest.raises(NetcError, match=f"{key!r} is needed"):
        check_graph(doc)


def test_check_needs_the_network() -> None:
    doc = Document("c.config", {"network": BLOCKED, "num_inputs": 3, "num_outputs": 4})
    with pytest.raises(NetcError, match="netc cannot compute 'network' without running the config: calls get_login"):
        check_graph(doc)


def test_an_opaque_value_inside_the_network_names_its_key_path() -> None:
    net = {"output": {"class": "softmax", "loss": "ce", "dropout": BLOCKED}}
    with pytest.raises(NetcError, match=r"'network\.output\.dropout' is needed"):
        needed(Document("c.config", {"network": net}), "network")


def test_keys_are_accounted_for_once_grouped_by_reason() -> None:
    doc = Document("c.config", {
        "network": NET, "use_tensorflow": True, "multiprocessing": True, "tf_log_memory_usage": True,
        "window": 1, "truncation": -1, "chunking": "50:25", "min_seq_length": 2, "num_layers": 2, "_": 0,
        "learning_rat": 0.1, "model": BLOCKED, "sprint_trainer_exec_path": "x", "accum_grad_multiple_step": 2})
    assert account(doc, TRAIN).warnings() == [
        "ignored config keys (they steer only RETURNN itself: back end, processes, caches): use_tensorflow, "
        "multiprocessing",
        "ignored config keys (RETURNN's own logging, debugging and profiling): tf_log_memory_usage",
        "ignored config keys (their values are RETURNN's no-ops): truncation",
        "ignored config keys (RASR (Sprint) only): sprint_trainer_exec_path",
        "not implemented, training will differ from RETURNN: min_seq_length (2)",
        "config names neither RETURNN nor netc reads: num_layers, learning_rat (did you mean 'learning_rate'?)"]


def test_a_bare_net_dict_has_no_config_keys() -> None:
    assert account(Document("n.json", NET | {"dropout": {"class": "dropout", "dropout": 0.1}}), CHECK).warnings() == []
    with pytest.raises(NetcError, match="built by code"):
        account(Document("c.config", {"get_network": BLOCKED}), CHECK)


def test_semantics_netc_lacks_are_said_with_the_value() -> None:
    assert isinstance(KEYS["min_seq_length"], Differs)
    doc = Document("c.config", {"network": NET, "min_seq_length": 3, "window": 3})
    assert account(doc, CHECK).warnings() == ["not implemented, training will differ from RETURNN: min_seq_length (3)"]


def test_refused_keys_are_errors_only_for_their_commands() -> None:
    doc = Document("c.config", {"network": NET, "load": "m.001"})
    account(doc, CHECK)
    with pytest.raises(NetcError, match="not from RETURNN's other loading keys") as error:
        account(doc, TRAIN)
    assert error.value.where.key == "load"
    default_input = Document("c.config", {"network": NET, "default_input": "features"})
    with pytest.raises(NetcError, match="always the data key 'data'"):
        account(default_input, CHECK)
    account(Document("c.config", {"network": NET, "default_input": "data"}), CHECK)
    assert all(rule.reason and rule.hint for rule in KEYS.values() if isinstance(rule, Refused))


def test_every_key_returnn_reads_is_in_the_registry() -> None:
    """tests/ir/data/returnn_keys.txt: written by bench/returnn_keys.py from RETURNN's source (current + Theano)."""
    keys = (Path(__file__).parent / "data" / "returnn_keys.txt").read_text().split()
    assert len(keys) > 300
    assert [k for k in keys if k not in KEYS] == []
