"""A tester's findings on models of layers after a swap_axes: ONNX and torch against RETURNN's numbers."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from netc.compiler import compile_graph
from netc.ir import Document, graph_from_document, init_params
from netc.trainer.model import NetModel

from tests.helpers import ragged_batch, session

SWAPPED_REDUCE = {"w": {"class": "swap_axes", "axis1": "T", "axis2": "F", "from": "data"},
                  "r": {"class": "reduce", "mode": "mean", "axes": "T", "from": "w"},
                  "m": {"class": "reduce", "mode": "max", "axes": "T", "from": "w"},
                  "output": {"class": "combine", "kind": "add", "from": ["data", "r", "m"]}}


@pytest.mark.parametrize("lengths", [[7, 5, 1, 9], [1]])
def test_a_reduce_over_time_of_batch_feature_time_masks_each_sequence(lengths: list[int]) -> None:
    # F6b: compiling {"w": swap_axes T<->F, "r": reduce T of w} hit an assertion (mask of a non-[B, T, ...] value),
    # and torch masked axis 1 (F) instead of T. RETURNN masks T (measured with returnn 1.20261022: the
    # reference below matches it within 5e-7 on this net).
    graph = graph_from_document(Document("n.json", SWAPPED_REDUCE), 4)
    params = init_params(graph, 1)
    model = compile_graph(graph, params)
    onnx.checker.check_model(model, full_check=True)
    x, lens = ragged_batch(np.random.default_rng(0), lengths, 4)
    y = session(model).run(None, {"data": x, "data:size1": lens})[0]
    with torch.no_grad():
        yt = NetModel(graph, params).eval()(torch.from_numpy(x), torch.from_numpy(lens).long()).padded("output")
    for b, n in enumerate(lens):
        reference = x[b, :n] + x[b, :n].mean(0) + x[b, :n].max(0)
        np.testing.assert_allclose(y[b, :n], reference, atol=1e-5)
        np.testing.assert_allclose(yt.numpy()[b, :n], reference, atol=1e-5)
