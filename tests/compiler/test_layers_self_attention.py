"""self_attention, positional_encoding, relative_positional_encoding: ONNX and torch against RETURNN TF (each
sequence alone, bench/returnn_trafo_goldens.py) and against the numpy reference; the per-step form against the
full-sequence causal form; attention dropout; located errors; `netc train` on a transformer encoder."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from netc.compiler import compile_graph
from netc.compiler.onnx.builder import FLOAT, OnnxBuilder, tensor_info
from netc.compiler.onnx.self_attention import self_attention_step as onnx_step
from netc.ir import Document, NetcError, graph_from_document, init_params
from netc.ir.layers import SelfAttention
from netc.trainer.model import NetModel
from netc.trainer.self_attention import self_attention_step as torch_step
from onnx import helper

from tests.compiler.returnn_goldens import ATOL, assert_matches, garbage_batch, golden_tests, load_cases, params_of
from tests.helpers import ragged_batch, session
from tests.reference import TrafoReference, TrafoVariant
from tests.trainer.returnn_goldens import assert_params_equal, assert_scores_equal, load_golden, train_like

GOLDEN = "returnn_self_attention.json"
test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests(GOLDEN)
CASES = load_cases(GOLDEN)
NUMPY_CASES = sorted(k for k in CASES if k != "transformer_encoder" and not k.startswith(("chunked", "published")))


def reference(case: dict, variant: TrafoVariant = TrafoVariant()) -> tuple[np.ndarray, np.ndarray]:
    x, lens = garbage_batch(case)
    return TrafoReference(case["net"], params_of(case), x, lens, trafo=variant).run()


@pytest.mark.parametrize("case_id", NUMPY_CASES)
def test_numpy_reference_matches_returnn(case_id: str) -> None:
    """The reference, written from RETURNN's code, gives RETURNN's numbers: the goldens check what they should."""
    assert_matches(CASES[case_id], *reference(CASES[case_id]))


@pytest.mark.parametrize(("case_id", "variant"), [
    ("self_attention", TrafoVariant(contiguous_qkv=True)),
    ("self_attention", TrafoVariant(keys_unmasked=True)),
    ("self_attention_key_shift", TrafoVariant(keys_unmasked=True)),
    ("positional_encoding_add", TrafoVariant(positions_from_one=True)),
])
def test_goldens_tell_a_wrong_head_split_masking_or_position(case_id: str, variant: TrafoVariant) -> None:
    with pytest.raises(AssertionError):
        assert_matches(CASES[case_id], *reference(CASES[case_id], variant))


def graph(net: dict, num_inputs: int = 6):
    return graph_from_document(Document("net.json", net), num_inputs)


CAUSAL = {"r": {"class": "relative_positional_encoding", "n_out": 2, "clipping": 2, "from": "data"},
          "output": {"class": "self_attention", "num_heads": 3, "total_key_dim": 6, "n_out": 9, "from": "data",
                     "attention_left_only": True, "key_shift": "r"}}


@pytest.mark.parametrize("key_shift", [False, True])
def test_torch_step_form_equals_the_causal_full_sequence(key_shift: bool) -> None:
    net = CAUSAL if key_shift else {"output": {k: v for k, v in CAUSAL["output"].items() if k != "key_shift"}}
    g = graph(net)
    params = init_params(g, 3)
    x, lens = ragged_batch(np.random.default_rng(1), [5, 5], 6)
    with torch.no_grad():
        model = NetModel(g, params).eval()
        full = model(torch.from_numpy(x), torch.from_numpy(lens).long()).padded("output").numpy()
        layer, qkv = g["output"].layer, torch.from_numpy(params["output/QKV"])
        shift = model(torch.from_numpy(x), torch.from_numpy(lens).long()).values["r"] if key_shift else None
        k, v = torch.zeros(2, 3, 0, 2), torch.zeros(2, 3, 0, 3)
        for t in range(5):
            y, k, v = torch_step(torch.from_numpy(x[:, t]), k, v, qkv, layer,
                                 None if shift is None else shift[t:t + 1, :t + 1])
            np.testing.assert_allclose(y.numpy(), full[:, t], atol=ATOL, rtol=0, err_msg=f"step {t}")
    assert k.shape == (2, 3, 5, 2) and v.shape == (2, 3, 5, 3)


def step_model(layer: SelfAttention, qkv: np.ndarray, key_shift: bool):
    """An ONNX model of one step: inputs x [B, n_in], k_left, v_left (and key_shift [1, t+1, d_k])."""
    b = OnnxBuilder()
    names = ["x", "k_left", "v_left"] + (["key_shift"] if key_shift else [])
    for name in names:
        b.reserve(name)
    y, k, v = onnx_step(b, "x", "k_left", "v_left", b.initializer("QKV", qkv), layer, "att",
                        "key_shift" if key_shift else None)
    for out, value in (("y", y), ("k", k), ("v", v)):
        b.op("Identity", value, name=out, exact=True)
    d_k, d_v = layer.key_dim // layer.heads, layer.value_dim // layer.heads
    b.graph.input.extend([tensor_info("x", FLOAT, ["batch", qkv.shape[0]]),
                          tensor_info("k_left", FLOAT, ["batch", layer.heads, "t", d_k]),
                          tensor_info("v_left", FLOAT, ["batch", layer.heads, "t", d_v])]
                         + ([tensor_info("key_shift", FLOAT, [1, "t1", d_k])] if key_shift else []))
    b.graph.output.extend([tensor_info("y", FLOAT, ["batch", layer.value_dim]),
                           tensor_info("k", FLOAT, ["batch", layer.heads, "t1", d_k]),
                           tensor_info("v", FLOAT, ["batch", layer.heads, "t1", d_v])])
    b.model.ir_version = 8
    b.model.opset_import.append(helper.make_opsetid("", 17))
    return b.model


@pytest.mark.parametrize("key_shift", [False, True])
def test_onnx_step_form_equals_the_causal_full_sequence(key_shift: bool) -> None:
    net = CAUSAL if key_shift else {"output": {k: v for k, v in CAUSAL["output"].items() if k != "key_shift"}}
    g = graph(net)
    params = init_params(g, 4)
    x, lens = ragged_batch(np.random.default_rng(2), [6, 6, 6], 6)
    full = session(compile_graph(g, params)).run(None, {"data": x, "data:size1": lens})[0]
    rel = TrafoReference(CAUSAL, params, x, lens).value("r").x.astype(np.float32) if key_shift else None
    step = session(step_model(g["output"].layer, params["output/QKV"], key_shift))
    k, v = np.zeros((3, 3, 0, 2), np.float32), np.zeros((3, 3, 0, 3), np.float32)
    for t in range(6):
        feed = {"x": x[:, t], "k_left": k, "v_left": v} | ({"key_shift": rel[t:t + 1, :t + 1]} if key_shift else {})
        y, k, v = step.run(None, feed)
        np.testing.assert_allclose(y, full[:, t], atol=ATOL, rtol=0, err_msg=f"step {t}")


def test_attention_dropout_only_in_training() -> None:
    net = {"output": {"class": "self_attention", "num_heads": 2, "total_key_dim": 4, "n_out": 4, "from": "data",
                      "attention_dropout": 0.5}}
    g = graph(net)
    params = init_params(g, 5)
    x, lens = (torch.from_numpy(a) for a in ragged_batch(np.random.default_rng(3), [7, 5], 6))
    lens = lens.long()
    with torch.no_grad():
        evaluated = NetModel(g, params).eval()(x, lens).padded("output")
        trained = NetModel(g, params).train()(x, lens).padded("output")
        no_drop = NetModel(graph({"output": net["output"] | {"attention_dropout": 0.0}}), params).train()(x, lens)
    assert not torch.allclose(trained, evaluated, atol=1e-3)
    torch.testing.assert_close(no_drop.padded("output"), evaluated, atol=ATOL, rtol=0)


def test_garbage_inf_in_padded_frames_stays_out() -> None:
    case = CASES["transformer_encoder"]
    x, lens = garbage_batch(case)
    x[0, lens[0]:] = np.inf
    x[2, lens[2]:] = np.nan
    y, out_lens = session(compile_graph(graph(case["net"]), params_of(case))).run(None, {"data": x, "data:size1": lens})
    assert_matches(case, y, out_lens)


def test_a_0_frame_sequence_in_the_batch_leaves_the_gradient_finite() -> None:
    """A batch may hold 0-frame sequences (docs/training.md): their all-padded attention rows stay finite."""
    g = graph({"output": {"class": "self_attention", "num_heads": 2, "total_key_dim": 4, "n_out": 4, "from": "data"}})
    model = NetModel(g, init_params(g, 6)).train()
    x, lens = ragged_batch(np.random.default_rng(4), [3, 0, 2], 6)
    model(torch.from_numpy(x), torch.from_numpy(lens).long()).values["output"].square().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


SA = {"class": "self_attention", "num_heads": 2, "total_key_dim": 4, "n_out": 4, "from": "data"}


@pytest.mark.parametrize(("net", "key", "message"), [
    ({"output": SA | {"num_heads": 3}}, "total_key_dim", "not divisible by num_heads 3"),
    ({"output": SA | {"n_out": 5}}, "n_out", "n_out 5 is not divisible"),
    ({"output": {k: v for k, v in SA.items() if k != "total_key_dim"}}, "total_key_dim", "is required"),
    ({"output": SA | {"attention_dropout": 1.0}}, "attention_dropout", r"\[0, 1\)"),
    ({"r": {"class": "relative_positional_encoding", "n_out": 3, "from": "data"}, "output": SA | {"key_shift": "r"}},
     "key_shift", r"needs \[T_data, T_data, 2\]"),
    ({"output": SA | {"key_shift": "nope"}}, "key_shift", "not a layer"),
    ({"output": SA | {"initial_state": "keep_over_epoch"}}, "initial_state", "per-step form"),
    ({"output": {"class": "positional_encoding", "n_out": 3, "from": "data"}}, "n_out", "3 channels"),
    ({"output": {"class": "positional_encoding", "from": "data"}}, "n_out", "is required"),
    ({"output": {"class": "positional_encoding", "add_to_input": True, "n_out": 5, "from": "data"}}, "n_out",
     "keeps the input's dim 6"),
    ({"l": {"class": "linear", "n_out": 1}, "output": {"class": "positional_encoding", "add_to_input": True,
                                                       "offset": "l", "from": "data"}}, "offset", "must be int"),
    ({"output": {"class": "relative_positional_encoding", "from": "data"}}, "n_out", "is required"),
    ({"output": {"class": "relative_positional_encoding", "n_out": 4, "clipping": -1}}, "clipping", "between 0"),
    ({"r": {"class": "reduce", "mode": "max", "axes": "T", "from": "data"}, "output": SA | {"from": "r"}}, "from",
     r"needs a dense \[B, T, F\] input"),
    ({"i": {"class": "reduce", "mode": "argmax", "axes": "F"}, "output": SA | {"from": "i"}}, "from",
     r"needs a dense \[B, T, F\] input, got \[B, T_data\] sparse\(6\)"),
    ({"i": {"class": "reduce", "mode": "argmax", "axes": "F"},
      "output": {"class": "relative_positional_encoding", "n_out": 4, "from": "i"}}, "from", "needs a dense"),
    ({"c": {"class": "time_chunking", "chunk_size": 3, "chunk_step": 2}, "output": SA | {"from": "c"}}, "from",
     "on the chunks of time_chunking"),
    ({"c": {"class": "time_chunking", "chunk_size": 3, "chunk_step": 2},
      "output": {"class": "relative_positional_encoding", "n_out": 4, "from": "c"}}, "from", "fails in RETURNN"),
])
def test_bad_options_are_located_errors(net: dict, key: str, message: str) -> None:
    with pytest.raises(NetcError, match=message) as e:
        graph(net)
    assert (e.value.where.layer, e.value.where.key) == ("output", key)
    assert e.value.hint


def test_relative_positional_encoding_cannot_be_the_models_output(tmp_path: Path) -> None:
    net = tmp_path / "net.json"
    net.write_text(json.dumps({"output": {"class": "relative_positional_encoding", "n_out": 4}}))
    run = subprocess.run([sys.executable, "-m", "netc", "compile", str(net), "--num-inputs", "3", "-o",
                          str(tmp_path / "m.onnx")], capture_output=True, text=True)
    assert run.returncode == 2 and "is not [B, T, ...]" in run.stderr, run.stderr
    assert not (tmp_path / "m.onnx").exists()


TRAIN = {"train": {"class": "Task12AXDataset", "num_seqs": 120},
         "dev": {"class": "Task12AXDataset", "num_seqs": 30, "fixed_random_seed": 1},
         "num_inputs": 9, "num_outputs": 2, "batching": "random", "batch_size": 2000, "max_seqs": 10,
         "network": {"in": {"class": "linear", "n_out": 8, "with_bias": False, "from": "data"},
                     "pe": {"class": "positional_encoding", "add_to_input": True, "from": "in"},
                     "rel": {"class": "relative_positional_encoding", "n_out": 4, "clipping": 4, "from": "pe"},
                     "att": {"class": "self_attention", "num_heads": 2, "total_key_dim": 8, "n_out": 8,
                             "attention_left_only": True, "attention_dropout": 0.1, "key_shift": "rel",
                             "from": "pe"},
                     "ff": {"class": "linear", "activation": "relu", "n_out": 8, "from": ["att", "pe"]},
                     "output": {"class": "softmax", "loss": "ce", "from": "ff"}},
         "optimizer": {"class": "adam"}, "learning_rate": 0.02, "num_epochs": 3, "device": "cpu"}


def test_netc_train_trains_a_transformer_encoder_and_compiles_its_checkpoint(tmp_path: Path) -> None:
    config = tmp_path / "trafo.json"
    config.write_text(json.dumps(TRAIN | {"model": str(tmp_path / "model")}))
    run = subprocess.run([sys.executable, "-m", "netc", "train", str(config)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    scores = [float(s) for s in re.findall(r"epoch \d+ score: ([0-9.]+)", run.stdout + run.stderr)]
    assert len(scores) == 3 and scores[-1] < scores[0], run.stdout + run.stderr
    out = tmp_path / "m.onnx"
    subprocess.run([sys.executable, "-m", "netc", "compile", str(config), "--params", str(tmp_path / "model.003.pt"),
                    "-o", str(out)], check=True, capture_output=True)
    x, lens = ragged_batch(np.random.default_rng(0), [5, 1, 3], 9)
    y, _ = session(out).run(None, {"data": x, "data:size1": lens})
    assert np.isfinite(y).all() and np.allclose(y[0, :5].sum(-1), 1.0, atol=1e-5)


def test_training_matches_returnn(tmp_path: Path) -> None:
    """2 epochs of Adam from RETURNN's initial parameters (bench/returnn_trafo_training_golden.py, no dropout):
    RETURNN's per-epoch scores and final parameters."""
    golden = load_golden("returnn_trafo")
    trainer, _ = train_like(golden, tmp_path)
    assert_scores_equal(trainer, golden)
    assert_params_equal(trainer, golden)
