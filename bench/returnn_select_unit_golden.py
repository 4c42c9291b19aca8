"""RETURNN TF golden of a decoder unit that uses `switch` and `gather` per step: bench/returnn_rec_unit_goldens.py's
one-head miniature (its functions, its file layout) with a hard attention beside the soft one:
- `att_w1` / `hard_pos`: the step's attention weights [B, T_enc] and their argmax over T_enc ([B] int32),
- `hard_att`: `gather` of `base:encoder` [B, T_enc, 16] at `hard_pos` along T: the encoder frame [B, 16],
- `use_hard`: `prev:output` equal to label 2 ([B] bool); `att_mix`: `switch` of it between `hard_att` and `att`
  (the [B] condition broadcast over [B, 16]), which replaces `att` in the readout.
It writes tests/compiler/data/rec_unit/select.json, which the decoder tests (tests/decoder_goldens.py: the ONNX
step model, search) and tests/compiler/test_layers_select.py (torch teacher forcing) read.
Usage (the Python with RETURNN and TensorFlow; under a minute on 2 cores):
  cd bench && DISABLE_CUDA=1 /work/rvenv/bin/python returnn_select_unit_golden.py
"""

from __future__ import annotations

import os

import returnn_rec_unit_goldens as units
from train12ax import RETURNN_ENV

os.environ.update(RETURNN_ENV)
HARD_LABEL = 2  # after this label the readout reads the hard attention


def hard_attention(unit: dict) -> None:
    unit |= {
        "att_w1": {"class": "reduce", "mode": "mean", "axes": "F", "from": "att_weights"},
        "hard_pos": {"class": "reduce", "mode": "argmax", "axes": "T", "from": "att_w1"},
        "hard_att": {"class": "gather", "from": "base:encoder", "position": "hard_pos", "axis": "T"},
        "use_hard": {"class": "compare", "kind": "equal", "from": "prev:output", "value": HARD_LABEL},
        "att_mix": {"class": "switch", "condition": "use_hard", "true_from": "hard_att", "false_from": "att"},
    }
    unit["readout_in"]["from"] = ["s", "prev:target_embed", "att_mix"]


def main() -> None:
    units.write_goldens("returnn_select_unit_golden.py", units.OUT, {"select": units.variant(hard_attention)}, {},
                        first_seed=10)


if __name__ == "__main__":
    main()
