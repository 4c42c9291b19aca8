"""RETURNN TF goldens for decoder units beyond bench/returnn_attention_golden.py's: its two-head miniature as it
is (untrained, END_P instead), and its one-head miniature with the `s` cell as TF's BasicLSTMCell or GRUCell, with
prev:s into the attention and energy_factor, with the choice's length_normalization off, and with the cell's
initial_state from the encoder (searched with beam 1 only: RETURNN's beam > 1 fails on it). (RETURNN 1.2026 with
TensorFlow 2 builds neither its native LSTM as an rnn_cell nor get_last_hidden_state of an LSTMCell inside the
loop: both assert.)

Per variant tests/compiler/data/rec_unit/NAME.json holds `net`, `params` (seeded uniform(-0.8, 0.8), the end
label's output bias then shifted so that its mean probability at step 0 is END_P: hypotheses of several lengths
end; no training), `inputs`, `targets`, `forward` (RETURNN's
teacher-forced log-probs per sequence alone, training mode) and `search` (beams 1, 4 and 12, each sequence alone:
RETURNN's final beam, labels and scores, or `returnn_error`), made with returnn_attention_golden's functions.
Usage (the Python with RETURNN and TensorFlow; about a minute on 2 cores):
  cd bench && DISABLE_CUDA=1 /work/rvenv/bin/python returnn_rec_unit_goldens.py [--only gru ...]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import returnn_attention_golden as att
from returnn_golden import made_by
from returnn_layer_goldens import rounded
from train12ax import RETURNN_ENV

os.environ.update(RETURNN_ENV)
OUT = Path(__file__).resolve().parents[1] / "tests" / "compiler" / "data" / "rec_unit"
END_P = 0.2  # the end label's mean probability at step 0, set through its output bias


def variant(change: Callable[[dict], None], heads: int = 1) -> dict:
    net = copy.deepcopy(att.network(heads=heads, ctc=False))
    change(net["output"]["unit"])
    return net


def prev_s(unit: dict) -> None:
    unit["s_transformed"]["from"] = ["prev:s"]
    unit["att_weights"]["energy_factor"] = 0.7


def initial_state(net: dict) -> None:
    """The cell starts from a state computed by the encoder (RETURNN tiles it over no beam: search beam 1 only)."""
    net["enc_mean"] = {"class": "reduce", "mode": "mean", "axis": "T", "from": "encoder"}
    net["init_s"] = {"class": "linear", "activation": "tanh", "from": "enc_mean", "n_out": att.S_DIM}
    net["output"]["unit"]["s"]["initial_state"] = {"c": "base:init_s", "h": "base:init_s"}


def outer(change: Callable[[dict], None]) -> dict:
    net = copy.deepcopy(att.network(heads=1, ctc=False))
    change(net)
    return net


VARIANTS = {
    "heads2": variant(lambda u: None, heads=2),
    "basic": variant(lambda u: u["s"].update(unit="BasicLSTM")),
    "gru": variant(lambda u: u["s"].update(unit="GRU")),
    "prev_s": variant(prev_s),
    "no_norm": variant(lambda u: u["output"].update(length_normalization=False)),
    "initial_state": outer(initial_state),
}
SEARCH_BEAMS = (1, 4, 12)
BEAMS = {"initial_state": (1,)}  # RETURNN's search with beam > 1 fails on an initial_state from the encoder


def golden(net: dict, seed: int, beams: tuple[int, ...], script: str = "returnn_rec_unit_goldens.py") -> dict:
    import numpy as np

    rng = np.random.default_rng(200 + seed)
    inputs = [(1.5 * rng.standard_normal((n, att.F))).astype(np.float32) for n in att.LENGTHS]
    targets = [list(t) for t in att.TARGETS]
    values = att.draw_params(net, seed)
    first = att.teacher_forced(net, values, inputs, targets)
    p_end = float(np.mean([np.exp(f["log_probs"][0, att.END]) for f in first]))
    values["output/rec/output_prob/b"][att.END] += np.log(END_P / (1 - END_P)) - np.log(p_end / (1 - p_end))
    forward = att.teacher_forced(net, values, inputs, targets)
    return {"made_by": made_by(script, sys.executable) + ", each sequence alone",
            "net": net, "extern_data": att.EXTERN_DATA, "end_label": att.END,
            "params": {k: rounded(v) for k, v in values.items()}, "inputs": [rounded(x) for x in inputs],
            "targets": targets, "forward": [{"log_probs": rounded(f["log_probs"])} for f in forward],
            "search": {str(beam): att.search(net, values, inputs, beam) for beam in beams}}


def write_goldens(script: str, out: Path, variants: dict[str, dict], beams: dict[str, tuple[int, ...]],
                  only: Sequence[str] = (), first_seed: int = 0) -> None:
    """Each variant's `golden` (all, or those named in `only`; seed `first_seed` + its place in `variants`, search
    beams `beams[name]` or SEARCH_BEAMS) written to out/NAME.json, `script` in its made_by; per beam, each
    sequence's best hypothesis printed."""
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    out.mkdir(parents=True, exist_ok=True)
    for seed, (name, net) in enumerate(variants.items(), first_seed):
        if only and name not in only:
            continue
        result = golden(net, seed, beams.get(name, SEARCH_BEAMS), script)
        path = out / f"{name}.json"
        path.write_text(json.dumps(result, separators=(",", ":")) + "\n")
        print(f"wrote {path}: " + "; ".join(f"beam {b}: {[e.get('hyps', ['error'])[0] for e in f]}"
                                           for b, f in result["search"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(VARIANTS), help="variant names (default: all)")
    write_goldens("returnn_rec_unit_goldens.py", OUT, VARIANTS, BEAMS, parser.parse_args().only or ())


if __name__ == "__main__":
    main()
