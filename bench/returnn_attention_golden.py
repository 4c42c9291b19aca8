"""RETURNN TF goldens for attention encoder-decoders in the layer layout of the 2018 LibriSpeech attention configs.

The nets are /work/corpus/returnn-experiments__2018-asr-attention__librispeech__attention__exp3.ctc.config in
miniature (input 5, BLSTM 8 with one max pooling of 2, key 6, 1 or 2 heads, vocabulary 7 with end label 0, s 10,
no dropout): `source` clip, `lstm*_fw/bw` NativeLstm2, `lstm*_pool`, `encoder`, `enc_ctx`, `inv_fertility`,
`enc_value` (split_dims), the decoder unit exactly as published, `decision`; `att2_ctc` has 2 heads and the
`ctc` softmax, `att3_pool32_ls` three BLSTM layers with pools 3 and 2 (inputs 19, 1, 8, 25, 5 frames) and
`output_prob`'s label smoothing 0.1 as published. Per config the file tests/compiler/data/attention/NAME.json holds:
- `net`, `extern_data`, `end_label`; `inputs`: features [T, 5] per sequence (lengths 7, 1, 4, 10, 3; values
  N(0, 1.5^2), so that `source` clips some); `targets`: label sequences ending in the end label 0 as RETURNN's
  datasets give them (LibriSpeechCorpus' bpe `seq_postfix: [0]`), one of them just [0];
- `train`: seeded uniform(-0.8, 0.8) `initial` parameters (assigned to RETURNN's variables by their checkpoint
  names, which are netc's names), saved as a checkpoint that RETURNN (`python -m returnn`, a subprocess) trains
  with `import_model_train_epoch1`: adam, learning rate 0.01, no dropout, `batches`: one sequence per step in
  order (StaticDataset, batching "default", max_seqs 1; see the note at EPOCHS). `losses`: the costs RETURNN
  logs for each step of the first epoch (log_verbosity 5: `cost:output/output_prob`, `cost:ctc`; each the
  sequence's loss divided by its target frames), `final`: its checkpoint after that epoch;
- `params`: RETURNN's checkpoint after EPOCHS = 20 such epochs. The forward and search goldens use these: the
  trained decoder reproduces the targets and ends its hypotheses (untrained, it keeps repeating one label);
- `forward`: per sequence run ALONE in training mode (train_flag, no dropout in the net), RETURNN's teacher-forced
  `output_prob` `probs` and `log_probs` [S, V] (log of the probs) and its ce loss (`loss_sum`, over the S target
  frames, and `loss` = RETURNN's normalized value, loss_sum / S);
- `search`: per beam size 1, 4, 12, 64 and per sequence searched ALONE (batch of one): every hypothesis of RETURNN's
  final beam in RETURNN's order: `hyps` (labels without the end label, as the rec layer's output has them),
  `scores` (the beam scores RETURNN's search writes: the rec layer's `get_search_choices().beam_scores`, as
  returnn/tf/engine.py Engine.search fetches them), `ended` (the end label was chosen before max_seq_len),
  `log_prob_sums` (the plain sum of RETURNN's teacher-forced log-probs over the labels and, if ended, the end
  label), `max_seq_len`. Where RETURNN's search fails (every hypothesis empty: it cannot stack a zero-length
  output) the entry holds `returnn_error` instead.
Usage (the Python with RETURNN and TensorFlow; about 2 minutes on 2 cores), every file:
  cd bench && DISABLE_CUDA=1 /work/rvenv/bin/python returnn_attention_golden.py
  cd bench && DISABLE_CUDA=1 /work/rvenv/bin/python returnn_attention_golden.py --only att1   (one file)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from returnn_golden import made_by, params
from returnn_layer_goldens import rounded
from train12ax import RETURNN_ENV, write_returnn_config

os.environ.update(RETURNN_ENV)
OUT = Path(__file__).resolve().parents[1] / "tests" / "compiler" / "data" / "attention"
F, LSTM, KEY, V, S_DIM, EMBED, READOUT = 5, 8, 6, 7, 10, 4, 10
END = 0
LENGTHS = (7, 1, 4, 10, 3)
TARGETS = ((3, 5, 2, 0), (0,), (4, 1, 0), (6, 2, 2, 5, 1, 0), (1, 0))
BEAMS = (1, 4, 12, 64)  # 64 > the real candidates of frame 1: ties at -1e30 (filter_ended_scores) and -inf
# Training steps take one sequence each (max_seqs 1): RETURNN's max pool with padding "same" over a padded batch
# takes the padded frames (zeros) into the last window of an odd-length sequence, so its batched training differs
# from the sequences computed alone (measured: att1's first cost over all 5 sequences in one batch was 2.567459
# against 2.563696 alone). netc computes each sequence alone; with batches of one both agree.
EPOCHS = 20  # RETURNN's training epochs before the forward and search goldens (so that hypotheses end)
LEARNING_RATE = 0.01


def attention_decoder(encoder_dim: int, key: int, heads: int, embed: int, s_dim: int, readout: int, beam: int,
                      label_smoothing: float = 0.0) -> dict:
    """The layers of the exp3 config after `encoder` (/work/corpus/returnn-experiments__2018-asr-attention__
    librispeech__attention__exp3.ctc.config), as published but for the sizes: `enc_ctx` (key dim `key`),
    `inv_fertility` and `enc_value` (`heads` heads of encoder_dim / heads), the decoder unit `output` (target
    embedding `embed`, weight feedback, additive attention, `rnn_cell` LSTMBlock `s_dim`, readout `readout` with
    maxout 2, `choice` with `beam` and the end label END, `max_seq_len` the encoder's length, `output_prob`'s
    label smoothing if not 0) and `decision`. The vocabulary is the target `classes`' dim."""
    ce = {"loss_opts": {"label_smoothing": label_smoothing}} if label_smoothing else {}
    return {
        "enc_ctx": {"class": "linear", "activation": None, "with_bias": True, "from": ["encoder"], "n_out": key},
        "inv_fertility": {"class": "linear", "activation": "sigmoid", "with_bias": False, "from": ["encoder"],
                          "n_out": heads},
        "enc_value": {"class": "split_dims", "axis": "F", "dims": (heads, encoder_dim // heads),
                      "from": ["encoder"]},
        "output": {"class": "rec", "from": [], "unit": {
            "output": {"class": "choice", "target": "classes", "beam_size": beam, "from": ["output_prob"],
                       "initial_output": 0},
            "end": {"class": "compare", "from": ["output"], "value": END},
            "target_embed": {"class": "linear", "activation": None, "with_bias": False, "from": ["output"],
                             "n_out": embed, "initial_output": 0},
            "weight_feedback": {"class": "linear", "activation": None, "with_bias": False,
                                "from": ["prev:accum_att_weights"], "n_out": key},
            "s_transformed": {"class": "linear", "activation": None, "with_bias": False, "from": ["s"],
                              "n_out": key},
            "energy_in": {"class": "combine", "kind": "add", "from": ["base:enc_ctx", "weight_feedback",
                                                                      "s_transformed"], "n_out": key},
            "energy_tanh": {"class": "activation", "activation": "tanh", "from": ["energy_in"]},
            "energy": {"class": "linear", "activation": None, "with_bias": False, "from": ["energy_tanh"],
                       "n_out": heads},
            "att_weights": {"class": "softmax_over_spatial", "from": ["energy"]},
            "accum_att_weights": {"class": "eval", "from": ["prev:accum_att_weights", "att_weights",
                                                            "base:inv_fertility"],
                                  "eval": "source(0) + source(1) * source(2) * 0.5",
                                  "out_type": {"dim": heads, "shape": (None, heads)}},
            "att0": {"class": "generic_attention", "weights": "att_weights", "base": "base:enc_value"},
            "att": {"class": "merge_dims", "axes": "except_batch", "from": ["att0"]},
            "s": {"class": "rnn_cell", "unit": "LSTMBlock", "from": ["prev:target_embed", "prev:att"],
                  "n_out": s_dim},
            "readout_in": {"class": "linear", "from": ["s", "prev:target_embed", "att"], "activation": None,
                           "n_out": readout},
            "readout": {"class": "reduce_out", "mode": "max", "num_pieces": 2, "from": ["readout_in"]},
            "output_prob": {"class": "softmax", "from": ["readout"], "target": "classes", "loss": "ce", **ce},
        }, "target": "classes", "max_seq_len": "max_len_from('base:encoder')"},
        "decision": {"class": "decide", "from": ["output"], "loss": "edit_distance", "target": "classes"},
    }


def network(heads: int, ctc: bool, pools: tuple[int, ...] = (2,), label_smoothing: float = 0.0) -> dict:
    """The exp3.ctc config's net dict in miniature: len(pools) + 1 BLSTM layers with a max pooling after each
    but the last (one pool of 2 as the first pretrain step and /work/corpus/2018_attention_shapes.config have;
    pools 3, 2 as the issue's LibriSpeech-sized benchmark), everything else as published."""
    lstm = {"class": "rec", "unit": "nativelstm2", "n_out": LSTM}
    net: dict = {"source": {"class": "eval", "eval": "tf.clip_by_value(source(0), -3.0, 3.0)"}}
    src = "source"
    for i, size in enumerate((*pools, None)):
        net |= {f"lstm{i}_fw": lstm | {"direction": 1, "from": [src]},
                f"lstm{i}_bw": lstm | {"direction": -1, "from": [src]}}
        if size:
            src = f"lstm{i}_pool"
            net[src] = {"class": "pool", "mode": "max", "padding": "same", "pool_size": (size,),
                        "from": [f"lstm{i}_fw", f"lstm{i}_bw"], "trainable": False}
    last = len(pools)
    net["encoder"] = {"class": "copy", "from": [f"lstm{last}_fw", f"lstm{last}_bw"]}
    net |= attention_decoder(2 * LSTM, KEY, heads, EMBED, S_DIM, READOUT, beam=12, label_smoothing=label_smoothing)
    if ctc:
        net["ctc"] = {"class": "softmax", "from": ["encoder"], "loss": "ctc", "target": "classes",
                      "loss_opts": {"beam_width": 1, "ctc_opts": {"ignore_longer_outputs_than_inputs": True}}}
    return net


CONFIGS = {"att1": network(heads=1, ctc=False), "att2_ctc": network(heads=2, ctc=True),
           "att3_pool32_ls": network(heads=1, ctc=False, pools=(3, 2), label_smoothing=0.1)}
# input lengths per config: the encoder lengths (1 to 5 frames) as in att1 after pooling 3 then 2
CONFIG_LENGTHS = {"att3_pool32_ls": (19, 1, 8, 25, 5)}
EXTERN_DATA = {"data": {"dim": F}, "classes": {"dim": V, "sparse": True}}


def with_beam(net: dict, beam: int) -> dict:
    unit = net["output"]["unit"]
    return net | {"output": net["output"] | {"unit": unit | {"output": unit["output"] | {"beam_size": beam}}}}


def build(net: dict, train: bool, search: bool):  # noqa: ANN201 (a TFNetwork; TF imported lazily)
    import tensorflow as tf
    from returnn.config import Config
    from returnn.tf.network import TFNetwork

    tf.compat.v1.reset_default_graph()
    network = TFNetwork(config=Config({"extern_data": EXTERN_DATA, "debug_print_layer_output_template": False}),
                        train_flag=train, search_flag=search, eval_flag=not search)
    network.construct_from_dict(net)
    return network


def draw_params(net: dict, seed: int) -> dict:
    """Seeded uniform(-0.8, 0.8) parameters for every variable of `net`, by checkpoint name."""
    import numpy as np

    network = build(net, train=True, search=False)
    rng = np.random.default_rng(seed)
    out = {}
    for var in sorted(network.get_params_list(), key=lambda v: v.op.name):
        out[var.op.name] = rng.uniform(-0.8, 0.8, var.shape.as_list()).astype(np.float32)
    return out


def load(network, session, values: dict) -> None:  # noqa: ANN001
    variables = {v.op.name: v for v in network.get_params_list()}
    assert set(variables) == set(values), (sorted(variables), sorted(values))
    for name, var in variables.items():
        var.load(values[name], session)


def feed(network, x, labels=None) -> dict:  # noqa: ANN001
    data = network.extern_data.data["data"]
    out = {data.placeholder: x[None], data.get_sequence_lengths(): [len(x)]}
    if labels is not None:
        classes = network.extern_data.data["classes"]
        out |= {classes.placeholder: [labels], classes.get_sequence_lengths(): [len(labels)]}
    return out


def teacher_forced(net: dict, values: dict, inputs: list, targets: list) -> list[dict]:
    """RETURNN's output_prob per target frame (each sequence alone, training mode) and its ce loss."""
    import numpy as np
    import tensorflow as tf

    probs_layer = {"class": "copy", "from": "output/output_prob", "is_output_layer": True}
    network = build(net | {"probs": probs_layer}, train=True, search=False)
    probs = network.layers["probs"].output.copy_as_batch_major()
    losses, _, _ = network.get_losses_initialized()
    holder = losses["output/output_prob"]
    out = []
    with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        load(network, session, values)
        for x, y in zip(inputs, targets):
            p, loss, norm = session.run([probs.placeholder, holder.get_loss_value(), holder.get_norm_factor()],
                                        feed(network, x, y))
            p = p[0, :len(y)]
            out.append({"probs": p, "log_probs": np.log(p), "loss_sum": float(loss),
                        "loss": float(loss * norm)})
    return out


def log_prob_sum(log_probs, labels: list[int], ended: bool) -> float:  # noqa: ANN001
    """The plain sum of teacher-forced log-probs [S, V] over a hypothesis' labels and, if ended, its end label."""
    import numpy as np

    y = labels + [END] if ended else labels
    return float(np.sum(log_probs[np.arange(len(y)), y], dtype=np.float64))


def search(net: dict, values: dict, inputs: list, beam: int) -> list[dict]:
    """Each sequence searched alone with `beam`: RETURNN's final beam of the rec layer `output`."""
    import tensorflow as tf

    network = build(with_beam(net, beam), train=False, search=True)
    rec = network.layers["output"]
    labels = rec.output.copy_as_batch_major()
    scores = rec.get_search_choices().beam_scores
    max_len = network.layers["encoder"].output.get_sequence_lengths()
    found = []
    with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        load(network, session, values)
        for x in inputs:
            t_max = int(session.run(max_len, feed(network, x))[0])
            try:
                y, lens, s = session.run([labels.placeholder, labels.get_sequence_lengths(), scores],
                                         feed(network, x))
            except tf.errors.UnimplementedError as error:  # every hypothesis empty: RETURNN cannot stack them
                lines = error.message.splitlines()
                found.append({"max_seq_len": t_max,
                              "returnn_error": next((ln for ln in lines if "size zero" in ln), lines[0])})
                continue
            hyps = [[int(v) for v in y[k, :lens[k]]] for k in range(len(lens))]
            found.append({"max_seq_len": t_max, "hyps": hyps, "scores": s[0].tolist(),
                          "ended": [len(h) < t_max for h in hyps]})
    return found


class Code(str):
    """A config value written as Python source (write_returnn_config writes repr(value))."""

    def __repr__(self) -> str:
        return str(self)


def static_dataset(inputs: list, targets: list) -> Code:
    seqs = ", ".join(f"{{'data': numpy.array({x.tolist()!r}, 'float32'), 'classes': numpy.array({list(y)!r}, "
                     f"'int32')}}" for x, y in zip(inputs, targets))
    return Code(f"{{'class': 'StaticDataset', 'data': [{seqs}], 'output_dim': {{'data': [{F}, 2], "
                f"'classes': [{V}, 1]}}}}")


def returnn_training(python: str, net: dict, values: dict, inputs: list, targets: list, epochs: int,
                     keep: tuple[int, ...]) -> tuple[list[dict], dict[int, dict]]:
    """RETURNN (`python -m returnn`, a subprocess) trains `net` from the parameters `values` (by checkpoint name)
    for `epochs` epochs of Adam (learning rate LEARNING_RATE) over a StaticDataset of `inputs` [T, F] and
    `targets` in corpus order, one sequence per step (batching "default", max_seqs 1; see the note at EPOCHS).
    Returns per step (epochs * len(inputs) of them) the costs RETURNN logs (log_verbosity 5, `cost:LAYER`, per
    target frame / label) and, per epoch in `keep`, the parameters of its checkpoint after that epoch
    (returnn_golden.params). Raises SystemExit with RETURNN's log when it logged another number of steps."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        network = build(net, train=True, search=False)
        step = tf.compat.v1.train.get_or_create_global_step()  # RETURNN's checkpoint loader wants it
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            load(network, session, values)
            saver = tf.compat.v1.train.Saver([*network.get_params_list(), step])
            saver.save(session, str(directory / "init"))  # RETURNN looks for init.meta
        config = write_returnn_config(directory / "train.config", {
            "network": net, "extern_data": EXTERN_DATA, "train": static_dataset(inputs, targets), "dev": None,
            "num_inputs": F, "num_outputs": {"data": [F, 2], "classes": [V, 1]}, "batching": "default",
            "max_seqs": 1, "batch_size": 100000, "num_epochs": epochs,
            "import_model_train_epoch1": str(directory / "init"), "model": str(directory / "model" / "m"),
            "log_verbosity": 5, "learning_rate": LEARNING_RATE, "optimizer": {"class": "adam"}})
        config.write_text(config.read_text().replace("#!rnn.py\n", "#!rnn.py\nimport numpy\n", 1))
        done = subprocess.run([python, "-m", "returnn", str(config)], capture_output=True, text=True,
                              env=os.environ | RETURNN_ENV)
        log = done.stdout + done.stderr
        lines = re.findall(r"^train epoch \d+, step \d+, (.*)$", log, re.MULTILINE)
        if len(lines) != epochs * len(inputs):
            raise SystemExit(f"expected {epochs * len(inputs)} training steps in RETURNN's log:\n{log[-20000:]}")
        layers = tuple(sorted({name.split("/")[0] for name in values}))
        checkpoints = {epoch: params(python, directory / "model" / f"m.{epoch:03d}", layers) for epoch in keep}
    steps = [{name: float(value) for name, value in re.findall(r"cost:(\S+) ([^ ,]+)", line)} for line in lines]
    return steps, checkpoints


def train(python: str, net: dict, values: dict, inputs: list, targets: list) -> tuple[dict, dict]:
    """RETURNN trained from `values` for EPOCHS epochs of one step per sequence, in order: the trajectory of
    the first epoch (its losses as RETURNN logs them, its checkpoint) and the parameters after EPOCHS epochs
    (those of the forward and search goldens)."""
    steps, checkpoints = returnn_training(python, net, values, inputs, targets, EPOCHS, keep=(1, EPOCHS))
    trajectory = {"batches": [[b] for b in range(len(inputs))], "optimizer": {"class": "adam"},
                  "learning_rate": LEARNING_RATE, "initial": values, "losses": steps[:len(inputs)],
                  "final": checkpoints[1]}
    return trajectory, checkpoints[EPOCHS]


def golden(name: str, net: dict, seed: int, python: str) -> dict:
    import numpy as np

    rng = np.random.default_rng(100 + seed)
    inputs = [(1.5 * rng.standard_normal((n, F))).astype(np.float32) for n in CONFIG_LENGTHS.get(name, LENGTHS)]
    targets = [list(t) for t in TARGETS]
    trajectory, trained = train(python, net, draw_params(net, seed), inputs, targets)
    values = {k: np.asarray(v, np.float32) for k, v in trained.items()}
    forward = teacher_forced(net, values, inputs, targets)
    searches = {str(beam): search(net, values, inputs, beam) for beam in BEAMS}
    pairs = [(x, h + [END] if ended else h, (entry, k)) for found in searches.values()
             for x, entry in zip(inputs, found) if "hyps" in entry
             for k, (h, ended) in enumerate(zip(entry["hyps"], entry["ended"]))]
    scored = teacher_forced(net, values, [p[0] for p in pairs], [p[1] for p in pairs])
    for (_, _, (entry, k)), result in zip(pairs, scored):
        entry.setdefault("log_prob_sums", []).append(
            log_prob_sum(result["log_probs"], entry["hyps"][k], entry["ended"][k]))
    return {"made_by": made_by("returnn_attention_golden.py", python) + ", each sequence alone",
            "net": net, "extern_data": EXTERN_DATA, "end_label": END,
            "params": {k: rounded(v) for k, v in values.items()},
            "inputs": [rounded(x) for x in inputs], "targets": targets,
            "forward": [{k: rounded(v) if isinstance(v, np.ndarray) else v for k, v in f.items()} for f in forward],
            "search": searches,
            "train": trajectory | {part: {k: rounded(v) for k, v in trajectory[part].items()}
                                   for part in ("initial", "final")}}


def main() -> None:
    import sys

    import tensorflow as tf

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(CONFIGS), help="config names (default: all)")
    args = parser.parse_args()
    tf.compat.v1.disable_eager_execution()
    OUT.mkdir(parents=True, exist_ok=True)
    for seed, (name, net) in enumerate(CONFIGS.items()):
        if args.only and name not in args.only:
            continue
        result = golden(name, net, seed, sys.executable)
        write_result(OUT / f"{name}.json", result)


def write_result(path: Path, result: dict) -> None:
    """One golden file, and what it holds in short: the parameters, each beam's best hypotheses, the losses."""
    path.write_text(json.dumps(result, separators=(",", ":")) + "\n")
    print(f"wrote {path}: params {sorted(result['params'])}")
    for beam, found in result["search"].items():
        print(f"  beam {beam}: " + "; ".join(f"{f['hyps'][0]} {f['scores'][0]:.4f} (max {f['max_seq_len']})"
                                             if "hyps" in f else f["returnn_error"] for f in found))
    print(f"  train losses {result['train']['losses']}")


if __name__ == "__main__":
    main()
