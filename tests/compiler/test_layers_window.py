"""window against RETURNN TF (each sequence alone): SAME/VALID, window_left, stride, a window + feed-forward net."""

from __future__ import annotations

import pytest
from netc.ir import Document, NetcError, graph_from_document

from tests.compiler.returnn_goldens import golden_tests

test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_window.json")


def test_window_sides_must_add_up() -> None:
    net = {"output": {"class": "window", "window_size": 3, "window_left": 1, "window_right": 2, "from": "data"}}
    with pytest.raises(NetcError, match="window_size 3 != window_left"):
        graph_from_document(Document("net.json", net), 4)
