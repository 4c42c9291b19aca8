"""netc trains RETURNN's attention decoders (a rec layer with a unit dict) as RETURNN does: teacher forcing.

The goldens `tests/compiler/data/attention/*.json` were written by `bench/returnn_attention_golden.py` (engineer
gold13; its docstring has the command) with RETURNN 1.20261022 and TensorFlow 2.21: the 2018 LibriSpeech
attention layout in miniature (BLSTM encoder with pooling, MLP attention with weight feedback and fertility,
LSTMBlock decoder state, maxout readout), RETURNN's teacher-forced `output_prob` per sequence run alone, its CE
loss, and a training trajectory of 4 Adam steps on one batch of all sequences.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from netc.data import HdfSeq, write_hdf
from netc.ir import Document, NetcError, graph_from_document
from netc.trainer.batching import Batch
from netc.trainer.loop import Trainer
from netc.trainer.loss import layer_loss, loss_nodes
from netc.trainer.model import NetModel
from netc.trainer.setup import prepare

from tests.helpers import EXAMPLES, REPO
from tests.trainer.returnn_goldens import assert_params_equal, assert_step_losses_equal, step_losses

GOLDENS = REPO / "tests" / "compiler" / "data" / "attention"
NAMES = sorted(p.stem for p in GOLDENS.glob("*.json"))
GARBAGE_LABEL = 5  # in padded target frames: teacher forcing reads them only past each sequence's end


def load(name: str) -> dict:
    return json.loads((GOLDENS / f"{name}.json").read_text())


def graph_of(golden: dict, **net_changes: dict):
    net = golden["net"] | net_changes
    return graph_from_document(Document("golden.json", {"network": net, "extern_data": golden["extern_data"]}))


def as_arrays(values: dict) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, np.float32) for k, v in values.items()}


def batch_of(golden: dict) -> Batch:
    """All sequences in one batch (ragged, lengths 7, 1, 4, 10, 3), garbage in padded input and target frames."""
    xs = [np.asarray(x, np.float32) for x in golden["inputs"]]
    ys = golden["targets"]
    data = torch.full((len(xs), max(map(len, xs)), xs[0].shape[1]), 100.0)
    labels = torch.full((len(ys), max(map(len, ys))), GARBAGE_LABEL, dtype=torch.int64)
    for b, (x, y) in enumerate(zip(xs, ys)):
        data[b, :len(x)] = torch.from_numpy(x)
        labels[b, :len(y)] = torch.tensor(y)
    lengths = torch.tensor([len(x) for x in xs])
    return Batch(data, lengths, {"classes": labels}, {"classes": torch.tensor([len(y) for y in ys])})


def assert_log_probs_equal(golden: dict, ctx) -> None:  # noqa: ANN001
    """The teacher-forced log-probs of `output/output_prob` within 1e-5 of the golden's, per sequence over its
    target frames (padded frames not compared)."""
    packing = ctx.packing(ctx.graph["output"].out_type.time)
    log_probs = packing.unpack(torch.log_softmax(ctx.logits["output/output_prob"], dim=-1)).detach().numpy()
    for b, expected in enumerate(golden["forward"]):
        frames = len(golden["targets"][b])
        np.testing.assert_allclose(log_probs[b, :frames], expected["log_probs"], atol=1e-5, rtol=0,
                                   err_msg=f"seq {b}")


def run(golden: dict, batch: Batch, graph=None):
    graph = graph or graph_of(golden)
    model = NetModel(graph, as_arrays(golden["params"])).train()  # RETURNN's train flag; the net has no dropout
    ctx = model(batch.data, batch.lengths, batch.target_lengths["classes"], None, batch.targets)
    return graph, ctx


@pytest.mark.parametrize("move_out", [True, False])
@pytest.mark.parametrize("name", NAMES)
def test_teacher_forced_output_prob_equals_returnns(name, move_out):
    """With RETURNN's optimize_move_layers_out (readout and output_prob over all frames after the loop) and
    without it (every layer per step)."""
    golden = load(name)
    batch = batch_of(golden)
    output = golden["net"]["output"] | {"optimize_move_layers_out": move_out}
    _, ctx = run(golden, batch, graph_of(golden, output=output))
    packing = ctx.packing(ctx.graph["output"].out_type.time)
    probs = packing.unpack(ctx.values["output/output_prob"]).detach().numpy()
    for b, expected in enumerate(golden["forward"]):
        frames = len(golden["targets"][b])
        np.testing.assert_allclose(probs[b, :frames], expected["probs"], atol=1e-5, rtol=0, err_msg=f"seq {b}")
    assert_log_probs_equal(golden, ctx)
    labels = packing.unpack(ctx.values["output"]).numpy()  # teacher forcing: the choice is the target
    for b, target in enumerate(golden["targets"]):
        assert labels[b, :len(target)].tolist() == target


@pytest.mark.parametrize("name", NAMES)
def test_loss_equals_returnns(name):
    """RETURNN's CE of each sequence (summed over its target frames), and of the batch; `decision`'s
    edit_distance is not a loss of the objective."""
    golden = load(name)
    batch = batch_of(golden)
    graph, ctx = run(golden, batch)
    nodes = loss_nodes(graph)
    assert "output/output_prob" in [n.name for n in nodes] and "decision" not in [n.name for n in nodes]
    ce = next(n for n in nodes if n.name == "output/output_prob")
    value, _, norm = layer_loss(ce, ctx, batch).tolist()
    assert norm == sum(len(t) for t in golden["targets"])
    assert value == pytest.approx(sum(f["loss_sum"] for f in golden["forward"]), abs=1e-4)
    for b, expected in enumerate(golden["forward"]):
        one = Batch(batch.data[b:b + 1, :len(golden["inputs"][b])], batch.lengths[b:b + 1],
                    {"classes": batch.targets["classes"][b:b + 1, :len(golden["targets"][b])]},
                    {"classes": batch.target_lengths["classes"][b:b + 1]})
        _, alone = run(golden, one, graph)
        value, _, norm = layer_loss(ce, alone, one).tolist()
        assert value == pytest.approx(expected["loss_sum"], abs=1e-5), b
        assert value / norm == pytest.approx(expected["loss"], abs=1e-5), b


TRAJECTORIES = json.loads((REPO / "tests" / "trainer" / "data" / "returnn_rec_loop.json").read_text())


def train_config(golden: dict, directory: Path) -> Path:
    """netc's config for a trajectory of bench/returnn_rec_loop_golden.py: the sequences in an HDF file, corpus
    order, one sequence per step, Adam."""
    seqs = [HdfSeq(f"seq-{i}", np.asarray(x, np.float32), {"classes": np.asarray(y, np.int32)})
            for i, (x, y) in enumerate(zip(golden["inputs"], golden["targets"]))]
    data = TRAJECTORIES["extern_data"]
    write_hdf(directory / "train.hdf", seqs, data["data"]["dim"], {"classes": data["classes"]["dim"]})
    config = directory / "config.json"
    config.write_text(json.dumps({
        "network": golden["net"], "extern_data": data, "train": str(directory / "train.hdf"),
        "batching": "default", "batch_size": 100000, "max_seqs": 1, "num_epochs": TRAJECTORIES["epochs"],
        "optimizer": {"class": "adam"}, "learning_rate": TRAJECTORIES["learning_rate"],
        "model": str(directory / "model" / "m")}))
    return config


@pytest.mark.parametrize("name", ["att1", "att2_ctc_ls", "att1_init"])
def test_training_trajectory_equals_returnns(name, tmp_path):
    """Every step's losses as RETURNN logs them (per target frame; CTC per label) within 1e-5, and the parameters
    after 10 Adam steps within 1e-4. att2_ctc_ls: two heads, label smoothing, CTC beside the decoder;
    att1_init: the decoder's LSTM starts from the encoder (`initial_state` c and h from base: layers)."""
    golden = TRAJECTORIES[name]
    trainer = Trainer(prepare(str(train_config(golden, tmp_path))), log=lambda _: None, progress=False)
    trainer.start_from(as_arrays(golden["initial"]))
    assert_step_losses_equal(step_losses(trainer), golden["steps"])
    assert_params_equal(trainer, golden)


CELLS = [("LSTMBlock", "standardlstm", "rec/lstm_cell/"), ("NativeLSTM2", "nativelstm2", "rec/"),
         ("GRU", "gru", "rec/gru_cell/")]


@pytest.mark.parametrize(("cell", "unit", "prefix"), CELLS)
def test_rnn_cell_steps_as_the_rec_layer_with_its_unit(cell, unit, prefix):
    """A rec unit iterating over its input (`from: data`) with one rnn_cell gives the rec layer's outputs and
    gradients (that layer is checked against RETURNN in tests/compiler and tests/trainer): the cell's step,
    its state carried over the steps, the loop over the input's frames (ragged, lengths incl. 1, garbage)."""
    dims = {"extern_data": {"data": {"dim": 3}, "classes": {"dim": 4, "sparse": True}}}
    loop = {"class": "rec", "from": "data", "unit": {"output": {"class": "rnn_cell", "unit": cell, "from": "data",
                                                                "n_out": 5}}}
    plain = {"class": "rec", "unit": unit, "from": "data", "n_out": 5}
    graphs = [graph_from_document(Document("t.json", {"network": {"lstm": layer, "output": {
        "class": "softmax", "from": "lstm", "loss": "ce"}}} | dims)) for layer in (loop, plain)]
    rng = np.random.default_rng(3)
    params = {name: rng.uniform(-0.7, 0.7, spec_shape).astype(np.float32)
              for name, spec_shape in ((k, v.shape) for k, v in NetModel(graphs[1]).named_values().items())}
    in_loop = {k.replace("lstm/", "lstm/rec/output/", 1) if k.startswith("lstm/") else k: v for k, v in params.items()}
    lengths = torch.tensor([4, 1, 6])
    data = torch.from_numpy(rng.standard_normal((3, 6, 3)).astype(np.float32))
    for b, n in enumerate(lengths.tolist()):
        data[b, n:] = 100.0
    outputs, grads = [], []
    for graph, values in zip(graphs, (in_loop, params)):
        model = NetModel(graph, values)
        ctx = model(data, lengths)
        ctx.values["lstm"].square().sum().backward()
        outputs.append(ctx.values["lstm"].detach())
        grads.append({k.replace("lstm/rec/output/", "lstm/", 1): p.grad for k, p in model.named_parameters()
                      if k.startswith("lstm/")})
    assert prefix in next(iter(grads[1]))
    torch.testing.assert_close(outputs[0], outputs[1], atol=1e-6, rtol=0)
    assert grads[0].keys() == grads[1].keys()
    for key in grads[1]:
        torch.testing.assert_close(grads[0][key], grads[1][key], atol=1e-5, rtol=0)


def test_get_last_hidden_state_gives_the_cells_state_after_the_step():
    dims = {"extern_data": {"data": {"dim": 3}}}
    unit = {"s": {"class": "rnn_cell", "unit": "LSTMBlock", "from": "data", "n_out": 4},
            "c": {"class": "get_last_hidden_state", "from": "s", "key": "c", "n_out": 4},
            "h": {"class": "get_last_hidden_state", "from": "s", "key": "h", "n_out": 4},
            "both": {"class": "get_last_hidden_state", "from": "s", "n_out": 8},
            "output": {"class": "copy", "from": ["both", "c", "h", "s"]}}
    graph = graph_from_document(Document("t.json", {"network": {"loop": {"class": "rec", "from": "data", "unit": unit},
                                                                "output": {"class": "copy", "from": "loop"}}} | dims))
    ctx = NetModel(graph)(torch.randn(2, 3, 3), torch.tensor([3, 1]))
    both, c, h, s = ctx.values["loop"].split([8, 4, 4, 4], dim=-1)
    torch.testing.assert_close(both, torch.cat([c, h], dim=-1))  # RETURNN's state order: c, then h
    torch.testing.assert_close(h, s)
    assert not torch.allclose(c, h)


def test_a_decoder_batch_without_its_target_is_a_located_error():
    golden = load(NAMES[0])
    batch = batch_of(golden)
    model = NetModel(graph_of(golden), as_arrays(golden["params"]))
    with pytest.raises(NetcError, match="no such target"):
        model(batch.data, batch.lengths)
    with pytest.raises(NetcError, match="reads the labels of target 'classes'"):
        model(batch.data, batch.lengths, batch.target_lengths["classes"], None, {})


def test_initial_output_apply_zero_is_refused_by_name():
    golden = load(NAMES[0])
    unit = golden["net"]["output"]["unit"]
    changed = golden["net"]["output"] | {"unit": unit | {"target_embed": unit["target_embed"] |
                                                         {"initial_output": "apply(0)"}}}
    batch = batch_of(golden)
    model = NetModel(graph_of(golden, output=changed), as_arrays(golden["params"]))
    with pytest.raises(NetcError, match="apply\\(0\\)"):
        model(batch.data, batch.lengths, batch.target_lengths["classes"], None, batch.targets)


def test_netc_train_runs_the_shipped_attention_example(tmp_path):
    """`netc train examples/attention_12ax.config` end to end (one epoch): scores printed, a checkpoint written."""
    done = subprocess.run([sys.executable, "-m", "netc", "train", str(EXAMPLES / "attention_12ax.config"),
                           "++num_epochs", "1", "++model", str(tmp_path / "net")], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    score = re.search(r"epoch 1 score: (\S+) error: (\S+)", done.stdout + done.stderr)
    assert score and 0 < float(score.group(1)) < 1.0
    assert "dev: score" in done.stdout + done.stderr
    assert list(tmp_path.glob("net.001*"))


def test_the_returnn_goldens_are_there():
    assert {"att1", "att2_ctc"} <= set(NAMES)


def test_netc_train_on_data_without_the_decoders_target_exits_2_naming_it(tmp_path):
    golden = TRAJECTORIES["att1"]
    config = train_config(golden, tmp_path)
    seqs = [HdfSeq(f"seq-{i}", np.asarray(x, np.float32)) for i, x in enumerate(golden["inputs"])]
    write_hdf(tmp_path / "train.hdf", seqs, TRAJECTORIES["extern_data"]["data"]["dim"])
    done = subprocess.run([sys.executable, "-m", "netc", "train", str(config)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "no target 'classes'" in done.stderr and "key 'target'" in done.stderr
    assert "Traceback" not in done.stderr


UNIT_GOLDENS = REPO / "tests" / "compiler" / "data" / "rec_unit"  # bench/returnn_rec_unit_goldens.py


@pytest.mark.parametrize("name", ["basic", "gru"])
def test_teacher_forced_rnn_cell_units_equal_returnns(name):
    """The decoder state `s` as TF's BasicLSTMCell (parameters rec/basic_lstm_cell/kernel|bias, forget bias 1:
    LSTMCell's step) or GRUCell: teacher-forced log-probs equal RETURNN's, every sequence in one ragged batch."""
    golden = json.loads((UNIT_GOLDENS / f"{name}.json").read_text())
    _, ctx = run(golden, batch_of(golden))
    assert_log_probs_equal(golden, ctx)
