"""Beam search (beam 12) on a LibriSpeech-sized attention model: netc's runtime vs RETURNN TF's search, same
parameters, same sequences, each sequence searched alone (as netc's semantics and RETURNN with a batch of one).

The model is the exp3 config's layout at full size (issue 13, section 3): 40 features, 6 BLSTM-1024 layers
(NativeLstm2) with max pooling 3 after the first and 2 after the second, enc_ctx 1024, one head, enc_value 2048,
target_embed 621, an LSTMBlock `s` of 1000, readout 1000 with maxout 2, 1000 labels; parameters are netc's seeded
initial ones (random: hypotheses rarely end, so each search runs its full max_seq_len = encoder frames, the slow
case). Sequences: ragged lengths (frames of 10 ms). Both sides run on the CPU with the same thread count; the
netc side searches all sequences in one call (it batches hypotheses of several sequences per step), RETURNN one
session.run per sequence. Reported: wall seconds (best of --repeats after one warm-up), sequences/s, hypotheses
(final beam entries)/s, real-time factor (seconds per second of audio), and whether the best hypotheses agree.
Usage (timings are noisy on a shared machine; say so when quoting them):
  python bench/search_bench.py [--lengths 300 450 200 380] [--threads 2] [--returnn /work/rvenv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

F, LSTM, LAYERS, POOL, KEY, VALUE, EMBED, S_DIM, READOUT, V = 40, 1024, 6, (3, 2), 1024, 2048, 621, 1000, 1000, 1000
BEAM = 12
HERE = Path(__file__).resolve().parent


def network() -> dict:
    """exp3.ctc's net dict at LibriSpeech size (pretraining's final layout), without the CTC branch and dropout."""
    net: dict = {"source": {"class": "eval", "eval": "tf.clip_by_value(source(0), -3.0, 3.0)"}}
    previous = ["source"]
    for i in range(LAYERS):
        for name, direction in (("fw", 1), ("bw", -1)):
            net[f"lstm{i}_{name}"] = {"class": "rec", "unit": "nativelstm2", "n_out": LSTM, "direction": direction,
                                      "from": previous}
        previous = [f"lstm{i}_fw", f"lstm{i}_bw"]
        if i < len(POOL):
            net[f"lstm{i}_pool"] = {"class": "pool", "mode": "max", "padding": "same", "pool_size": (POOL[i],),
                                    "from": previous, "trainable": False}
            previous = [f"lstm{i}_pool"]
    net |= {
        "encoder": {"class": "copy", "from": previous},
        "enc_ctx": {"class": "linear", "activation": None, "with_bias": True, "from": ["encoder"], "n_out": KEY},
        "inv_fertility": {"class": "linear", "activation": "sigmoid", "with_bias": False, "from": ["encoder"],
                          "n_out": 1},
        "enc_value": {"class": "split_dims", "axis": "F", "dims": (1, VALUE), "from": ["encoder"]},
        "output": {"class": "rec", "from": [], "unit": {
            "output": {"class": "choice", "target": "classes", "beam_size": BEAM, "from": ["output_prob"],
                       "initial_output": 0},
            "end": {"class": "compare", "from": ["output"], "value": 0},
            "target_embed": {"class": "linear", "activation": None, "with_bias": False, "from": ["output"],
                             "n_out": EMBED, "initial_output": 0},
            "weight_feedback": {"class": "linear", "activation": None, "with_bias": False,
                                "from": ["prev:accum_att_weights"], "n_out": KEY},
            "s_transformed": {"class": "linear", "activation": None, "with_bias": False, "from": ["s"], "n_out": KEY},
            "energy_in": {"class": "combine", "kind": "add",
                          "from": ["base:enc_ctx", "weight_feedback", "s_transformed"], "n_out": KEY},
            "energy_tanh": {"class": "activation", "activation": "tanh", "from": ["energy_in"]},
            "energy": {"class": "linear", "activation": None, "with_bias": False, "from": ["energy_tanh"], "n_out": 1},
            "att_weights": {"class": "softmax_over_spatial", "from": ["energy"]},
            "accum_att_weights": {"class": "eval", "from": ["prev:accum_att_weights", "att_weights",
                                                            "base:inv_fertility"],
                                  "eval": "source(0) + source(1) * source(2) * 0.5",
                                  "out_type": {"dim": 1, "shape": (None, 1)}},
            "att0": {"class": "generic_attention", "weights": "att_weights", "base": "base:enc_value"},
            "att": {"class": "merge_dims", "axes": "except_batch", "from": ["att0"]},
            "s": {"class": "rnn_cell", "unit": "LSTMBlock", "from": ["prev:target_embed", "prev:att"], "n_out": S_DIM},
            "readout_in": {"class": "linear", "from": ["s", "prev:target_embed", "att"], "activation": None,
                           "n_out": READOUT},
            "readout": {"class": "reduce_out", "mode": "max", "num_pieces": 2, "from": ["readout_in"]},
            "output_prob": {"class": "softmax", "from": ["readout"], "target": "classes", "loss": "ce"},
        }, "target": "classes", "max_seq_len": "max_len_from('base:encoder')"},
    }
    return net


EXTERN_DATA = {"data": {"dim": F}, "classes": {"dim": V, "sparse": True}}


def inputs(lengths: list[int]) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.standard_normal((n, F)).astype(np.float32) for n in lengths]


def timed(run, repeats: int) -> tuple[float, object]:  # noqa: ANN001
    """Best wall time of `repeats` runs after one warm-up, and the last result."""
    result = run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def netc_side(work: Path, lengths: list[int], threads: int, repeats: int) -> dict:
    from netc.compiler import compile_graph, save_model
    from netc.ir import Document, graph_from_document, init_params
    from netc.runtime import Model

    graph = graph_from_document(Document("search_bench.json", {"network": network(), "extern_data": EXTERN_DATA}))
    params = init_params(graph, 42)
    np.savez(work / "params.npz", **params)
    save_model(compile_graph(graph, params), work / "model")
    model = Model(work / "model", device="cpu", threads=threads)
    seconds, found = timed(lambda: model.search(inputs(lengths), beam_size=BEAM), repeats)
    return {"seconds": seconds, "best": [h[0].labels.tolist() for h in found],
            "scores": [h[0].score for h in found]}


def returnn_side(work: Path, lengths: list[int], threads: int, repeats: int) -> dict:
    """Runs under RETURNN's Python: RETURNN's search of each sequence alone, netc's parameters loaded."""
    import returnn_attention_golden as att
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    att.EXTERN_DATA = EXTERN_DATA
    values = dict(np.load(work / "params.npz"))
    net = att.build(network(), train=False, search=True)
    rec = net.layers["output"]
    labels, scores = rec.output.copy_as_batch_major(), rec.get_search_choices().beam_scores
    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=1)
    with tf.compat.v1.Session(config=config) as session:
        session.run(tf.compat.v1.global_variables_initializer())
        att.load(net, session, values)

        def run() -> list:
            return [session.run([labels.placeholder, labels.get_sequence_lengths(), scores], att.feed(net, x))
                    for x in inputs(lengths)]

        seconds, found = timed(run, repeats)
    return {"seconds": seconds, "best": [y[0, :n[0]].tolist() for y, n, _ in found],
            "scores": [float(s[0][0]) for _, _, s in found]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[300, 450, 200, 380])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--returnn", help="a Python with RETURNN and TensorFlow (e.g. /work/rvenv/bin/python)")
    parser.add_argument("--returnn-side", help=argparse.SUPPRESS)  # internal: the work folder, under RETURNN
    args = parser.parse_args()
    if args.returnn_side:
        work = Path(args.returnn_side)
        result = returnn_side(work, args.lengths, args.threads, args.repeats)
        (work / "returnn.json").write_text(json.dumps(result))
        return
    audio = sum(args.lengths) / 100.0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = {"netc": netc_side(work, args.lengths, args.threads, args.repeats)}
        if args.returnn:
            env = os.environ | {"DISABLE_CUDA": "1", "PYTHONPATH": str(HERE)}
            subprocess.run([args.returnn, str(Path(__file__).resolve()), "--returnn-side", str(work), "--lengths",
                            *map(str, args.lengths), "--threads", str(args.threads), "--repeats", str(args.repeats)],
                           check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            rows["RETURNN TF"] = json.loads((work / "returnn.json").read_text())
    n = len(args.lengths)
    print(f"beam {BEAM}, {n} sequences of {args.lengths} frames ({audio:.1f} s audio), {args.threads} threads")
    print(f"{'':12} {'seconds':>8} {'seqs/s':>8} {'hyps/s':>8} {'RTF':>7}")
    for name, row in rows.items():
        s = row["seconds"]
        print(f"{name:12} {s:8.2f} {n / s:8.2f} {n * BEAM / s:8.1f} {s / audio:7.3f}")
    if "RETURNN TF" in rows:
        same = rows["netc"]["best"] == rows["RETURNN TF"]["best"]
        diff = max(abs(a - b) for a, b in zip(rows["netc"]["scores"], rows["RETURNN TF"]["scores"]))
        print(f"speed-up netc / RETURNN: {rows['RETURNN TF']['seconds'] / rows['netc']['seconds']:.2f}x; best "
              f"hypotheses identical: {same}; best scores differ by at most {diff:.2e}")


if __name__ == "__main__":
    main()
