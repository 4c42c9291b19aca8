"""Where an onnxruntime `LSTM` node's time goes: the node against its GEMMs timed alone (CPU, one thread).

    python bench/lstm_gemm.py [--hidden 512] [--repeat 5]

For each (input size, steps T, batch B) of bench/encoder.py's BLSTMs: one forward and one reverse `LSTM` node as
netc lowers them (`sequence_lens` connected, full lengths), one bidirectional node, the input projection as one
`MatMul` `[T*B, in] x [in, 4n]` and T recurrent products `[B, n] x [n, 4n]` (one timed, times T), each the best
process CPU time of `--repeat` runs; GFLOP/s of each. What it showed (docs/onnx-contract.md, Performance): the node
costs 1.04-1.17x its GEMMs, the recurrent product is slow with 1-2 rows, and a bidirectional node costs what two
nodes cost.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

CASES = [(640, 1400, 6), (640, 350, 6), (640, 1400, 2), (640, 350, 2), (1024, 240, 6), (1024, 240, 1)]


def session(node: helper.NodeProto, inputs: list, weights: dict[str, np.ndarray]) -> ort.InferenceSession:
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v, k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def best_cpu(run: ort.InferenceSession, feeds: dict[str, np.ndarray], repeat: int) -> float:
    """The least process CPU seconds of `repeat` runs after a warm-up."""
    run.run(None, feeds)
    times = []
    for _ in range(repeat):
        start = time.process_time()
        run.run(None, feeds)
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n, rng = args.hidden, np.random.default_rng(0)
    for n_in, steps, batch in CASES:
        W = (0.03 * rng.standard_normal((1, 4 * n, n_in))).astype(np.float32)
        R = (0.03 * rng.standard_normal((1, 4 * n, n))).astype(np.float32)
        B = np.zeros((1, 8 * n), np.float32)
        x = rng.standard_normal((steps, batch, n_in)).astype(np.float32)
        lens = np.full(batch, steps, np.int32)
        inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", "B", n_in]),
                  helper.make_tensor_value_info("lens", TensorProto.INT32, ["B"])]
        seconds = {}
        for direction, weights in (("forward", (W, R, B)), ("reverse", (W, R, B)),
                                   ("bidirectional", (np.concatenate([W, W]), np.concatenate([R, R]),
                                                      np.concatenate([B, B])))):
            lstm = session(helper.make_node("LSTM", ["x", "W", "R", "B", "lens"], ["y"], hidden_size=n,
                                            direction=direction), inputs, dict(zip("WRB", weights)))
            seconds[direction] = best_cpu(lstm, {"x": x, "lens": lens}, args.repeat)
        project = session(helper.make_node("MatMul", ["x", "Wt"], ["y"]), inputs[:1],
                          {"Wt": np.ascontiguousarray(W[0].T)})
        seconds["input MatMul"] = best_cpu(project, {"x": x}, args.repeat)
        recur = session(helper.make_node("MatMul", ["h", "Rt"], ["y"]),
                        [helper.make_tensor_value_info("h", TensorProto.FLOAT, ["B", n])],
                        {"Rt": np.ascontiguousarray(R[0].T)})
        h = rng.standard_normal((batch, n)).astype(np.float32)
        seconds["recurrent MatMul x T"] = steps * best_cpu(recur, {"h": h}, 50 * args.repeat)
        flops_in, flops_rec = 2 * steps * batch * n_in * 4 * n, 2 * steps * batch * n * 4 * n
        gemms = seconds["input MatMul"] + seconds["recurrent MatMul x T"]
        print(f"in={n_in} T={steps} B={batch}: " + ", ".join(f"{k} {1e3 * v:.0f} ms" for k, v in seconds.items())
              + f"; forward / GEMMs {seconds['forward'] / gemms:.2f}; GFLOP/s: forward "
              f"{(flops_in + flops_rec) / seconds['forward'] / 1e9:.0f}, input MatMul "
              f"{flops_in / seconds['input MatMul'] / 1e9:.0f}, recurrent "
              f"{flops_rec / seconds['recurrent MatMul x T'] / 1e9:.0f}", flush=True)


if __name__ == "__main__":
    main()
