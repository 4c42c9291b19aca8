"""RETURNN TF training trajectories of attention decoders (rec units), one sequence per step, for netc's trainer.

The nets are bench/returnn_attention_golden.py's miniature exp3 decoders (its `CONFIGS`, parameters drawn by its
`draw_params`, its sequences: lengths 7, 1, 4, 10, 3): `att1` as published there, `att2_ctc_ls` (2 heads, the
CTC layer beside the decoder, `label_smoothing` 0.1 on `output_prob`) and `att1_init` (the decoder's LSTM state
starts from the encoder: `initial_state` `{"c": "base:enc_final_c", "h": "base:enc_final_h"}`, and the
attention reads `prev:s`, at step 0 the initial state's h). RETURNN (subprocess, `python -m returnn`)
trains each from the drawn parameters for EPOCHS epochs of Adam (learning rate 0.01) over a StaticDataset in
corpus order, one sequence per step (`max_seqs` 1). One sequence per step because netc's values never depend on
the batch (docs/netdict.md), while RETURNN's batched `pool` reads the batch's padded frames: on att1's batch of
all five sequences its loss is 2.567459 per frame, the same sequences alone 2.563696.

tests/trainer/data/returnn_rec_loop.json holds per net: `net`, `initial` (parameters by RETURNN's checkpoint
names, which are netc's), `inputs`, `targets`, `steps` (per step RETURNN's logged costs, `cost:LAYER`, per
target frame / label as RETURNN logs them) and `final` (its checkpoint after EPOCHS epochs).
Usage (the Python with RETURNN and TensorFlow; 2 cores: about 1 minute):
  cd bench && DISABLE_CUDA=1 /work/rvenv/bin/python returnn_rec_loop_golden.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from returnn_attention_golden import (
    CONFIGS,
    EXTERN_DATA,
    LEARNING_RATE,
    LENGTHS,
    S_DIM,
    TARGETS,
    F,
    draw_params,
    returnn_training,
)
from returnn_golden import made_by
from returnn_layer_goldens import rounded

OUT = Path(__file__).resolve().parents[1] / "tests" / "trainer" / "data" / "returnn_rec_loop.json"
EPOCHS = 2  # 10 steps


def with_smoothing(net: dict, smoothing: float) -> dict:
    unit = net["output"]["unit"]
    prob = unit["output_prob"] | {"loss_opts": {"label_smoothing": smoothing}}
    return net | {"output": net["output"] | {"unit": unit | {"output_prob": prob}}}


def with_initial_state(net: dict) -> dict:
    """The decoder state `s` starts from the encoder: c and h each tanh(linear(mean over time of `encoder`)); the
    attention's query is `prev:s` (Bahdanau's form).
    (RETURNN refuses one layer for both parts of an LSTM state: `RnnCellLayer.get_rec_initial_state`.)"""
    unit = net["output"]["unit"]
    final = {"class": "linear", "activation": "tanh", "from": "enc_mean", "n_out": S_DIM}
    state = {"enc_mean": {"class": "reduce", "mode": "mean", "axis": "T", "from": "encoder"},
             "enc_final_h": final, "enc_final_c": final}
    cell = unit["s"] | {"initial_state": {"c": "base:enc_final_c", "h": "base:enc_final_h"}}
    query = unit["s_transformed"] | {"from": ["prev:s"]}  # at step 0 the h of the initial state
    return net | state | {"output": net["output"] | {"unit": unit | {"s": cell, "s_transformed": query}}}


NETS = {"att1": CONFIGS["att1"], "att2_ctc_ls": with_smoothing(CONFIGS["att2_ctc"], 0.1),
        "att1_init": with_initial_state(CONFIGS["att1"])}


def main() -> None:
    import numpy as np

    out = {"made_by": made_by("returnn_rec_loop_golden.py", sys.executable) + ", one sequence per step",
           "epochs": EPOCHS, "learning_rate": LEARNING_RATE, "extern_data": EXTERN_DATA}
    for seed, (name, net) in enumerate(NETS.items()):
        rng = np.random.default_rng(200 + seed)
        inputs = [(1.5 * rng.standard_normal((n, F))).astype(np.float32) for n in LENGTHS]
        targets = [list(t) for t in TARGETS]
        values = draw_params(net, seed)
        steps, final = returnn_training(sys.executable, net, values, inputs, targets, EPOCHS, keep=(EPOCHS,))
        out[name] = {"net": net, "initial": {k: rounded(v) for k, v in values.items()},
                     "inputs": [rounded(x) for x in inputs], "targets": targets,
                     "steps": steps, "final": final[EPOCHS]}
        print(name, steps[0], steps[-1])
    OUT.write_text(json.dumps(out))


if __name__ == "__main__":
    main()
