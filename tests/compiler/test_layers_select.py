"""switch, gather, gather_nd (ir/layers/select.py): ONNX and torch against RETURNN TF goldens
(bench/returnn_layer_goldens.py select; ragged lengths incl. 1, garbage in padding), against numpy, and their
located errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from netc.ir import Document, NetcError, graph_from_document

from tests.compiler.returnn_goldens import assert_cli_matches, golden_tests, load_cases, run_onnx, run_torch
from tests.decoder_goldens import DATA, load
from tests.trainer.test_rec_loop import assert_log_probs_equal, batch_of, graph_of, run

test_select_onnx_matches_returnn, test_select_torch_matches_returnn = golden_tests("returnn_select.json")
CASES = load_cases("returnn_select.json")


def valid_outputs(case: dict, y: np.ndarray) -> list[np.ndarray]:
    return [y[b, :n] for b, n in enumerate(case["out_lengths"])]


def numpy_reference(case_id: str, x: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
    """An independent numpy computation of one sequence `x [T, F]` of the case."""
    if case_id == "switch_layer_const":
        return np.where(x > 0, x, np.float32(-1.5))
    if case_id == "switch_const_layer":
        return np.where(x > 0, np.float32(0.5), np.exp(x))
    if case_id == "switch_broadcast":
        return np.where((x.mean(-1) < 0)[:, None], x, x.max(0)[None, :])
    if case_id == "gather_feature_by_argmax":
        pos = (x @ params["l/W"] + params["l/b"]).argmax(-1)
        return x * x[np.arange(len(x)), pos][:, None]
    if case_id == "gather_time_by_int":
        return x - x[0]
    if case_id == "gather_time_by_layer":
        return x * x[x.mean(-1).argmax()]
    if case_id == "gather_static_per_frame":
        pos = (x @ params["l/W"] + params["l/b"]).argmax(-1)
        return x.reshape(len(x), 2, 3)[np.arange(len(x)), pos]
    assert case_id == "gather_nd_time"
    return x + x[x.mean(-1).argmax()]


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_select_onnx_torch_and_numpy_agree(case_id: str) -> None:
    case = CASES[case_id]
    params = {k: np.asarray(v, np.float32) for k, v in case["params"].items()}
    onnx_y, torch_y = run_onnx(case)[0], run_torch(case)[0]
    for b, (a, t) in enumerate(zip(valid_outputs(case, onnx_y), valid_outputs(case, torch_y), strict=True)):
        x = np.asarray(case["inputs"][b], np.float32).reshape(-1, case["num_inputs"])
        expected = numpy_reference(case_id, x, params)
        np.testing.assert_allclose(a, expected, atol=1e-5, rtol=0, err_msg=f"{case_id} onnx seq {b}")
        np.testing.assert_allclose(t, expected, atol=1e-5, rtol=0, err_msg=f"{case_id} torch seq {b}")


def test_gather_at_class_indices_with_garbage_padding() -> None:
    """Positions from sparse data with out-of-range garbage (12345, -1) in padded frames (the model masks it at
    its input; an out-of-range index would fail in ONNX): ONNX and torch give numpy's values on valid frames."""
    net = {"l": {"class": "linear", "n_out": 7, "activation": "tanh", "from": "data"},
           "g": {"class": "gather", "from": "l", "position": "data", "axis": "F"},
           "output": combine_mul(["l", "g"])}
    case = {"id": "gather_sparse", "net": net, "num_inputs": 7, "sparse": True, "params": {
        "l/W": np.random.default_rng(1).uniform(-1, 1, (7, 7)).tolist(), "l/b": [0.1] * 7},
        "inputs": [[3, 6, 0], [5], [1, 2, 4, 6, 6]]}
    w, bias = np.asarray(case["params"]["l/W"], np.float32), np.float32(0.1)
    expected = []
    for seq in case["inputs"]:
        h = np.tanh(w[seq] + bias)
        expected.append(h * h[np.arange(len(seq)), seq][:, None])
    for y, _ in (run_onnx(case), run_torch(case)):
        for b, e in enumerate(expected):
            np.testing.assert_allclose(y[b, :len(e)], e, atol=1e-5, rtol=0, err_msg=f"seq {b}")


def combine_mul(sources: list[str]) -> dict:
    return {"class": "combine", "kind": "mul", "from": sources}


UNIT = DATA / "rec_unit" / "select.json"  # bench/returnn_select_unit_golden.py


@pytest.mark.parametrize("move_out", [True, False])
def test_unit_with_switch_and_gather_per_step_matches_returnn_teacher_forced(move_out: bool) -> None:
    """The decoder unit of returnn_select_unit_golden (gather of base:encoder at the attention's argmax, switch on
    prev:output) in netc's torch teacher forcing, all sequences in one ragged batch with garbage padding: RETURNN's
    log-probs per step. (The ONNX step model and search run it through tests/decoder_goldens.py.)"""
    golden = load(UNIT)
    assert any(2 in t for t in golden["targets"])  # the switch takes both branches
    output = golden["net"]["output"] | {"optimize_move_layers_out": move_out}
    _, ctx = run(golden, batch_of(golden), graph_of(golden, output=output))
    assert_log_probs_equal(golden, ctx)


def test_netc_compile_of_a_switch_and_gather_net_matches_returnn(tmp_path: Path) -> None:
    assert_cli_matches(tmp_path, CASES["gather_time_by_layer"])


GREATER = {"class": "compare", "kind": "greater", "value": 0.0, "from": "data"}
BAD = [
    ({"c": GREATER, "output": {"class": "switch", "condition": "c", "true_from": "data"}},
     "'false_from' is required", "false_from"),
    ({"output": {"class": "switch", "condition": "data", "true_from": "data", "false_from": 0.0}},
     "not bool", "condition"),
    ({"output": {"class": "switch", "condition": True, "true_from": "data", "false_from": 0.0}},
     "not a layer", "condition"),
    ({"c": GREATER, "output": {"class": "switch", "condition": "c", "true_from": "nope", "false_from": 0.0}},
     "true_from names 'nope'", "true_from"),
    ({"c": GREATER, "output": {"class": "switch", "from": "data", "condition": "c", "true_from": "data",
                               "false_from": 0.0}}, "not 'from'", "from"),
    ({"c": GREATER, "p": {"class": "reduce", "mode": "argmax", "axes": "F", "from": "data"},
      "output": {"class": "switch", "condition": "c", "true_from": "p", "false_from": 0.5}}, "not a whole number",
     "false_from"),
    ({"c": GREATER, "p": {"class": "reduce", "mode": "argmax", "axes": "F", "from": "data"},
      "output": {"class": "switch", "condition": "c", "true_from": "p", "false_from": "data"}}, "is float32, but",
     "false_from"),
    ({"output": {"class": "gather", "from": "data", "position": "data", "axis": "F"}}, "not int32", "position"),
    ({"output": {"class": "gather", "from": "data", "position": 0, "axis": "B"}}, "along the batch", "axis"),
    ({"output": {"class": "gather", "from": "data", "position": 0}}, "'axis' is required", "axis"),
    ({"output": {"class": "gather", "from": "data", "position": 0, "axis": "F", "clip_to_valid": True}},
     "clip_to_valid", "clip_to_valid"),
    ({"output": {"class": "gather_nd", "from": "data", "position": 0}}, "'position' is required", "position"),
]


@pytest.mark.parametrize(("net", "message", "key"), BAD)
def test_bad_select_configs_are_located_errors(net: dict, message: str, key: str) -> None:
    with pytest.raises(NetcError, match=message) as info:
        graph_from_document(Document("net.json", net), 6)
    assert info.value.where.key == key


@pytest.mark.parametrize("layer_class", ["cum_concat", "masked_computation", "unmask"])
def test_unimplemented_classes_are_named_with_their_reason(layer_class: str) -> None:
    unit = {"x": {"class": layer_class, "from": "data:source"}, "output": {"class": "copy", "from": "x"}}
    net = {"output": {"class": "rec", "from": "data", "unit": unit}}
    with pytest.raises(NetcError, match=f"unimplemented layer class '{layer_class}'") as info:
        graph_from_document(Document("net.json", net), 6)
    assert info.value.where.key == "class" and info.value.where.layer == "output/x"
    assert "netc does not implement" in (info.value.hint or "")
