"""RETURNN TF forward goldens for forms of published configs that netc reads (tests/compiler/test_corpus_forms.py).

`use_transposed_weights` (the LSTM language models of returnn-experiments 2019-lm-transformers): `linear` and
`softmax` with W stored `[n_out, n_in]`, on features and on class indices (an embedding). Each case runs each
sequence alone, with seeded parameters assigned by RETURNN's names, as `returnn_layer_goldens.py` does (its
`run_case` is reused).
Usage (a Python with RETURNN and TensorFlow):
  cd bench && /work/rvenv/bin/python returnn_corpus_goldens.py   (writes tests/compiler/data/returnn_corpus.json)
"""

from __future__ import annotations

from pathlib import Path

from returnn_layer_goldens import LENGTHS, VOCAB, run_case, write_cases

DENSE: dict[str, dict] = {
    "linear_transposed_weights": {
        "h": {"class": "linear", "activation": "tanh", "n_out": 5, "use_transposed_weights": True, "from": "data"},
        "output": {"class": "softmax", "n_out": 3, "use_transposed_weights": True, "from": "h"}},
    "linear_transposed_weights_no_bias": {
        "output": {"class": "linear", "activation": None, "n_out": 4, "with_bias": False,
                   "use_transposed_weights": True, "from": "data"}},
}
SPARSE: dict[str, dict] = {  # the LM form: an embedding of class indices from a transposed W
    "embedding_transposed_weights": {
        "emb": {"class": "linear", "activation": "identity", "n_out": 6, "use_transposed_weights": True,
                "from": "data"},
        "lstm": {"class": "rec", "unit": "nativelstm2", "n_out": 4, "from": "emb"},
        "output": {"class": "softmax", "n_out": VOCAB, "use_transposed_weights": True, "from": "lstm"}},
}


def main() -> None:
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    output = Path(__file__).resolve().parents[1] / "tests" / "compiler" / "data" / "returnn_corpus.json"
    cases = [run_case(name, net, seed, LENGTHS, False) for seed, (name, net) in enumerate(DENSE.items())]
    cases += [run_case(name, net, 100 + seed, LENGTHS, True) for seed, (name, net) in enumerate(SPARSE.items())]
    write_cases(output, cases, "bench/returnn_corpus_goldens.py")

if __name__ == "__main__":
    main()
