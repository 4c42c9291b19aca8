"""The runtime's outputs equal the trainer's torch model of the same parameters (atol 1e-5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from netc.compiler import compile_graph, save_model
from netc.ir import Document, graph_from_document, param_specs
from netc.runtime import Model
from netc.trainer.model import NetModel

NETS = {
    "blstm2": {"fw": {"class": "rec", "n_out": 6}, "bw": {"class": "rec", "n_out": 6, "direction": -1},
               "fw2": {"class": "rec", "n_out": 5, "from": ["fw", "bw"]},
               "bw2": {"class": "rec", "n_out": 5, "direction": -1, "from": ["fw", "bw"]},
               "output": {"class": "softmax", "from": ["fw2", "bw2"]}},
    "seq2seq": {"fw": {"class": "rec", "n_out": 4}, "bw": {"class": "rec", "n_out": 3, "direction": -1},
                "dec": {"class": "rec", "from": None, "encoder": ["fw", "bw"], "direction": -1},
                "output": {"class": "softmax", "from": "dec"}},
}
LENGTHS = [17, 1, 9, 30, 2, 17, 5]


@pytest.mark.parametrize("name", sorted(NETS))
def test_runtime_equals_the_trainers_torch_model(name: str, tmp_path: Path) -> None:
    graph = graph_from_document(Document(f"{name}.json", NETS[name]), 5, 7)
    rng = np.random.default_rng(0)
    params = {s.name: rng.uniform(-0.5, 0.5, s.shape).astype(np.float32) for s in param_specs(graph)}
    save_model(compile_graph(graph, params), tmp_path / "m.onnx")
    feats = [rng.standard_normal((n, 5)).astype(np.float32) for n in LENGTHS]
    targets = [max(1, n // 3) for n in LENGTHS] if graph.is_encoder_decoder else None
    model = Model(tmp_path / "m.onnx", device="cpu", threads=1, batch_frames=60)
    outputs = model(feats, target_lengths=targets) if targets else model(feats)

    lens = torch.tensor(LENGTHS)
    data = torch.zeros(len(feats), max(LENGTHS), 5)
    for b, f in enumerate(feats):
        data[b, : len(f)] = torch.from_numpy(f)
    with torch.no_grad():
        ctx = NetModel(graph, params).eval()(data, lens, torch.tensor(targets) if targets else None)
    expected = ctx.padded("output").numpy()
    for b, out in enumerate(outputs):
        n = targets[b] if targets else LENGTHS[b]
        assert out.shape == (n, 7)
        np.testing.assert_allclose(out, expected[b, :n], atol=1e-5, rtol=0)
