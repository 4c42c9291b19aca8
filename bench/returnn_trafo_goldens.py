"""RETURNN TF forward goldens of the transformer layers: self_attention, positional_encoding,
relative_positional_encoding, each case's net run on each sequence ALONE (returnn_layer_goldens.run_case).

Usage (a Python with RETURNN and TensorFlow):
  cd bench && /work/rvenv/bin/python returnn_trafo_goldens.py   (writes tests/compiler/data/returnn_self_attention.json)
"""

from __future__ import annotations

from pathlib import Path

from returnn_layer_goldens import run_case, write_cases

LENGTHS = (4, 1, 6, 2, 9)  # a length 1 sequence; 9 > 2 * clipping + 1 of the clipped cases


def att(n_out: int = 6, heads: int = 2, key_dim: int = 8, src: str | list[str] = "data", **extra: object) -> dict:
    return {"class": "self_attention", "num_heads": heads, "total_key_dim": key_dim, "n_out": n_out, "from": src,
            **extra}


def rel(n_out: int, src: str = "data", **extra: object) -> dict:
    return {"class": "relative_positional_encoding", "n_out": n_out, "from": src, **extra}


def pos(src: str = "data", **extra: object) -> dict:
    return {"class": "positional_encoding", "from": src, **extra}


def encoder_block(name: str, src: str, dim: int, heads: int, causal: bool) -> dict:
    """One pre-norm transformer encoder layer as the 2019 trafo-vs-lstm LibriSpeech config writes it, smaller,
    with its relative positional encoding variant (key_shift)."""
    return {f"{name}_ln": {"class": "layer_norm", "from": src},
            f"{name}_rel": rel(dim // heads, f"{name}_ln", clipping=3),
            f"{name}_att": att(dim, heads, dim, f"{name}_ln", attention_left_only=causal, attention_dropout=0.1,
                               key_shift=f"{name}_rel"),
            f"{name}_lin": {"class": "linear", "activation": None, "with_bias": False, "n_out": dim,
                            "from": f"{name}_att"},
            f"{name}_res": {"class": "combine", "kind": "add", "from": [src, f"{name}_lin"]},
            f"{name}_ff_ln": {"class": "layer_norm", "from": f"{name}_res"},
            f"{name}_ff1": {"class": "linear", "activation": "relu", "n_out": 2 * dim, "from": f"{name}_ff_ln"},
            f"{name}_ff2": {"class": "linear", "n_out": dim, "from": f"{name}_ff1"},
            f"{name}": {"class": "combine", "kind": "add", "from": [f"{name}_res", f"{name}_ff2"]}}


SELF_ATTENTION: dict[str, dict] = {
    "self_attention": {"output": att()},
    "self_attention_causal": {"output": att(attention_left_only=True)},
    "self_attention_one_head_two_sources": {"h": {"class": "linear", "activation": "tanh", "n_out": 3},
                                            "output": att(4, 1, 5, ["data", "h"], attention_dropout=0.3)},
    "self_attention_key_shift": {"r": rel(4, clipping=2), "output": att(key_shift="r")},
    "self_attention_key_shift_causal": {"r": rel(3, clipping=1), "output": att(9, 3, 9, attention_left_only=True,
                                                                                key_shift="r")},
    "self_attention_key_shift_fixed": {"r": rel(4, clipping=3, fixed=True), "output": att(key_shift="r")},
    "positional_encoding_add": {"output": pos(add_to_input=True)},
    "positional_encoding_odd": {"p": pos(n_out=5), "output": {"class": "copy", "from": ["data", "p"]}},
    "positional_encoding_constant": {"output": pos(add_to_input=True, constant=3)},
    "positional_encoding_offset": {"n": {"class": "length", "from": "data"},
                                   "output": pos(add_to_input=True, offset="n")},
    "positional_encoding_offset_constant": {"n": {"class": "length", "from": "data"},
                                            "p": pos(n_out=4, constant=2, offset="n"),
                                            "output": {"class": "copy", "from": ["p", "data"]}},
    "transformer_encoder": {"in": {"class": "linear", "n_out": 8, "with_bias": False},
                            "pe": pos("in", add_to_input=True),
                            **encoder_block("enc1", "pe", 8, 2, causal=False),
                            **encoder_block("enc2", "enc1", 8, 4, causal=True),
                            "output": {"class": "softmax", "n_out": 3, "from": "enc2"}},
}


def main() -> None:
    output = Path(__file__).resolve().parents[1] / "tests" / "compiler" / "data" / "returnn_self_attention.json"
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    cases = [run_case(name, net, seed, LENGTHS) for seed, (name, net) in enumerate(SELF_ATTENTION.items())]
    write_cases(output, cases, "bench/returnn_trafo_goldens.py")


if __name__ == "__main__":
    main()
