"""downsample and upsample (Theano-era layers; RETURNN TF has neither) against a numpy transcription of RETURNN
1.20190515's TheanoUtil.downsample/upsample, applied to each sequence alone; ONNX and torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from netc.compiler import compile_graph
from netc.compiler.onnx import CompileOptions
from netc.ir import Document, graph_from_document
from netc.trainer.model import NetModel

from tests.helpers import ragged_batch, session

F = 6
LENGTHS = [5, 1, 7, 2, 6]
REDUCE = {"average": np.mean, "max": np.max, "min": np.min}


def theano_downsample(x: np.ndarray, axis: int, factor: int, method: str) -> np.ndarray:
    """TheanoUtil.downsample on one sequence (`[T, F]`; axis 0 time, 2 feature)."""
    a = 0 if axis == 0 else 1
    cut = (x.shape[a] // factor) * factor
    x = x[:cut] if a == 0 else x[:, :cut]
    shape = (cut // factor, factor, x.shape[1]) if a == 0 else (x.shape[0], cut // factor, factor)
    return REDUCE[method](x.reshape(shape), axis=a + 1)


def theano_upsample(x: np.ndarray, axis: int, factor: int, target_len: int | None) -> np.ndarray:
    """TheanoUtil.upsample (nearest neighbour) on one sequence; time is cut/extended by the last frame."""
    if axis == 2:
        return np.repeat(x, factor, axis=1)
    y = np.repeat(x, factor, axis=0)
    if target_len is not None and len(x) == 0:  # nothing to repeat (undefined in Theano): netc gives zeros
        return np.zeros((target_len, x.shape[1]))
    if target_len is not None:
        y = np.concatenate([y, np.repeat(x[-1:], max(target_len - len(y), 0), axis=0)])[:target_len]
    return y


def down(axis: list[int], factor: list[int], method: str = "average", src: str = "data") -> dict:
    return {"class": "downsample", "axis": axis, "factor": factor, "method": method, "from": src}


CASES = {
    "time_average": ({"output": down([0], [2])}, lambda x, n: theano_downsample(x, 0, 2, "average")),
    "time_feature_max": ({"output": down([0, 2], [3, 2], "max")},
                         lambda x, n: theano_downsample(theano_downsample(x, 0, 3, "max"), 2, 2, "max")),
    "down_up_time": ({"d": down([0], [2], "min"),
                      "output": {"class": "upsample", "axis": 0, "factor": 2, "time_like_last_source": True,
                                 "from": ["d", "data"]}},
                     lambda x, n: theano_upsample(theano_downsample(x, 0, 2, "min"), 0, 2, n)),
    "up_feature": ({"output": {"class": "upsample", "axis": [2], "factor": 2, "from": "data"}},
                   lambda x, n: theano_upsample(x, 2, 2, None)),
}


def expected(case: str, x: np.ndarray, lens: np.ndarray) -> list[np.ndarray]:
    reference = CASES[case][1]
    return [reference(x[b, :n].astype(np.float64), int(n)) for b, n in enumerate(lens)]


@pytest.mark.parametrize("opset", [14, 17])
@pytest.mark.parametrize("case", sorted(CASES))
def test_onnx_and_torch_match_theano(case: str, opset: int) -> None:
    graph = graph_from_document(Document(f"{case}.json", CASES[case][0]), F)
    x, lens = ragged_batch(np.random.default_rng(0), LENGTHS, F)
    model = compile_graph(graph, {}, options=CompileOptions(opset=opset))
    y, out_lens = session(model).run(None, {"data": x, "data:size1": lens})
    with torch.no_grad():
        ctx = NetModel(graph, {}).eval()(torch.from_numpy(x), torch.from_numpy(lens).long())
        y_torch = ctx.padded("output").numpy()
    for b, want in enumerate(expected(case, x, lens)):
        assert out_lens[b] == len(want), (case, b)
        np.testing.assert_allclose(y[b, :len(want)], want, atol=1e-5, rtol=0)
        np.testing.assert_allclose(y_torch[b, :len(want)], want, atol=1e-5, rtol=0)
        assert not np.any(y[b, len(want):])
