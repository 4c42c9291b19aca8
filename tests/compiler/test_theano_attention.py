"""Theano's `recurrent_transform: attention_list`: ONNX (onnxruntime) and torch vs the numpy reference transcribed
from RETURNN 1.20190515 (tests/reference_theano_attention.py), the options' errors, parameter names and shapes.

Every parity case draws all parameters (non-zero biases) from the graph's own specs and runs a ragged batch (lengths
4, 1, 6, 3; targets 2, 7, 1, 5) whose padded input frames hold large garbage: atol 1e-5 on every valid frame.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from netc.compiler import compile_graph, save_model
from netc.compiler.onnx import CompileOptions
from netc.ir import Document, NetcError, graph_from_document, init_params, param_specs
from netc.runtime import Model
from netc.trainer.model import NetModel

import tests.reference_theano_attention as reference
from tests.compiler.test_parity import ATOL, Case, F, batch, draw_params, valid_mask
from tests.helpers import session

TARGETS = (2, 7, 1, 5)


def net(dec: dict | None = None, *, n: int = 11, decoders: tuple[int, ...] = (1,)) -> dict:
    """Encoders fw (6) and bw (5) on data, a tanh projection `proj` (4) whose padded frames are not 0 in ONNX,
    one attention decoder per direction in `decoders`, all feeding a softmax."""
    layers = {"fw": {"class": "rec", "n_out": 6}, "bw": {"class": "rec", "n_out": 5, "direction": -1},
              "proj": {"class": "linear", "n_out": 4, "activation": "tanh"}}
    for d in decoders:
        layers[f"dec{d}"] = {"class": "rec", "from": "null", "n_out": n, "encoder": ["fw", "bw"], "direction": d,
                             "recurrent_transform": "attention_list", "attention_template": 6, **(dec or {})}
    return {**layers, "output": {"class": "softmax", "from": [f"dec{d}" for d in decoders]}}


DISTANCES = ("l2", "logl2", "sqr", "dot", "l1", "cos", "transpose")
NORMS = ("exp", "linear", "sigmoid")
CASES = [
    *[Case(f"{d}_{m}", net({"attention_distance": d, "attention_norm": m}), targets=TARGETS)
      for d in DISTANCES for m in NORMS if m == "exp" or d in ("l2", "dot") and (d, m) != ("dot", "linear")],
    # NOTE: linear divides by max(sum of distances, 1e-20): with distances that can sum to <= 0 (dot, cos,
    # transpose) its weights reach 1e20 and no float32 computation agrees with another; l1 and l2 are >= 0
    *[Case(f"{d}_{m}_backward", net({"attention_distance": d, "attention_norm": m}, decoders=(-1,)),
           targets=TARGETS)
      for d, m in zip(DISTANCES, ("exp", "linear", "sigmoid", "sigmoid", "linear", "exp", "sigmoid"))],
    Case("nbest1", net({"attention_nbest": 1}), targets=TARGETS),
    Case("nbest1_backward_linear", net({"attention_nbest": 1, "attention_norm": "linear"}, decoders=(-1,)),
         targets=TARGETS),
    Case("nbest2_sharpening", net({"attention_nbest": 2, "attention_sharpening": 2.5}), targets=TARGETS),
    Case("nbest3_sigmoid_backward", net({"attention_nbest": 3, "attention_norm": "sigmoid"}, decoders=(-1,)),
         targets=TARGETS),
    Case("nbest9_longer_than_every_base", net({"attention_nbest": 9}), targets=TARGETS),
    Case("glimpse3_cos", net({"attention_glimpse": 3, "attention_distance": "cos"}), targets=TARGETS),
    Case("glimpse0_is_one", net({"attention_glimpse": 0}), targets=TARGETS),
    Case("template_is_n", net({"attention_template": 11}), targets=TARGETS),
    Case("base_projection_and_encoder", net({"base": ["proj", "fw"], "attention_template": 4,
                                             "attention_sharpening": 0.5}), targets=TARGETS),
    Case("base_one_string", net({"base": "bw", "attention_glimpse": 2, "attention_nbest": 2}), targets=TARGETS),
    Case("base_data_comma_string", net({"base": "data,bw", "attention_template": 5}), targets=TARGETS),
    Case("two_decoders_seed_tutorial", net({"attention_distance": "dot"}, decoders=(1, -1)), targets=TARGETS),
    Case("probs", net({"attention_distance": "l1"}), kind="probs", targets=TARGETS),
    *[Case(f"opset{v}", net({"attention_nbest": 2, "attention_distance": "sqr"}), opset=v, targets=TARGETS)
      for v in (14, 18, 21)],
]


def typed(case: Case) -> object:
    return graph_from_document(Document("<test>", json.loads(json.dumps(case.net))), F, 7)


def reference_out(case: Case, params: dict[str, np.ndarray], x: np.ndarray, lens: np.ndarray,
                  targets: np.ndarray) -> np.ndarray:
    ref, ref_lens = reference.reference_output(case.net, params, x, lens, targets, case.kind)
    np.testing.assert_array_equal(ref_lens, targets)
    valid = valid_mask(targets, ref.shape[1])
    assert np.all(np.isfinite(ref[valid])) and np.std(ref[valid], axis=0).min() > 1e-4  # not vacuous
    return ref


def onnx_out(case: Case, params: dict[str, np.ndarray], x: np.ndarray, lens: np.ndarray,
             targets: np.ndarray) -> np.ndarray:
    model = compile_graph(typed(case), params, options=CompileOptions(output_kind=case.kind, opset=case.opset))
    (y,) = session(model).run(["output"], {"data": x, "data:size1": lens, "classes:size1": targets})
    return y


def torch_out(case: Case, params: dict[str, np.ndarray], x: np.ndarray, lens: np.ndarray,
              targets: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        ctx = NetModel(typed(case), params).eval()(torch.from_numpy(x), torch.from_numpy(lens).long(),
                                                   torch.from_numpy(targets).long())
    logits = ctx.padded("output", logits=True)
    return {"probs": torch.softmax, "log-probs": torch.log_softmax}[case.kind](logits, dim=-1).numpy()


def assert_close(case: Case, got: np.ndarray, ref: np.ndarray, targets: np.ndarray) -> None:
    assert got.shape == ref.shape
    valid = valid_mask(targets, got.shape[1])
    np.testing.assert_allclose(got[valid], ref[valid], rtol=0, atol=ATOL)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_onnx_matches_the_numpy_reference(case: Case) -> None:
    params = draw_params(typed(case), np.random.default_rng(0))
    x, lens, targets = batch(case)
    y = onnx_out(case, params, x, lens, targets)
    assert_close(case, y, reference_out(case, params, x, lens, targets), targets)
    assert np.array_equal(y[~valid_mask(targets, y.shape[1])], np.zeros_like(y[~valid_mask(targets, y.shape[1])]))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_torch_matches_the_numpy_reference(case: Case) -> None:
    params = draw_params(typed(case), np.random.default_rng(0))
    x, lens, targets = batch(case)
    assert_close(case, torch_out(case, params, x, lens, targets), reference_out(case, params, x, lens, targets),
                 targets)


@pytest.mark.parametrize("case_id", ["base_projection_and_encoder", "base_data_comma_string"])
def test_padded_garbage_and_batch_mates_change_nothing(case_id: str) -> None:
    """Each sequence computes what it computes alone (a batch of one), whatever its padding holds."""
    case = next(c for c in CASES if c.id == case_id)
    params = draw_params(typed(case), np.random.default_rng(0))
    x, lens, targets = batch(case, garbage=np.inf, extra=3)  # inf * 0 is NaN: masks must select, not multiply
    y = onnx_out(case, params, x, lens, targets)
    for s in range(len(lens)):
        alone = onnx_out(case, params, x[s:s + 1, :lens[s]], lens[s:s + 1], targets[s:s + 1])
        np.testing.assert_allclose(y[s, :targets[s]], alone[0], rtol=0, atol=ATOL)


# ---- teeth: the comparison fails for a wrong gate mapping or a wrong step order --------------------------------


def test_the_comparison_fails_for_netc_gate_order_taken_as_theanos(monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[0]
    params = draw_params(typed(case), np.random.default_rng(0))
    x, lens, targets = batch(case)
    y = onnx_out(case, params, x, lens, targets)
    monkeypatch.setattr(reference, "to_theano_gates", lambda value: value)
    with pytest.raises(AssertionError):
        assert_close(case, y, reference_out(case, params, x, lens, targets), targets)


def test_the_comparison_fails_for_a_backward_decoder_run_forward() -> None:
    case = next(c for c in CASES if c.id.endswith("_backward"))
    params = draw_params(typed(case), np.random.default_rng(0))
    x, lens, targets = batch(case)
    y = onnx_out(case, params, x, lens, targets)
    forward = Case(case.id, {k: {**v, "direction": 1} if k == "dec-1" else v for k, v in case.net.items()},
                   targets=TARGETS)
    with pytest.raises(AssertionError):
        assert_close(case, y, reference_out(forward, params, x, lens, targets), targets)


# ---- parameters, CLI ------------------------------------------------------------------------------------------


def test_parameters_are_named_as_theanos_and_shaped_by_the_bases() -> None:
    case = Case("p", net({"base": ["proj", "fw"], "attention_distance": "transpose"}))
    shapes = {s.name: s.shape for s in param_specs(typed(case)) if s.layer == "dec1"}
    assert shapes == {"dec1/rec/W": (0, 44), "dec1/rec/W_re": (11, 44), "dec1/rec/b": (44,),
                      "dec1/W_att_re_0_attention_list": (11, 6), "dec1/b_att_re_0_attention_list": (6,),
                      "dec1/W_att_bs_0_attention_list": (4, 6), "dec1/b_att_bs_0_attention_list": (6,),
                      "dec1/W_att_in_0_attention_list": (4, 44), "dec1/b_att_in_0_attention_list": (44,),
                      "dec1/W_att_re_1_attention_list": (11, 6), "dec1/b_att_re_1_attention_list": (6,),
                      "dec1/W_att_in_1_attention_list": (6, 44), "dec1/b_att_in_1_attention_list": (44,),
                      "dec1/W_T_attention_list": (6,)}
    limits = {s.name: s.init_limit for s in param_specs(typed(case))}
    assert limits["dec1/W_att_in_0_attention_list"] == pytest.approx(np.sqrt(6) / np.sqrt(4 + 44))
    assert limits["dec1/W_T_attention_list"] == pytest.approx(np.sqrt(6) / np.sqrt(12))
    assert limits["dec1/b_att_in_0_attention_list"] == 0.0
    values = init_params(typed(case), 3)
    assert np.abs(values["dec1/W_att_bs_0_attention_list"]).max() <= np.sqrt(6) / np.sqrt(10)


def test_netc_compile_passes_the_full_onnx_check(tmp_path: Path) -> None:
    path = tmp_path / "att.json"
    path.write_text(json.dumps(net({"attention_nbest": 2, "attention_glimpse": 2}, decoders=(1, -1))))
    out = tmp_path / "att.onnx"
    done = subprocess.run([sys.executable, "-m", "netc", "compile", str(path), "-o", str(out), "--num-inputs", "5",
                           "--num-outputs", "7"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    assert any(n.op_type == "Loop" for n in onnx.load(str(out)).graph.node)
    done = subprocess.run([sys.executable, "-m", "netc", "check", str(path), "--num-inputs", "5", "--num-outputs",
                           "7"], capture_output=True, text=True)
    assert "attention_list over fw,bw (template 6, l2, exp, nbest 2, 2 glimpses)" in done.stdout, done.stdout


# ---- options: typed, refused values located at their key -----------------------------------------------------


def build(dec: dict) -> None:
    graph_from_document(Document("<test>", net(dec)), F, 7)


ERRORS = [
    ({"recurrent_transform": "attention_align"}, "recurrent_transform", "not supported"),
    ({"recurrent_transform": "attention_lisst"}, "recurrent_transform", "not supported"),
    ({"attention_beam": 3}, "attention_beam", "'attention_beam' (a window of frames"),
    ({"attention_momentum": "conv1d"}, "attention_momentum", "not implemented by netc"),
    ({"attention_lm": "hard"}, "attention_lm", "not implemented by netc"),
    ({"attention_ndec": 2}, "attention_ndec", "discards the result"),
    ({"recurrent_transform_attribs": {"x": 1}}, "recurrent_transform_attribs", "not implemented by netc"),
    ({"attention_distance": "rnn"}, "attention_distance", "[B, template]"),
    ({"attention_distance": "L2"}, "attention_distance", "unknown value"),
    ({"attention_norm": "lstm"}, "attention_norm", "AttributeError"),
    ({"attention_norm": "RNN"}, "attention_norm", "NotImplementedError"),
    ({"attention_template": 0}, "attention_template", "between 1 and"),
    ({"attention_template": "6"}, "attention_template", "whole number"),
    ({"attention_nbest": -1}, "attention_nbest", ">= 0"),
    ({"attention_glimpse": -2}, "attention_glimpse", "between 0 and 64"),
    ({"attention_sharpening": True}, "attention_sharpening", "finite number"),
    ({"attention_sharpning": 2.0}, "attention_sharpning", "unknown option"),
    ({"base": []}, "base", "non-empty list"),
    ({"base": ["nope"]}, "base", "not another layer"),
    ({"base": ["dec1"]}, "base", "not another layer"),
]


@pytest.mark.parametrize(("dec", "key", "message"), ERRORS, ids=[e[1] + ":" + str(e[0][e[1]]) for e in ERRORS])
def test_refused_options_are_located_errors_naming_the_key(dec: dict, key: str, message: str) -> None:
    with pytest.raises(NetcError) as error:
        build(dec)
    assert message in str(error.value), str(error.value)
    assert error.value.where.layer == "dec1" and error.value.where.key == key


@pytest.mark.parametrize(("options", "key", "message"), [
    ({"attention_template": 6}, "attention_template", "without recurrent_transform"),
    ({"base": ["fw"]}, "base", "without recurrent_transform"),
])
def test_attention_options_without_the_transform_are_refused(options: dict, key: str, message: str) -> None:
    document = net()
    document["dec1"] = {"class": "rec", "from": "null", "encoder": ["fw"], **options}
    with pytest.raises(NetcError, match=message) as error:
        graph_from_document(Document("<test>", document), F, 7)
    assert error.value.where.key == key


@pytest.mark.parametrize(("layer", "options", "key", "message"), [
    ("fw", {"recurrent_transform": "attention_list"}, "recurrent_transform", "without 'encoder'"),
    ("proj", {"attention_template": 6}, "attention_template", "belongs to a decoder rec layer"),
])
def test_attention_outside_a_decoder_is_refused(layer: str, options: dict, key: str, message: str) -> None:
    document = net()
    document[layer] = {**document[layer], **options}
    with pytest.raises(NetcError, match=message) as error:
        graph_from_document(Document("<test>", document), F, 7)
    assert error.value.where.layer == layer and error.value.where.key == key


def test_theano_defaults_of_unimplemented_options_are_accepted() -> None:
    defaults = {"attention_beam": 0, "attention_momentum": "none", "attention_store": False, "attention_lm": "none",
                "attention_accumulator": "sum", "attention_ndec": 1, "recurrent_transform_attribs": "{}",
                "attention": "none", "attention_step": "linear", "attention_scale": 10}
    graph = typed(Case("d", net(defaults)))
    att = graph["dec1"].layer.theano_attention
    assert att.base == ("fw", "bw") and att.base_dims == (6, 5) and att.template == 6


def test_the_runtime_runs_a_compiled_attention_decoder(tmp_path: Path) -> None:
    """`netc.runtime.Model` (its own batching of ragged sequences) gives the reference's probabilities."""
    case = Case("runtime", net({"attention_nbest": 2}, decoders=(1, -1)), kind="probs")
    params = draw_params(typed(case), np.random.default_rng(0))
    save_model(compile_graph(typed(case), params), tmp_path / "m.onnx")
    rng = np.random.default_rng(5)
    lengths, targets = [9, 1, 4, 12, 2], [3, 5, 1, 7, 2]
    feats = [rng.standard_normal((n, F)).astype(np.float32) for n in lengths]
    outputs = Model(tmp_path / "m.onnx", device="cpu", threads=1, batch_frames=20)(feats, target_lengths=targets)
    for f, t, out in zip(feats, targets, outputs):
        ref, _ = reference.reference_output(case.net, params, f[None], np.array([len(f)]), np.array([t]))
        assert out.shape == ref[0].shape == (t, 7)
        np.testing.assert_allclose(out, ref[0], rtol=0, atol=ATOL)
