"""RETURNN TF goldens of a transformer decoder inside a rec unit, in the layer layout of
/work/corpus/returnn-experiments__2019-asr-e2e-trafo-vs-lstm__librispeech__trafo.12l.ffdim4.pretrain3.config
(`add_trafo_dec_layer`) in miniature: 2 decoder blocks, each self-attention (`attention_left_only`, per step with
RETURNN's `k_left`/`v_left` state in search, moved out of the loop in training) + encoder-decoder attention
(dot / softmax_over_spatial / generic_attention over `base:` keys and values) + feed-forward, layer_norm before
each, the target embedding scaled and with `positional_encoding` (`add_to_input`, the step index in the loop; the
published config has it commented out, the 2020 TED-LIUM LMs use it); model dim 8, 2 heads, feed-forward 16,
vocabulary 7 with end label 0, no dropout. The encoder is a clip, a linear tanh and a layer_norm (the decoder is
what is tested).

bench/returnn_attention_golden.py's `golden` makes the file (same inputs lengths 7, 1, 4, 10, 3, targets, seeded
initial parameters, a 20-epoch adam training of one sequence per step whose first epoch is the `train` trajectory,
teacher-forced `forward` of each sequence alone, `search` with beams 1, 4, 12, 64 of each sequence alone); see its
docstring for every field. Output: tests/compiler/data/trafo_decoder/trafo2.json.
Usage (the Python with RETURNN and TensorFlow; about 1 minute on 2 cores):
  cd bench && DISABLE_CUDA=1 /work/rvenv/bin/python returnn_trafo_decoder_golden.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import returnn_attention_golden as att

D, HEADS, FF = 8, 2, 16
OUT = Path(__file__).resolve().parents[1] / "tests" / "compiler" / "data" / "trafo_decoder"


def decoder_block(base: dict, unit: dict, inp: str, out: str) -> None:
    """One decoder block as `add_trafo_dec_layer` writes it (dropout layers 0 left out: they are identities)."""
    per_head = D // HEADS
    unit |= {
        f"{out}_self_att_laynorm": {"class": "layer_norm", "from": [inp]},
        f"{out}_self_att_att": {"class": "self_attention", "num_heads": HEADS, "total_key_dim": D, "n_out": D,
                                "from": [f"{out}_self_att_laynorm"], "attention_left_only": True},
        f"{out}_self_att_lin": {"class": "linear", "activation": None, "with_bias": False,
                                "from": [f"{out}_self_att_att"], "n_out": D},
        f"{out}_self_att_out": {"class": "combine", "kind": "add", "from": [inp, f"{out}_self_att_lin"], "n_out": D},
        f"{out}_att_laynorm": {"class": "layer_norm", "from": [f"{out}_self_att_out"]},
        f"{out}_att_query0": {"class": "linear", "activation": None, "with_bias": False,
                              "from": [f"{out}_att_laynorm"], "n_out": D},
        f"{out}_att_query": {"class": "split_dims", "axis": "F", "dims": (HEADS, per_head),
                             "from": [f"{out}_att_query0"]},
        f"{out}_att_energy": {"class": "dot", "red1": -1, "red2": -1, "var1": "T", "var2": "T?",
                              "from": [f"base:{out}_att_key", f"{out}_att_query"]},
        f"{out}_att_weights": {"class": "softmax_over_spatial", "from": [f"{out}_att_energy"],
                               "energy_factor": per_head ** -0.5},
        f"{out}_att0": {"class": "generic_attention", "weights": f"{out}_att_weights",
                        "base": f"base:{out}_att_value"},
        f"{out}_att_att": {"class": "merge_dims", "axes": "static", "from": [f"{out}_att0"]},
        f"{out}_att_lin": {"class": "linear", "activation": None, "with_bias": False, "from": [f"{out}_att_att"],
                           "n_out": D},
        f"{out}_att_out": {"class": "combine", "kind": "add", "from": [f"{out}_self_att_out", f"{out}_att_lin"],
                           "n_out": D},
        f"{out}_ff_laynorm": {"class": "layer_norm", "from": [f"{out}_att_out"]},
        f"{out}_ff_conv1": {"class": "linear", "activation": "relu", "with_bias": True,
                            "from": [f"{out}_ff_laynorm"], "n_out": FF},
        f"{out}_ff_conv2": {"class": "linear", "activation": None, "with_bias": True, "from": [f"{out}_ff_conv1"],
                            "n_out": D},
        f"{out}_ff_out": {"class": "combine", "kind": "add", "from": [f"{out}_att_out", f"{out}_ff_conv2"],
                          "n_out": D},
        out: {"class": "copy", "from": [f"{out}_ff_out"]},
    }
    base |= {
        f"{out}_att_key0": {"class": "linear", "activation": None, "with_bias": False, "from": ["encoder"],
                            "n_out": D},
        f"{out}_att_value0": {"class": "linear", "activation": None, "with_bias": False, "from": ["encoder"],
                              "n_out": D},
        f"{out}_att_key": {"class": "split_dims", "axis": "F", "dims": (HEADS, per_head), "from": [f"{out}_att_key0"]},
        f"{out}_att_value": {"class": "split_dims", "axis": "F", "dims": (HEADS, per_head),
                             "from": [f"{out}_att_value0"]},
    }


def network(blocks: int = 2) -> dict:
    unit: dict = {
        "output": {"class": "choice", "target": "classes", "beam_size": 12, "from": ["output_prob"],
                   "initial_output": 0},
        "end": {"class": "compare", "from": ["output"], "value": att.END},
        "target_embed_raw": {"class": "linear", "activation": None, "with_bias": False, "from": ["prev:output"],
                             "n_out": D},
        "target_embed_weighted": {"class": "eval", "from": ["target_embed_raw"], "eval": f"source(0) * {D ** 0.5:f}"},
        "target_embed": {"class": "positional_encoding", "add_to_input": True, "from": ["target_embed_weighted"]},
    }
    base: dict = {
        "source": {"class": "eval", "eval": "tf.clip_by_value(source(0), -3.0, 3.0)"},
        "enc_lin": {"class": "linear", "activation": "tanh", "from": ["source"], "n_out": D},
        "encoder": {"class": "layer_norm", "from": ["enc_lin"]},
    }
    inp = "target_embed"
    for k in range(1, blocks + 1):
        decoder_block(base, unit, inp, f"dec_{k:02d}")
        inp = f"dec_{k:02d}"
    unit |= {"decoder": {"class": "layer_norm", "from": [inp]},
             "output_prob": {"class": "softmax", "from": ["decoder"], "target": "classes", "loss": "ce"}}
    return base | {
        "output": {"class": "rec", "from": [], "unit": unit, "target": "classes",
                   "max_seq_len": "max_len_from('base:encoder')"},
        "decision": {"class": "decide", "from": ["output"], "loss": "edit_distance", "target": "classes"},
    }


def main() -> None:
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    OUT.mkdir(parents=True, exist_ok=True)
    result = att.golden("trafo2", network(), 7, sys.executable)
    result["made_by"] = result["made_by"].replace("returnn_attention_golden.py", "returnn_trafo_decoder_golden.py")
    att.write_result(OUT / "trafo2.json", result)


if __name__ == "__main__":
    main()
