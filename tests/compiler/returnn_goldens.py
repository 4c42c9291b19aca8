"""Checking compiled models and the torch model against RETURNN TF goldens (bench/returnn_layer_goldens.py).

A golden case holds a net dict, parameters, and RETURNN's output for each sequence run alone. The checks put
the sequences in one ragged batch whose padded frames (and two extra trailing frames) hold large garbage,
and demand RETURNN's output lengths, atol 1e-5 on every valid frame, and zeros on padded output frames.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from netc.compiler import compile_graph
from netc.ir import Document, Graph, graph_from_document
from netc.trainer.model import NetModel

from tests.helpers import ragged_batch, session

DATA = Path(__file__).parent / "data"
ATOL = 1e-5


def load_cases(name: str) -> dict[str, dict]:
    """The cases of one golden file, by id."""
    return {case["id"]: case for case in json.loads((DATA / name).read_text())["cases"]}


def graph_of(case: dict) -> Graph:
    if case.get("sparse"):  # class-index data is declared as RETURNN declares it
        config = {"network": case["net"], "extern_data": {"data": {"dim": case["num_inputs"], "sparse": True}}}
        return graph_from_document(Document(f"{case['id']}.json", config))
    return graph_from_document(Document(f"{case['id']}.json", case["net"]), case["num_inputs"])


def params_of(case: dict) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, np.float32) for k, v in case["params"].items()}


def garbage_batch(case: dict) -> tuple[np.ndarray, np.ndarray]:
    """The case's sequences in one padded batch, garbage beyond each length and in 2 extra frames."""
    if case.get("sparse"):  # class indices; padding holds out-of-range garbage
        lengths = [len(x) for x in case["inputs"]]
        x = np.full((len(lengths), max(lengths) + 2), 12345, np.int32)
        x[::2, -1] = -1
        for b, seq in enumerate(case["inputs"]):
            x[b, :len(seq)] = np.asarray(seq, np.int32)
        return x, np.asarray(lengths, np.int32)
    inputs = [np.asarray(x, np.float32).reshape(-1, case["num_inputs"]) for x in case["inputs"]]
    lengths = [len(x) for x in inputs]
    x, lens = ragged_batch(np.random.default_rng(0), [*lengths[:-1], lengths[-1] + 2], case["num_inputs"])
    lens[-1] = lengths[-1]
    x[-1, lengths[-1]:] = 100.0
    for b, seq in enumerate(inputs):
        x[b, :len(seq)] = seq
    return x, lens


def assert_matches(case: dict, y: np.ndarray, out_lens: np.ndarray) -> None:
    """RETURNN's lengths, every valid frame within ATOL, padded frames exactly 0."""
    np.testing.assert_array_equal(out_lens, case["out_lengths"], err_msg=f"{case['id']}: output lengths")
    for b, expected in enumerate(case["outputs"]):
        n = case["out_lengths"][b]
        expected = np.asarray(expected, np.float32).reshape((n, *y.shape[2:]))
        np.testing.assert_allclose(y[b, :n], expected, atol=ATOL, rtol=0, err_msg=f"{case['id']}: sequence {b}")
        assert not np.any(y[b, n:]), f"{case['id']}: padded frames of sequence {b} are not 0"


def run_onnx(case: dict) -> tuple[np.ndarray, np.ndarray]:
    x, lens = garbage_batch(case)
    model = compile_graph(graph_of(case), params_of(case))
    y, out_lens = session(model).run(None, {"data": x, "data:size1": lens})
    return y, out_lens


def run_torch(case: dict) -> tuple[np.ndarray, np.ndarray]:
    graph = graph_of(case)
    x, lens = garbage_batch(case)
    with torch.no_grad():
        ctx = NetModel(graph, params_of(case)).eval()(torch.from_numpy(x), torch.from_numpy(lens).long())
        out = graph.output.out_type
        return ctx.padded("output").numpy(), ctx.packing(out.time).lengths.numpy()


def assert_train_mode_matches(case: dict) -> None:
    """Train mode, each sequence alone in a fresh model: the outputs and the running statistics RETURNN stored
    (`case["train_outputs"]`, `case["train_stats"]`)."""
    graph = graph_of(case)
    for b, seq in enumerate(case["inputs"]):
        x = torch.tensor(seq, dtype=torch.float32).reshape(1, -1, case["num_inputs"])
        model = NetModel(graph, params_of(case)).train()
        got = model(x, torch.tensor([x.shape[1]])).padded("output").detach().numpy()[0]
        np.testing.assert_allclose(got, np.asarray(case["train_outputs"][b], np.float32).reshape(got.shape),
                                   atol=ATOL, rtol=0, err_msg=f"{case['id']}: sequence {b}")
        values = model.named_values()
        for name, expected in case["train_stats"][b].items():
            np.testing.assert_allclose(values[name], np.asarray(expected, np.float32), atol=ATOL, rtol=0,
                                       err_msg=name)


def assert_cli_matches(tmp_path: Path, case: dict) -> None:
    """The user's path: the case's net dict file and parameter .npz through `netc compile --params`, run on
    onnxruntime, match RETURNN."""
    net = tmp_path / "net.json"
    net.write_text(json.dumps(case["net"]))
    np.savez(tmp_path / "params.npz", **params_of(case))
    out = tmp_path / "m.onnx"
    subprocess.run([sys.executable, "-m", "netc", "compile", str(net), "-o", str(out), "--num-inputs",
                    str(case["num_inputs"]), "--params", str(tmp_path / "params.npz")], check=True)
    x, lens = garbage_batch(case)
    assert_matches(case, *session(out).run(None, {"data": x, "data:size1": lens}))


def golden_tests(name: str) -> tuple:
    """The ONNX and torch test functions over every case of one golden file (assign them to test_ names)."""
    cases = load_cases(name)

    @pytest.mark.parametrize("case_id", sorted(cases))
    def onnx_matches_returnn(case_id: str) -> None:
        assert_matches(cases[case_id], *run_onnx(cases[case_id]))

    @pytest.mark.parametrize("case_id", sorted(cases))
    def torch_matches_returnn(case_id: str) -> None:
        assert_matches(cases[case_id], *run_torch(cases[case_id]))

    return onnx_matches_returnn, torch_matches_returnn
