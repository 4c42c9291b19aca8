"""Max pooling over time alone (compiler/onnx/conv.py lower_time_max_pool): each sequence pooled as TF pools it
alone (SAME padding from its own length, padding never the maximum), in batch-major graphs and in the time-major
graphs of networks with an LSTM, on ragged batches with garbage padding and lengths 1; and no transposes or frame
gathers in the lowering."""

from __future__ import annotations

import numpy as np
import pytest
from netc.compiler import compile_graph
from netc.ir import Document, graph_from_document

from tests.helpers import ragged_batch, session

F = 3


def tf_max_pool(x: np.ndarray, k: int, s: int, d: int, same: bool) -> np.ndarray:
    """One sequence `[n, F]` alone: TF's max_pool over time with dilation (RETURNN PoolLayer)."""
    n, reach = len(x), (k - 1) * d
    if same:
        out = -(-n // s)
        left = max((out - 1) * s + reach + 1 - n, 0) // 2
    else:
        out, left = max(0, -(-(n - reach) // s)), 0
    frames = [[t * s + j * d - left for j in range(k)] for t in range(out)]
    return np.array([x[[i for i in f if 0 <= i < n]].max(axis=0) for f in frames]).reshape(out, x.shape[1])


@pytest.mark.parametrize("rec", [False, True], ids=["batch_major", "time_major"])
@pytest.mark.parametrize(("k", "s", "d", "padding"), [
    (3, 3, 1, "same"), (2, 2, 1, "same"), (4, 2, 1, "same"), (5, 3, 1, "same"), (3, 1, 1, "same"),
    (3, 2, 2, "same"), (2, 2, 1, "valid"), (3, 2, 1, "valid"), (2, 1, 3, "valid"),
])
def test_max_pool_over_time_matches_tf_on_each_sequence_alone(rec: bool, k: int, s: int, d: int, padding: str):
    pool = {"class": "pool", "mode": "max", "pool_size": [k], "strides": [s], "dilation_rate": [d],
            "padding": padding, "from": ["data", "lstm"] if rec else "data"}
    # With a rec layer every [B, T, F] value is time-major; its zero weights make its output 0 on valid frames.
    net = {"output": pool} | ({"lstm": {"class": "rec", "unit": "nativelstm2", "n_out": 2, "from": "data"}}
                              if rec else {})
    graph = graph_from_document(Document("pool.json", net), F)
    params = {"lstm/rec/W": np.zeros((F, 8), np.float32), "lstm/rec/W_re": np.zeros((2, 8), np.float32),
              "lstm/rec/b": np.zeros(8, np.float32)} if rec else {}
    model = compile_graph(graph, params)
    ops = [n.op_type for n in model.graph.node]
    assert "MaxPool" not in ops and "GatherElements" not in ops and ops.count("Transpose") == 2 * rec  # in, out
    rng = np.random.default_rng(k * 100 + s * 10 + d)
    lengths = [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13, 14]
    x, lens = ragged_batch(rng, lengths, F)
    y, out_lens = session(model).run(None, {"data": x, "data:size1": lens})
    for b, n in enumerate(lengths):
        seq = np.concatenate([x[b, :n], np.zeros((n, 2 if rec else 0), np.float32)], axis=1)
        want = tf_max_pool(seq, k, s, d, padding == "same")
        assert out_lens[b] == len(want)
        np.testing.assert_array_equal(y[b, : len(want)], want)
        assert not np.any(y[b, len(want):])


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_a_pool_of_one_frame_is_the_identity_also_on_a_batch_of_empty_sequences(mode: str) -> None:
    """exp3's later BLSTM layers pool with pool_size (1,): onnxruntime's MaxPool refuses a time axis of 0 frames, so
    a batch holding only empty sequences failed; a window of one frame is its input."""
    net = {"output": {"class": "pool", "mode": mode, "pool_size": [1], "padding": "same", "from": "data"}}
    model = compile_graph(graph_from_document(Document("pool.json", net), F), {})
    assert not any(n.op_type.endswith("Pool") for n in model.graph.node)
    x, lens = ragged_batch(np.random.default_rng(1), [3, 1], F)
    y, out_lens = session(model).run(None, {"data": x, "data:size1": lens})
    np.testing.assert_array_equal(out_lens, lens)
    np.testing.assert_array_equal(y[0], x[0])
    y, out_lens = session(model).run(None, {"data": np.zeros((2, 0, F), np.float32),
                                            "data:size1": np.zeros(2, np.int32)})
    assert y.shape == (2, 0, F) and list(out_lens) == [0, 0]
