"""Layer options of published RETURNN configs, against RETURNN itself: `use_transposed_weights` (W stored
`[n_out, n_in]`, as in the LSTM language models of returnn-experiments 2019-lm-transformers), on features and
on class indices. Goldens: `bench/returnn_corpus_goldens.py` (tests/compiler/data/returnn_corpus.json)."""

from __future__ import annotations

from netc.compiler import compile_graph

from tests.compiler.returnn_goldens import golden_tests, graph_of, load_cases, params_of

test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_corpus.json")


def test_transposed_weights_keep_returnns_layout_and_the_model_stores_their_transpose() -> None:
    case = load_cases("returnn_corpus.json")["linear_transposed_weights"]
    graph = graph_of(case)
    assert graph["h"].layer.use_transposed_weights and graph["h"].layer.param_shapes(6, 5)["W"] == (5, 6)
    names = {i.name: tuple(i.dims) for i in compile_graph(graph, params_of(case)).graph.initializer}
    assert names["h/W_T"] == (6, 5) and names["output/W_T"] == (5, 3)
