"""netc trains a transformer decoder inside a rec unit as RETURNN does (self_attention with attention_left_only and
positional_encoding of the step index, per step or moved out of the loop).

The golden `tests/compiler/data/trafo_decoder/trafo2.json` was written by `bench/returnn_trafo_decoder_golden.py`
(its docstring has the command) with RETURNN 1.20261022 and TensorFlow 2.21: the decoder layout of the 2019
LibriSpeech transformer config in miniature (2 blocks of self-attention, encoder-decoder attention and feed-forward),
RETURNN's teacher-forced `output_prob` per sequence run alone, and a trajectory of 5 Adam steps of one sequence each.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from netc.data import HdfSeq, write_hdf
from netc.ir import Document, NetcError, graph_from_document
from netc.trainer.loop import Trainer
from netc.trainer.model import NetModel
from netc.trainer.rec_loop import StepGraph, move_plan, target_type
from netc.trainer.setup import prepare

from tests.helpers import REPO
from tests.trainer.returnn_goldens import assert_params_equal, assert_step_losses_equal, step_losses
from tests.trainer.test_rec_loop import as_arrays, batch_of, graph_of, run

GOLDEN = json.loads((REPO / "tests" / "compiler" / "data" / "trafo_decoder" / "trafo2.json").read_text())
UNIT = GOLDEN["net"]["output"]["unit"]


def with_output(**changes) -> dict:  # noqa: ANN003
    return GOLDEN["net"]["output"] | changes


@pytest.mark.parametrize("move_out", [True, False])
def test_teacher_forced_log_probs_equal_returnns(move_out):
    """Per step (keys and values accumulated, the position counted), with or without the layers after the last
    block moved out: RETURNN's numbers, with ragged lengths (incl. 1) and garbage in padded frames."""
    batch = batch_of(GOLDEN)
    graph, ctx = run(GOLDEN, batch, graph_of(GOLDEN, output=with_output(optimize_move_layers_out=move_out)))
    loop = graph["output"].layer
    step_graph = StepGraph(loop.unit.nodes, graph.dims, outer=graph, loop=loop, target=target_type(graph, loop))
    plan = move_plan(loop, step_graph)
    # the encoder-decoder attention reads base: layers with a time axis: it and what it reads run per step
    assert "dec_02_self_att_att" in plan.inside and ("decoder" in plan.after) is move_out
    packing = ctx.packing(ctx.graph["output"].out_type.time)
    log_probs = packing.unpack(torch.log_softmax(ctx.logits["output/output_prob"], dim=-1)).detach().numpy()
    for b, expected in enumerate(GOLDEN["forward"]):
        frames = len(GOLDEN["targets"][b])
        np.testing.assert_allclose(log_probs[b, :frames], expected["log_probs"], atol=1e-5, rtol=0, err_msg=f"seq {b}")


def without_encoder_attention() -> dict:
    """The golden's unit without its encoder-decoder attention (a transformer LM's unit, as the 2020 TED-LIUM LMs):
    RETURNN's optimize_move_layers_out moves every layer but the choice out of the loop."""
    unit = {k: v for k, v in UNIT.items() if "_att_" not in k or "self_att" in k}
    for block in ("dec_01", "dec_02"):
        unit[f"{block}_ff_laynorm"] = unit[f"{block}_ff_laynorm"] | {"from": [f"{block}_self_att_out"]}
        unit[f"{block}_ff_out"] = unit[f"{block}_ff_out"] | {"from": [f"{block}_self_att_out", f"{block}_ff_conv2"]}
    return unit


def test_moved_out_self_attention_equals_the_per_step_one():
    """Moved out of the loop (RETURNN's training: self_attention causal over all frames at once, positional_encoding
    of each frame's index) the outputs and gradients are the per-step ones (which equal RETURNN's above)."""
    grads, outputs = [], []
    for move_out in (True, False):
        batch = batch_of(GOLDEN)
        output = with_output(optimize_move_layers_out=move_out, unit=without_encoder_attention())
        graph = graph_of(GOLDEN, output=output)
        loop = graph["output"].layer
        plan = move_plan(loop, StepGraph(loop.unit.nodes, graph.dims, outer=graph, loop=loop,
                                         target=target_type(graph, loop)))
        assert ("dec_01_self_att_att" in plan.after and "target_embed" in plan.after) is move_out
        params = {k: v for k, v in as_arrays(GOLDEN["params"]).items() if k in NetModel(graph).named_values()}
        model = NetModel(graph, params).train()
        ctx = model(batch.data, batch.lengths, batch.target_lengths["classes"], None, batch.targets)
        packing = ctx.packing(ctx.graph["output"].out_type.time)
        picked = torch.log_softmax(ctx.logits["output/output_prob"], dim=-1).gather(
            1, packing.pack(batch.targets["classes"][:, :packing.steps])[:, None])
        picked.sum().backward()
        outputs.append(picked.detach())
        grads.append({k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None})
    torch.testing.assert_close(outputs[1], outputs[0], atol=1e-5, rtol=0)
    assert grads[0].keys() == grads[1].keys() and any("self_att_att/QKV" in k for k in grads[0])
    for key in grads[0]:
        torch.testing.assert_close(grads[1][key], grads[0][key], atol=1e-5, rtol=0, msg=key)


def train_config(directory: Path) -> Path:
    """netc's config for the golden's trajectory: the sequences in an HDF file, corpus order, one per step."""
    seqs = [HdfSeq(f"seq-{i}", np.asarray(x, np.float32), {"classes": np.asarray(y, np.int32)})
            for i, (x, y) in enumerate(zip(GOLDEN["inputs"], GOLDEN["targets"]))]
    data = GOLDEN["extern_data"]
    write_hdf(directory / "train.hdf", seqs, data["data"]["dim"], {"classes": data["classes"]["dim"]})
    config = directory / "config.json"
    config.write_text(json.dumps({
        "network": GOLDEN["net"], "extern_data": data, "train": str(directory / "train.hdf"),
        "batching": "default", "batch_size": 100000, "max_seqs": 1, "num_epochs": 1,
        "optimizer": GOLDEN["train"]["optimizer"], "learning_rate": GOLDEN["train"]["learning_rate"],
        "model": str(directory / "model" / "m")}))
    return config


def test_training_trajectory_equals_returnns(tmp_path):
    """RETURNN's 5 Adam steps of one sequence each: every step's loss (per target frame) within 1e-5, the
    parameters after the epoch within 1e-4."""
    trajectory = GOLDEN["train"]
    trainer = Trainer(prepare(str(train_config(tmp_path))), log=lambda _: None, progress=False)
    trainer.start_from(as_arrays(trajectory["initial"]))
    assert_step_losses_equal(step_losses(trainer), trajectory["losses"])
    assert_params_equal(trainer, trajectory)


def unit_error(**unit_changes: dict) -> NetcError:
    net = GOLDEN["net"] | {"output": with_output(unit=UNIT | unit_changes)}
    with pytest.raises(NetcError) as error:
        graph_from_document(Document("t.json", {"network": net, "extern_data": GOLDEN["extern_data"]}))
    return error.value


@pytest.mark.parametrize(("changes", "key", "words"), [
    ({"dec_01_self_att_att": UNIT["dec_01_self_att_att"] | {"attention_left_only": False}}, "attention_left_only",
     "needs attention_left_only"),
    ({"dec_01_self_att_att": UNIT["dec_01_self_att_att"] | {"from": "base:encoder"}}, "from", "reads one step"),
    ({"dec_01_self_att_att": UNIT["dec_01_self_att_att"] | {"key_shift": "rel"},
      "rel": {"class": "relative_positional_encoding", "from": "dec_01_self_att_laynorm", "n_out": 4}}, "class",
     "relative_positional_encoding inside a rec unit"),
    ({"target_embed": UNIT["target_embed"] | {"from": "base:encoder"}}, "from", "reads one step"),
])
def test_what_returnn_refuses_in_a_loop_is_a_located_error(changes, key, words):
    error = unit_error(**changes)
    assert words in error.message and error.where.key == key, (error.message, error.where)


def test_attention_dropout_drops_per_step_weights_in_training_only():
    """attention_dropout on a per-step self_attention: training draws masks (the log-probs change), evaluation
    gives RETURNN's numbers unchanged."""
    unit = UNIT | {"dec_01_self_att_att": UNIT["dec_01_self_att_att"] | {"attention_dropout": 0.5}}
    graph = graph_of(GOLDEN, output=with_output(optimize_move_layers_out=False, unit=unit))
    batch = batch_of(GOLDEN)
    results = []
    for training in (True, False):
        torch.manual_seed(0)
        model = NetModel(graph, as_arrays(GOLDEN["params"])).train(training)
        ctx = model(batch.data, batch.lengths, batch.target_lengths["classes"], None, batch.targets)
        packing = ctx.packing(ctx.graph["output"].out_type.time)
        results.append(packing.unpack(torch.log_softmax(ctx.logits["output/output_prob"], dim=-1)).detach().numpy())
    frames = len(GOLDEN["targets"][3])
    assert np.abs(results[0][3, :frames] - GOLDEN["forward"][3]["log_probs"]).max() > 1e-3
    np.testing.assert_allclose(results[1][3, :frames], GOLDEN["forward"][3]["log_probs"], atol=1e-5, rtol=0)
