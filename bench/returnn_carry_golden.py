"""RETURNN TF golden of a decoder whose state `s` reads this step's choice: the layout of the 2018/2019
local-attention Switchboard configs (/work/corpus3/returnn-experiments__2018-asr-local-attention__switchboard__
base.bpe2000.config): `s` (rnn_cell) reads `target_embed` (of this step's `output`) and this step's `att`; the
attention's energy reads `prev:s`, and `readout_in` reads `prev:s`, `prev:target_embed` and `att`. netc's
decoder step computes `s` at the next call and carries `att` of the step before (docs/onnx-contract.md).

bench/returnn_attention_golden.py's one-head miniature changed that way (its `get_last_hidden_state` of `prev:s`
is left out: RETURNN 1.2026 with TensorFlow 2 asserts on it inside the loop, bench/returnn_rec_unit_goldens.py),
made with bench/returnn_rec_unit_goldens.py's `golden` (untrained seeded parameters, the end label's bias set so
that hypotheses of several lengths end; teacher-forced log-probs and the search with beams 1, 4 and 12, each
sequence alone). Writes tests/compiler/data/carry/NAME.json; `s_carry` has the LSTMBlock cell, `s_carry_gru` a GRU,
`s_carry_last_state` the GRU read as `get_last_hidden_state` of `prev:s` (as published), `s_carry_initial_state`
the LSTMBlock cell's initial state from the encoder (beam 1 only, as bench/returnn_rec_unit_goldens.py's);
`prev_s_last_state` is the exp3 layout (`s` before the choice) with get_last_hidden_state of `prev:s` of a GRU.
Usage (the Python with RETURNN and TensorFlow; about a minute on 2 cores):
  cd bench && DISABLE_CUDA=1 /work/rvenv/bin/python returnn_carry_golden.py [NAME ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import returnn_rec_unit_goldens as units

OUT = Path(__file__).resolve().parents[1] / "tests" / "compiler" / "data" / "carry"


def carry(unit: dict) -> None:
    """The local-attention Switchboard layout: `s` after the choice, `prev:s` before it."""
    unit["s"]["from"] = ["target_embed", "att"]
    unit["s_transformed"]["from"] = ["prev:s"]
    unit["readout_in"]["from"] = ["prev:s", "prev:target_embed", "att"]


def carry_gru(unit: dict) -> None:
    carry(unit)
    unit["s"]["unit"] = "GRU"


def last_state(unit: dict) -> None:
    """As published: the energy reads `prev:s` through get_last_hidden_state (of a GRU: RETURNN asserts on an
    LSTM's inside the loop)."""
    unit["s"]["unit"] = "GRU"
    unit["prev_s_state"] = {"class": "get_last_hidden_state", "from": ["prev:s"], "n_out": units.att.S_DIM}
    unit["s_transformed"]["from"] = ["prev_s_state"]


def carry_last_state(unit: dict) -> None:
    carry(unit)
    last_state(unit)


def carry_initial_state() -> dict:
    net = units.outer(units.initial_state)
    carry(net["output"]["unit"])
    return net


VARIANTS = {"s_carry": units.variant(carry), "s_carry_gru": units.variant(carry_gru),
            "s_carry_last_state": units.variant(carry_last_state), "s_carry_initial_state": carry_initial_state(),
            "prev_s_last_state": units.variant(last_state)}
BEAMS = {"s_carry_initial_state": (1,)}  # RETURNN's search with beam > 1 fails on an initial_state from the encoder


def main() -> None:
    units.write_goldens("returnn_carry_golden.py", OUT, VARIANTS, BEAMS, sys.argv[1:], first_seed=30)


if __name__ == "__main__":
    main()
