"""A conformer-hybrid miniature without self-attention against RETURNN TF as a whole (each sequence alone): 2D conv
front end with pooling over frequency, feed-forward modules with `eval` swish and half-step `combine` residuals,
a conv module (layer_norm, GLU `gating`, depthwise `conv` with `groups`, `batch_norm`), final `layer_norm`.
Golden: bench/returnn_layer_goldens.py conformer (eval mode, and train mode with batch statistics)."""

from __future__ import annotations

from pathlib import Path

from tests.compiler.returnn_goldens import (
    assert_cli_matches,
    assert_train_mode_matches,
    golden_tests,
    graph_of,
    load_cases,
)

test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_conformer.json")
CASE = load_cases("returnn_conformer.json")["conformer_hybrid"]


def test_compiled_through_the_cli_matches_returnn(tmp_path: Path) -> None:
    assert_cli_matches(tmp_path, CASE)


def test_train_mode_matches_returnn() -> None:
    assert_train_mode_matches(CASE)


def test_types_and_the_depthwise_filter() -> None:
    from netc.ir import param_specs

    g = graph_of(CASE)
    assert str(g.output.out_type) == "[B, T_data, 3]"
    shapes = {s.name: s.shape for s in param_specs(g)}
    assert (shapes["conv_dw/W"], shapes["c0/W"], shapes["in/W"]) == ((5, 1, 8), (3, 3, 1, 4), (12, 8))
