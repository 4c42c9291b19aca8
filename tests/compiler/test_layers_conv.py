"""conv and pool against RETURNN TF (each sequence alone): 1D/2D, SAME/VALID, strides (per-length SAME
padding), dilation, input_add/split_feature_dim, a conv front end and a BLSTM stack with max-pooling in time."""

from __future__ import annotations

import pytest
from netc.ir import Document, NetcError, graph_from_document

from tests.compiler.returnn_goldens import golden_tests

test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_conv.json")


def test_filter_size_must_match_the_spatial_axes() -> None:
    net = {"output": {"class": "conv", "filter_size": [3, 3], "n_out": 2, "from": "data"}}
    with pytest.raises(NetcError, match="input_add_feature_dim"):
        graph_from_document(Document("net.json", net), 4)
