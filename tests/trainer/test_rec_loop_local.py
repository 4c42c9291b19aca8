"""netc trains RETURNN's local (windowed) attention decoder (returnn-experiments 2019-asr-local-attention) as
RETURNN does: the window position `p_t_in` (the argmax of the previous step's weights) and the softmax over the
window [p_t_in, p_t_in + 3) only.

The goldens `tests/compiler/data/local_attention/*.json` were written by `bench/returnn_local_attention_golden.py`
(its docstring has the command) with RETURNN 1.20261022 and TensorFlow 2.21: att1's miniature with the LibriSpeech
local-attention layers as published (`local_argmax_win3`) and with the Switchboard median ones and their config
function `get_median` (`local_median_win3`, the window starting at max(median - 1, 0)), RETURNN's teacher-forced
`output_prob` per sequence run alone, and its first epoch of Adam steps, one sequence per step.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from netc.data import HdfSeq, write_hdf
from netc.ir import Document, NetcError, graph_from_document
from netc.ir.read import read_python_config
from netc.trainer.loop import Trainer
from netc.trainer.setup import prepare

from tests.helpers import REPO
from tests.trainer.returnn_goldens import assert_params_equal, assert_step_losses_equal, step_losses
from tests.trainer.test_rec_loop import as_arrays, batch_of, run

DATA = REPO / "tests" / "compiler" / "data" / "local_attention"
GOLDENS = {p.stem: json.loads(p.read_text()) for p in sorted(DATA.glob("*.json"))}
GOLDEN = GOLDENS["local_argmax_win3"]
UNIT = GOLDEN["net"]["output"]["unit"]


def config_text(golden: dict, **values) -> str:
    """A golden as a Python config (its net, extern_data, its config functions) with more top-level `values`."""
    lines = ["#!rnn.py", golden.get("config_functions", ""), f"network = {golden['net']!r}",
             f"extern_data = {golden['extern_data']!r}", *(f"{k} = {v!r}" for k, v in values.items())]
    return "\n".join(lines) + "\n"


def document(golden: dict) -> Document:
    """The golden's net as netc reads it, with the config functions its evals call."""
    return read_python_config("golden.config", config_text(golden))


def with_unit(**layers: dict) -> dict:
    """The golden's net with unit layers replaced (None: removed)."""
    net = copy.deepcopy(GOLDEN["net"])
    unit = net["output"]["unit"]
    for name, layer in layers.items():
        if layer is None:
            del unit[name]
        else:
            unit[name] = layer
    return net


def teacher_forced_log_probs(golden: dict, net: dict | None = None, move_out: bool = True) -> list[np.ndarray]:
    """netc's teacher-forced log-probs `[S, V]` per sequence (of `net`, default the golden's), all sequences in one
    batch (garbage padded)."""
    net = net or golden["net"]
    net = net | {"output": net["output"] | {"optimize_move_layers_out": move_out}}
    golden = golden | {"net": net}
    _, ctx = run(golden, batch_of(golden), graph_from_document(document(golden)))
    packing = ctx.packing(ctx.graph["output"].out_type.time)
    log_probs = packing.unpack(torch.log_softmax(ctx.logits["output/output_prob"], dim=-1)).detach().numpy()
    return [log_probs[b, :len(y)] for b, y in enumerate(golden["targets"])]


def max_error(golden: dict, got: list[np.ndarray]) -> float:
    return max(float(np.abs(g - np.log(np.asarray(f["probs"], np.float32))).max())
               for g, f in zip(got, golden["forward"]))


@pytest.mark.parametrize("move_out", [True, False])
@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_teacher_forced_log_probs_equal_returnns(name, move_out):
    golden = GOLDENS[name]
    assert max_error(golden, teacher_forced_log_probs(golden, move_out=move_out)) < 1e-5


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_the_window_decides_the_golden(name):
    """Without the window (softmax over every frame) netc is far from RETURNN's numbers: the golden tests it."""
    golden = GOLDENS[name]
    net = copy.deepcopy(golden["net"])
    att = net["output"]["unit"]["att_weights"]
    del att["window_start"], att["window_size"]
    assert max_error(golden, teacher_forced_log_probs(golden, net)) > 1e-2


def test_the_goldens_are_there():
    assert sorted(GOLDENS) == ["local_argmax_win3", "local_median_win3"]


def test_switchboard_float_position_gives_the_same_numbers():
    """The Switchboard configs' form: `p_t` the float position read from prev:att_weights, the window's start.
    Frame numbers compare exactly as floats, so the numbers are the LibriSpeech form's."""
    p_t = {"class": "eval", "from": "prev:att_weights",
           "eval": "tf.to_float(tf.squeeze(tf.argmax(source(0), axis=1, output_type=tf.int32), axis=1))",
           "out_type": {"shape": (), "batch_dim_axis": 0, "dtype": "float32"}}
    net = with_unit(p_t=p_t, p_t_in=None, att_weights=UNIT["att_weights"] | {"window_start": "p_t"})
    assert max_error(GOLDEN, teacher_forced_log_probs(GOLDEN, net)) < 1e-5


def trajectory_config(golden: dict, directory: Path) -> Path:
    """netc's config for the golden's trajectory: its sequences in an HDF file, corpus order, one per step, Adam."""
    train = golden["train"]
    seqs = [HdfSeq(f"seq-{i}", np.asarray(x, np.float32), {"classes": np.asarray(y, np.int32)})
            for i, (x, y) in enumerate(zip(golden["inputs"], golden["targets"]))]
    data = golden["extern_data"]
    write_hdf(directory / "train.hdf", seqs, data["data"]["dim"], {"classes": data["classes"]["dim"]})
    config = directory / "train.config"
    config.write_text(config_text(
        golden, train=str(directory / "train.hdf"), batching="default", batch_size=100000, max_seqs=1,
        num_epochs=1, optimizer=train["optimizer"], learning_rate=train["learning_rate"],
        model=str(directory / "model" / "m")))
    return config


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_training_trajectory_equals_returnns(name, tmp_path):
    """RETURNN's first epoch from the golden's initial parameters: each step's loss (per target frame) within
    1e-5, the parameters after the 5 Adam steps within 1e-4."""
    golden = GOLDENS[name]
    train = golden["train"]
    trainer = Trainer(prepare(str(trajectory_config(golden, tmp_path))), log=lambda _: None, progress=False)
    trainer.start_from(as_arrays(train["initial"]))
    assert_step_losses_equal(step_losses(trainer), train["losses"])
    assert_params_equal(trainer, train)


def check(net: dict) -> None:
    graph_from_document(Document("local.json", {"network": net, "extern_data": GOLDEN["extern_data"]}))


@pytest.mark.parametrize(("layers", "key", "words"), [
    ({"att_weights": UNIT["att_weights"] | {"window_size": None}}, "window_start", "needs a window_size"),
    ({"att_weights": UNIT["att_weights"] | {"window_size": 0}}, "window_size", "positive number of frames"),
    ({"att_weights": UNIT["att_weights"] | {"window_start": "s"}}, "window_start", "one number per sequence"),
    ({"att_weights": UNIT["att_weights"] | {"window_start": "nothing"}}, "window_start", "not a layer"),
    ({"p_t_in": UNIT["p_t_in"] | {"eval": "tf.squeeze(tf.argmax(source(0), axis=2), axis=1)"}}, "eval",
     "only as the local attention's window position"),
    ({"p_t_in": UNIT["p_t_in"] | {"eval": "tf.squeeze(tf.argmax(source(0), axis=1), axis=1) + 1"}}, "eval",
     "only through tf.to_float"),
    ({"p_t_in": UNIT["p_t_in"] | {"from": "prev:s"}}, "eval", "needs float \\[B, T, 1\\]"),
])
def test_bad_local_attention_options_are_located_errors(layers, key, words):
    net = with_unit(**{k: {o: v for o, v in layer.items() if v is not None} for k, layer in layers.items()})
    with pytest.raises(NetcError, match=words) as error:
        check(net)
    assert error.value.where.key == key
    assert error.value.where.layer == "output/" + next(iter(layers))


@pytest.mark.parametrize(("change", "words"), [
    (("cs > 0.", "cs >= 0."), "eval calls the config's function 'get_median', which netc does not run"),
    (("axis=2)", "axis=1)"), "eval calls the config's function 'get_median', which netc does not run"),
    (("def get_median(v):", "def get_median(v, network):"), "which netc does not run"),
])
def test_a_get_median_of_another_form_is_a_located_error(change, words):
    """netc reads get_median only in the published form; another computation is refused at the eval."""
    golden = GOLDENS["local_median_win3"]
    assert change[0] in golden["config_functions"]
    changed = golden | {"config_functions": golden["config_functions"].replace(*change)}
    with pytest.raises(NetcError, match=words) as error:
        graph_from_document(document(changed))
    assert error.value.where.layer == "output/p_t_in" and error.value.where.key == "eval"
