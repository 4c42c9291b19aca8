"""Beam search speed: netc runtime vs RETURNN TF search on the same parameters, side by side (CPU; issue 13 section 3).

    python bench/search_speed.py --returnn /work/rvenv/bin/python [--seqs 8 | --lengths 300 450 200 380]
        [--seed 0] [--threads 1] [--beam 12] [--rounds 1] [--small]

The network is the 2018 LibriSpeech attention model (returnn-experiments 2018-asr-attention, librispeech
attention exp3) in its own unit layout, as a miniature of LibriSpeech size: the input clipped to [-3, 3], 6 x
BLSTM-1024 (`nativelstm2`) with max `pool` in time 3 after the first BLSTM and 2 after the second (the later
pools of size 1, as exp3 writes them), `enc_ctx` (key 1024), `inv_fertility` and `enc_value` (1 head), and exp3's
decoder unit unchanged (target embedding 621, weight feedback of the accumulated attention weights, additive
attention, `rnn_cell` LSTMBlock 1000, readout 1000 with maxout 2) over a 1000-label vocabulary, label 0 the end,
`max_seq_len` = the encoder's length. No dropout, no label smoothing, no CTC layer (search reads none of them).
`--small`: the same layout with tiny dims (a smoke run).

The parameters are RETURNN's own random initialization (its TFNetwork in search mode, `global_variables_initializer`),
written to an npz under RETURNN's variable names (netc's names, docs/netdict.md section 8) straight from the
session: bench/returnn_golden.py's `params` reads checkpoints into JSON, too slow for 140M values. netc compiles
the same config with `netc compile CONFIG --params params.npz -o MODEL`.
The corpus: `--seqs` seeded sequences of 2-6 s (200-600 frames at 100 frames/s, 40 standard-normal features), or
with `--lengths` one sequence of each given number of frames (`--lengths 300 450 200 380 --seed 7 --threads 2` are
the conditions of the figures measured with the former bench/search_bench.py, whose parameters were netc's
seeded initialization instead of RETURNN's: both random, docs/onnx-contract.md).

Both sides measure the same search, after one untimed warm-up search of the shortest sequence each:
- RETURNN: its TFNetwork built with `search_flag=True` in a subprocess of `--returnn PYTHON` (DISABLE_CUDA=1, a
  session with `--threads` intra- and inter-op threads), one `session.run` of the `decision` layer, the rec
  layer's beam and its `beam_scores` (what RETURNN's engine writes in `task = "search"`), (a) each sequence alone,
  a batch of one, as netc searches, and (b) all sequences in one padded batch (RETURNN's usual search; its
  hypotheses can depend on the batch-mates, issue 13 "Decisions").
- netc: `netc.runtime.Model(MODEL, threads=--threads).search(features, beam_size=--beam)`.
Figures: wall clock and the process's CPU time (with one thread the CPU time is what the search cost even while
other jobs share the cores), best of `--rounds` rounds; sequences/s, hypotheses/s (sequences x beam n-best entries
returned), and the real-time factor (seconds of search per second of audio). The two sides' best hypotheses are
compared sequence by sequence (RETURNN alone vs netc), and their scores.

Measured 2026-12-01, `--rounds 2`, one thread each, on the shared 2-core VM at load average 8-11 (CPU s, best of 2):
RETURNN alone 13.81 (RTF 0.515), RETURNN batched 14.96, netc 4.83 (RTF 0.180): netc 2.86x RETURNN alone (2.72x
by wall clock); the encoder alone 10.52 vs 1.88 s, the decoder steps 3.29 vs 2.95 s; the same n-best lists on 8/8
sequences. Details and caveats (random parameters: no hypothesis ends early): docs/onnx-contract.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from returnn_attention_golden import attention_decoder
from returnn_golden import made_by

F = 40
FRAMES_PER_SECOND = 100


@dataclass(frozen=True)
class Dims:
    """The network's sizes: exp3's (LstmDim 1024, EncKeyTotalDim 1024, 1 head, LSTMBlock 1000) or tiny ones."""

    layers: int = 6
    lstm: int = 1024
    key: int = 1024
    embed: int = 621
    decoder: int = 1000
    readout: int = 1000
    vocab: int = 1000


SMALL = Dims(layers=3, lstm=16, key=12, embed=8, decoder=20, readout=10, vocab=30)
OUTSIDE_LOOP = ("enc_ctx", "inv_fertility", "enc_value")  # the encoder's layers the decoder reads (base:)
POOLS = {0: 3, 1: 2}  # time pooling after BLSTM k (the later ones have pool size 1, as exp3 writes them)


def network(d: Dims, beam: int) -> dict:
    """exp3's net dict at the sizes `d`, without dropout, label smoothing and the CTC layer."""
    net: dict = {"source": {"class": "eval", "eval": "tf.clip_by_value(source(0), -3.0, 3.0)"}}
    source = ["source"]
    for k in range(d.layers):
        lstm = {"class": "rec", "unit": "nativelstm2", "n_out": d.lstm, "from": source}
        net[f"lstm{k}_fw"], net[f"lstm{k}_bw"] = lstm | {"direction": 1}, lstm | {"direction": -1}
        source = [f"lstm{k}_fw", f"lstm{k}_bw"]
        if k < d.layers - 1:
            net[f"lstm{k}_pool"] = {"class": "pool", "mode": "max", "padding": "same", "pool_size": (POOLS.get(k, 1),),
                                    "from": source, "trainable": False}
            source = [f"lstm{k}_pool"]
    net["encoder"] = {"class": "copy", "from": source}
    return net | attention_decoder(2 * d.lstm, d.key, 1, d.embed, d.decoder, d.readout, beam)


def encoder_length(frames: int, d: Dims) -> int:
    """The encoder's time length (pool `same`: ceil) of a sequence of `frames` frames."""
    for k in range(d.layers - 1):
        frames = -(-frames // POOLS.get(k, 1))
    return frames


def write_config(path: Path, d: Dims, beam: int) -> Path:
    """The net as a RETURNN config file for `netc compile` (RETURNN's own `task = "search"` would also need a
    `search_data` dataset; this bench runs RETURNN's network from Python instead, see returnn_side)."""
    keys = {"use_tensorflow": True, "task": "search", "num_inputs": F,
            "num_outputs": {"data": [F, 2], "classes": [d.vocab, 1]}, "target": "classes",
            "search_output_layer": "decision", "network": network(d, beam)}
    path.write_text("#!rnn.py\n" + "".join(f"{k} = {v!r}\n" for k, v in keys.items()))
    return path


def corpus(count: int, seed: int = 0, lengths: list[int] | None = None) -> list[np.ndarray]:
    """`count` seeded sequences of 2-6 s at 100 frames/s, or with `lengths` one of each length in frames:
    (T_i, 40) float32, standard normal (`--lengths 300 450 200 380 --seed 7` are the former
    bench/search_bench.py's features)."""
    rng = np.random.default_rng(seed)
    if lengths is None:
        lengths = rng.integers(2 * FRAMES_PER_SECOND, 6 * FRAMES_PER_SECOND + 1, count)
    return [rng.standard_normal((int(n), F)).astype(np.float32) for n in lengths]


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = clocks()
    return wall - start[0], cpu - start[1]


# ---- RETURNN side: runs in a subprocess under a Python with RETURNN and TensorFlow ----

def returnn_side(directory: Path, d: Dims, beam: int, threads: int, rounds: int) -> None:
    """Build RETURNN's search network, draw its parameters (written to params.npz), time its search over
    features.npz alone and batched; writes returnn.json (times, hypotheses, scores)."""
    import tensorflow as tf
    from returnn.config import Config
    from returnn.tf.network import TFNetwork

    tf.compat.v1.disable_eager_execution()
    data = np.load(directory / "features.npz")
    seqs = [data[f"seq{i}"] for i in range(len(data.files))]
    config = Config({"extern_data": {"data": {"dim": F}, "classes": {"dim": d.vocab, "sparse": True}}})
    net = TFNetwork(config=config, train_flag=False, eval_flag=False, search_flag=True)
    net.construct_from_dict(network(d, beam))
    rec, decision = net.layers["output"], net.layers["decision"]
    beam_out = rec.output.copy_as_batch_major()
    best = decision.output.copy_as_batch_major()
    fetches = {"beam": beam_out.placeholder, "beam_lens": beam_out.get_sequence_lengths(),
               "beam_scores": rec.get_search_choices().beam_scores,
               "best": best.placeholder, "best_lens": best.get_sequence_lengths()}
    encoder = {name: net.layers[name].output.placeholder for name in OUTSIDE_LOOP}  # what the loop reads
    x = net.extern_data.data["data"]
    session_config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=threads,
                                              inter_op_parallelism_threads=threads)
    with tf.compat.v1.Session(config=session_config) as session:
        session.run(tf.compat.v1.global_variables_initializer())
        variables = net.get_params_list()
        np.savez(directory / "params.npz", **dict(zip([v.op.name for v in variables], session.run(variables))))

        def search(batch: list[np.ndarray], what: dict = fetches) -> dict:
            padded = np.zeros((len(batch), max(map(len, batch)), F), np.float32)
            for i, s in enumerate(batch):
                padded[i, :len(s)] = s
            return session.run(what, {x.placeholder: padded, x.get_sequence_lengths(): [len(s) for s in batch]})

        for what in (fetches, encoder):  # warm-up: TensorFlow builds an executor per set of fetches on first use
            search([min(seqs, key=len)], what)
        times: dict[str, list[tuple[float, float]]] = {"alone": [], "batched": [], "encoder": []}
        for _ in range(rounds):
            start = clocks()
            alone = [search([s]) for s in seqs]
            times["alone"].append(since(start))
            start = clocks()
            batched = search(seqs)
            times["batched"].append(since(start))
            start = clocks()
            for s in seqs:
                search([s], encoder)
            times["encoder"].append(since(start))
    result = {"times": times, "alone": [nbest(out, 0) for out in alone],
              "batched": [nbest(batched, i) for i in range(len(seqs))]}
    (directory / "returnn.json").write_text(json.dumps(result))


def nbest(out: dict, i: int) -> dict:
    """Sequence `i` of one search run: RETURNN's best (decision) and its beam, labels as lists, with scores."""
    beam = out["beam_scores"].shape[1]
    hyps = [out["beam"][i * beam + k, :out["beam_lens"][i * beam + k]].tolist() for k in range(beam)]
    return {"best": out["best"][i, :out["best_lens"][i]].tolist(), "beam": hyps,
            "scores": out["beam_scores"][i].tolist()}


# ---- netc side and the report, in this Python (netc installed) ----

def netc_side(config: Path, directory: Path, seqs: list[np.ndarray], beam: int, threads: int, rounds: int
              ) -> tuple[dict[str, list[tuple[float, float]]], list]:
    """`netc compile CONFIG --params params.npz` (untimed), then `Model.search` over all sequences and the encoder
    model alone, timed."""
    from netc.runtime import Model

    path = directory / "model"
    done = subprocess.run([sys.executable, "-m", "netc", "compile", str(config), "--params",
                           str(directory / "params.npz"), "-o", str(path)], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"netc compile failed:\n{(done.stdout + done.stderr)[-5000:]}")
    model = Model(path, threads=threads)
    model.search([min(seqs, key=len)], beam_size=beam)  # warm-up: onnxruntime's first run of each graph
    times: dict[str, list[tuple[float, float]]] = {"search": [], "encoder": []}
    hyps = []
    for _ in range(rounds):
        start = clocks()
        hyps = model.search(seqs, beam_size=beam)
        times["search"].append(since(start))
        start = clocks()
        model.decoder.encode(seqs)  # the encoder model alone, batched as search batches it
        times["encoder"].append(since(start))
    return times, hyps


def rates(name: str, times: list[tuple[float, float]], seqs: int, beam: int, audio: float) -> tuple[float, float]:
    """Print one side's best wall and CPU time as sequences/s, hypotheses/s and real-time factor."""
    wall, cpu = min(t[0] for t in times), min(t[1] for t in times)
    print(f"  {name:16s} {wall:8.2f} {cpu:8.2f} {seqs / wall:8.3f} {seqs * beam / wall:8.2f} {seqs * beam / cpu:8.2f}"
          f" {wall / audio:8.3f} {cpu / audio:8.3f}")
    return wall, cpu


def agreement(ours: list, theirs: list[dict]) -> str:
    """How many sequences have the same best hypothesis (labels) and the same n-best list on both sides, and
    the largest difference between the k-th scores of the two n-best lists."""
    same_best = sum(np.array_equal(o[0][0], t["best"]) for o, t in zip(ours, theirs))
    same_beam = sum([list(map(int, h[0])) for h in o] == [t["beam"][k] for k in np.argsort(t["scores"])[::-1]]
                    for o, t in zip(ours, theirs))
    diff = max(np.abs(np.array([float(h[1]) for h in o]) - np.sort(t["scores"])[::-1]).max()
               for o, t in zip(ours, theirs))
    return (f"best hypothesis identical on {same_best}/{len(ours)} sequences, whole n-best list (labels, ranked) "
            f"on {same_beam}/{len(ours)}; max |score difference| over the n-best lists {diff:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--returnn", metavar="PYTHON", required=True, help="a Python with RETURNN and TensorFlow")
    parser.add_argument("--seqs", type=int, default=8)
    parser.add_argument("--lengths", type=int, nargs="+", metavar="FRAMES",
                        help="one sequence of each length in frames instead of --seqs of 2-6 s")
    parser.add_argument("--seed", type=int, default=0, help="the features' seed (and the lengths' without --lengths)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per side (1: CPU time is the search's cost on a shared machine; "
                             "bench/search_bench.py's figures had 2)")
    parser.add_argument("--beam", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=1, help="timed rounds per side (best shown)")
    parser.add_argument("--small", action="store_true", help="tiny dims: a smoke run")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep its files (config, params, model)")
    parser.add_argument("--returnn-side", metavar="DIR", help=argparse.SUPPRESS)  # the subprocess's entry
    args = parser.parse_args()
    d = SMALL if args.small else Dims()
    if args.returnn_side:
        returnn_side(Path(args.returnn_side), d, args.beam, args.threads, args.rounds)
        return
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
        compare(args, d, Path(args.keep))
        return
    with tempfile.TemporaryDirectory(prefix="netc-search-") as tmp:  # params.npz alone is 600 MB
        compare(args, d, Path(tmp))


def compare(args: argparse.Namespace, d: Dims, directory: Path) -> None:
    """Both sides on the same config, parameters and corpus in `directory`, and the side-by-side report."""
    seqs = corpus(args.seqs, args.seed, args.lengths)
    np.savez(directory / "features.npz", **{f"seq{i}": s for i, s in enumerate(seqs)})
    config = write_config(directory / "search.config", d, args.beam)
    env = os.environ | {"DISABLE_CUDA": "1", "OMP_NUM_THREADS": str(args.threads)}
    command = [args.returnn, __file__, "--returnn", args.returnn, "--returnn-side", str(directory),
               "--threads", str(args.threads), "--beam", str(args.beam), "--rounds", str(args.rounds)]
    audio = sum(map(len, seqs)) / FRAMES_PER_SECOND
    print(f"exp3 layout {asdict(d)}, beam {args.beam}: {len(seqs)} seqs, {audio:.1f} s of audio "
          f"({min(map(len, seqs))}-{max(map(len, seqs))} frames); {args.threads} thread(s) each side; "
          f"{made_by('search_speed.py', args.returnn)}; load average before: {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores", flush=True)
    done = subprocess.run(command + (["--small"] if args.small else []), env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"the RETURNN side failed:\n{(done.stdout + done.stderr)[-5000:]}")
    theirs = json.loads((directory / "returnn.json").read_text())
    print(f"RETURNN searched (load average {os.getloadavg()[0]:.1f}); netc compiles and searches", flush=True)
    times, ours = netc_side(config, directory, seqs, args.beam, args.threads, args.rounds)
    print(f"best of {args.rounds} round(s); hyps/s = sequences x {args.beam} n-best entries per second; "
          f"RTF = search seconds per audio second; load average after: {os.getloadavg()[0]:.1f}")
    print(f"  {'':16s} {'wall s':>8s} {'CPU s':>8s} {'seqs/s':>8s} {'hyps/s':>8s} {'(CPU)':>8s} {'RTF':>8s} "
          f"{'(CPU)':>8s}")
    alone = rates("RETURNN alone", theirs["times"]["alone"], len(seqs), args.beam, audio)
    batched = rates("RETURNN batched", theirs["times"]["batched"], len(seqs), args.beam, audio)
    netc = rates("netc", times["search"], len(seqs), args.beam, audio)
    for name, side in (("alone", alone), ("batched", batched)):
        print(f"speed-up netc / RETURNN {name}: {side[0] / netc[0]:.2f}x wall, {side[1] / netc[1]:.2f}x CPU")
    their_enc, our_enc = (min(t[1] for t in side["encoder"]) for side in (theirs["times"], times))
    print(f"of that, the encoder (layers outside the loop) alone, CPU s: RETURNN {their_enc:.2f} (each sequence "
          f"alone), netc {our_enc:.2f}: {their_enc / our_enc:.2f}x; the rest (decoder steps and search), CPU s: "
          f"RETURNN alone {alone[1] - their_enc:.2f}, netc {netc[1] - our_enc:.2f}: "
          f"{(alone[1] - their_enc) / (netc[1] - our_enc):.2f}x")
    print(f"netc vs RETURNN alone: {agreement(ours, theirs['alone'])}")
    same = sum(a["best"] == b["best"] for a, b in zip(theirs["alone"], theirs["batched"]))
    print(f"RETURNN batched vs alone: best hypothesis identical on {same}/{len(seqs)} sequences")
    print(f"hypothesis lengths (netc best): {[len(h[0][0]) for h in ours]}; encoder lengths: "
          f"{[encoder_length(len(s), d) for s in seqs]} (max_seq_len)")
    if args.keep:
        print(f"config, params, features, model: {directory}")


if __name__ == "__main__":
    main()
