"""RETURNN's axis notation, reduce argmax/argmin, and reinterpret_data's axis and sparse options against RETURNN TF
(goldens: bench/returnn_layer_goldens.py axes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from netc.compiler import compile_graph

from tests.compiler.returnn_goldens import (
    assert_cli_matches,
    assert_matches,
    garbage_batch,
    golden_tests,
    graph_of,
    load_cases,
    params_of,
    run_onnx,
    run_torch,
)
from tests.helpers import session

CASES = load_cases("returnn_axes.json")
test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_axes.json")


def test_argmax_over_time_ignores_padded_frames() -> None:
    """Teeth: without the time mask the garbage (100.0) in padded frames would be the argmax."""
    case = CASES["reduce_argmax_time_dense"]
    x, lens = garbage_batch(case)
    assert (x == 100.0).any()
    model = compile_graph(graph_of(case), params_of(case))
    (node,) = [n for n in model.graph.node if n.op_type == "ArgMax"]
    masked = node.input[0]
    node.input[0] = next(n.input[1] for n in model.graph.node if n.output[0] == masked)  # unmasked value
    with pytest.raises(AssertionError):
        assert_matches(case, *session(model).run(None, {"data": x, "data:size1": lens}))


def run_check(tmp_path: Path, net: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "net.json"
    path.write_text(json.dumps(net, indent=1))
    return subprocess.run([sys.executable, "-m", "netc", "check", str(path), "--num-inputs", "6"],
                          capture_output=True, text=True)


@pytest.mark.parametrize("layer, key, words", [
    ({"class": "reduce", "mode": "max", "axes": "spatial:1", "from": "data"}, "axes",
     ["'spatial:1'", "its axes are", "'T'", "'F'"]),
    ({"class": "reduce", "mode": "argmax", "axes": "TF", "from": "data"}, "axes", ["argmax reduces exactly one"]),
    ({"class": "reduce", "mode": "sum", "axes": "stag:s_split_dims0", "from": "data"}, "axes",
     ["stag:s_split_dims0", "time:var:extern_data:data"]),
    ({"class": "reduce", "mode": "sum", "axes": "stag:split_dims", "from": "data"}, "axes",
     ["no spatial axis", "'time:var:extern_data:data'"]),
    ({"class": "reduce", "mode": "any", "axes": "T", "from": "data"}, "mode", ["bool", '"max"']),
    ({"class": "reduce", "mode": "all", "axes": "T", "from": "data"}, "mode", ["bool", '"min"']),
    ({"class": "reinterpret_data", "set_axes": {"F": "T"}, "from": "data"}, "set_axes", ["not its F axis"]),
    ({"class": "reinterpret_data", "set_axes": {"F": 2}, "from": "data"}, "set_axes", ["enforce_batch_major"]),
    ({"class": "reinterpret_data", "increase_sparse_dim": 1, "from": "data"}, "increase_sparse_dim",
     ["needs class indices", "set_sparse"]),
    ({"class": "reinterpret_data", "set_sparse": True, "from": "data"}, "set_sparse", ["int32"]),
    ({"class": "length", "axis": "F", "from": "data"}, "axis", ["length of axis 'F'", '"T"']),
    ({"class": "reinterpret_data", "set_dim_tags": {"T": None}, "from": "data"}, "set_dim_tags",
     ["RETURNN's option", "remove it"]),
])
def test_bad_axes_are_located_errors(tmp_path: Path, layer: dict, key: str, words: list[str]) -> None:
    """An axis the input lacks, or a role netc's types cannot give: exit 2, the layer, the key and what exists."""
    result = run_check(tmp_path, {"x": layer | {"is_output_layer": True}, "output": {"class": "copy", "from": "data"}})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "'x'" in result.stderr and key in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_check_prints_sparse_argmax_and_increased_classes(tmp_path: Path) -> None:
    net = CASES["increase_sparse_dim"]["net"] | {"t": {"class": "reduce", "mode": "argmax", "axes": "T",
                                                        "from": "data", "is_output_layer": True}}
    result = run_check(tmp_path, net)
    assert result.returncode == 0, result.stderr
    assert "sparse(6)" in result.stdout and "sparse(8)" in result.stdout, result.stdout


def test_length_names_the_time_axis_by_tag(tmp_path: Path) -> None:
    net = {"n": {"class": "length", "axis": "stag:time", "from": "data"},
           "output": {"class": "eval", "from": ["data", "n"], "eval": "source(0) * tf.cast(source(1), tf.float32)"}}
    assert run_check(tmp_path, net).returncode == 0


def test_compile_cli_with_params_matches_returnn(tmp_path: Path) -> None:
    assert_cli_matches(tmp_path, CASES["reduce_argmin_dim_split"])


def test_published_stag_merge_compiles_from_the_cli(tmp_path: Path) -> None:
    """The conformer hybrids' front end: merge_dims of ["stag:conv0p:conv:s1", "dim:N"] (RETURNN's tag of the axis
    the pool layer conv0p halves), compiled by `netc compile --params`, matches RETURNN."""
    assert_cli_matches(tmp_path, CASES["stag_conv_front_end"])


def test_copy_passes_class_indices_on_as_they_are() -> None:
    """RETURNN's copy takes a source of any type: an argmax's class indices copied, then embedded, give the
    golden of the net without the copy (it was refused for want of a feature dim)."""
    case = CASES["reduce_argmax_feature_embedding"]
    net = dict(case["net"])
    net["c"] = {"class": "copy", "from": "r"}
    net["output"] = {**net["output"], "from": "c"}
    copied = {**case, "net": net}
    assert_matches(copied, *run_onnx(copied))
    assert_matches(copied, *run_torch(copied))
