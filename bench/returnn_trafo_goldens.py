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


FF_INIT = "variance_scaling_initializer(mode='fan_in', distribution='uniform', scale=0.78)"


def published_encoder_layer(d: dict, inp: str, output: str, dim: int = 8, heads: int = 2, ff_dim: int = 16,
                            dropout: float = 0.1, causal: bool = False) -> None:
    """TransformerNetwork.add_trafo_enc_layer of returnn-experiments 2019-asr-e2e-trafo-vs-lstm (its decoder
    layer's self-attention part and the 2020 small-state LMs' blocks are the same with attention_left_only)."""
    d[output + '_self_att_laynorm'] = {"class": "layer_norm", "from": [inp]}
    d[output + '_self_att_att'] = {"class": "self_attention", "num_heads": heads, "total_key_dim": dim,
                                   "n_out": dim, "from": [output + '_self_att_laynorm'],
                                   "attention_left_only": causal, "attention_dropout": dropout,
                                   "forward_weights_init": FF_INIT}
    d[output + '_self_att_lin'] = {"class": "linear", "activation": None, "with_bias": False,
                                   "from": [output + '_self_att_att'], "n_out": dim, "forward_weights_init": FF_INIT}
    d[output + '_self_att_drop'] = {"class": "dropout", "from": [output + '_self_att_lin'], "dropout": dropout}
    d[output + '_self_att_out'] = {"class": "combine", "kind": "add", "from": [inp, output + '_self_att_drop'],
                                   "n_out": dim}
    d[output + '_ff_laynorm'] = {"class": "layer_norm", "from": [output + '_self_att_out']}
    d[output + '_ff_conv1'] = {"class": "linear", "activation": "relu", "with_bias": True,
                               "from": [output + '_ff_laynorm'], "n_out": ff_dim, "forward_weights_init": FF_INIT}
    d[output + '_ff_conv2'] = {"class": "linear", "activation": None, "with_bias": True,
                               "from": [output + '_ff_conv1'], "dropout": dropout, "n_out": dim,
                               "forward_weights_init": FF_INIT}
    d[output + '_ff_drop'] = {"class": "dropout", "from": [output + '_ff_conv2'], "dropout": dropout}
    d[output + '_ff_out'] = {"class": "combine", "kind": "add", "from": [output + '_self_att_out', output + '_ff_drop'],
                             "n_out": dim}
    d[output] = {"class": "copy", "from": [output + '_ff_out']}


def published_2019_encoder() -> dict:
    net = {"source": {"class": "eval", "eval": "tf.clip_by_value(source(0), -3.0, 3.0)"},
           "source_embed_raw": {"class": "linear", "from": "source", "n_out": 8, "activation": None,
                                "with_bias": False, "forward_weights_init": FF_INIT},
           "source_embed_weighted": {"class": "eval", "from": ["source_embed_raw"],
                                     "eval": "source(0) * %f" % 8 ** 0.5},
           "source_embed": {"class": "dropout", "from": ["source_embed_weighted"], "dropout": 0.0},
           "encoder": {"class": "layer_norm", "from": ["enc_02"]},
           "output": {"class": "softmax", "from": ["encoder"], "n_out": 5}}
    published_encoder_layer(net, "source_embed", "enc_01")
    published_encoder_layer(net, "enc_01", "enc_02")
    return net


def published_2020_lm() -> dict:
    """The 2020 small-state transformer LM's blocks (its rec unit's layers hoisted: RETURNN moves them out of the
    loop) on class indices."""
    net = {"target_embed_raw": {"activation": None, "class": "linear", "from": ["data"], "n_out": 6,
                                "with_bias": False},
           "target_embed": {"class": "dropout", "dropout": 0.1, "from": ["target_embed_raw"]},
           "target_embed_lin": {"activation": None, "class": "linear", "from": ["target_embed"], "n_out": 8,
                                "with_bias": False},
           "decoder": {"class": "layer_norm", "from": ["dec_1"]},
           "output": {"class": "softmax", "dropout": 0.1, "from": ["decoder"], "n_out": 7}}
    published_encoder_layer(net, "target_embed_lin", "dec_0", heads=4, causal=True)
    published_encoder_layer(net, "dec_0", "dec_1", heads=4, causal=True)
    return net


SELF_ATTENTION |= {
    # RETURNN 1.20261022 fails on self_attention over chunks (its reshapes take the batch of the sequences)
    "chunked_positional_encoding": {"c": {"class": "time_chunking", "chunk_size": 4, "chunk_step": 2, "from": "data"},
                                    "pe": pos("c", add_to_input=True),
                                    "output": {"class": "time_unchunking", "chunking_layer": "c", "from": "pe"}},
    "published_2019_encoder": published_2019_encoder(),
}
SPARSE = {"published_2020_lm": published_2020_lm()}  # data: class indices


def main() -> None:
    output = Path(__file__).resolve().parents[1] / "tests" / "compiler" / "data" / "returnn_self_attention.json"
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    cases = [run_case(name, net, seed, LENGTHS) for seed, (name, net) in enumerate(SELF_ATTENTION.items())]
    cases += [run_case(name, net, len(cases) + seed, LENGTHS, sparse=True) for seed, (name, net) in
              enumerate(SPARSE.items())]
    write_cases(output, cases, "bench/returnn_trafo_goldens.py")


if __name__ == "__main__":
    main()
