"""Options so large that a derived length or a window leaves int32 / memory: located errors, not tracebacks."""

from __future__ import annotations

import pytest
from netc.ir import Document, NetcError, graph_from_document

HUGE = 1 << 40


@pytest.mark.parametrize("layer", [
    {"class": "conv", "filter_size": [3], "n_out": 3, "strides": [HUGE], "padding": "same"},
    {"class": "conv", "filter_size": [3], "n_out": 3, "dilation_rate": [HUGE]},
    {"class": "pool", "pool_size": [2], "mode": "max", "strides": [HUGE]},
    {"class": "transposed_conv", "filter_size": [3], "n_out": 2, "strides": [HUGE]},
    {"class": "transposed_conv", "filter_size": [3], "n_out": 2, "remove_padding": [HUGE]},
    {"class": "window", "window_size": 3, "stride": HUGE},
    {"class": "pad", "axes": "T", "padding": HUGE},
    {"class": "slice", "axis": "T", "slice_start": HUGE},
    {"class": "downsample", "factor": HUGE, "axis": [0]},
], ids=lambda layer: f"{layer['class']}-{sorted(k for k, v in layer.items() if v == HUGE or v == [HUGE])[0]}")
def test_lengths_beyond_int32_are_a_located_error(layer: dict) -> None:
    net = {"s": {**layer, "from": "data"}, "output": {"class": "copy", "from": "s"}}
    with pytest.raises(NetcError, match="beyond int32") as e:
        graph_from_document(Document("net.json", net), 6)
    assert (e.value.where.layer, e.value.where.key) == ("s", "class")


def test_a_window_beyond_max_dim_is_a_located_error() -> None:
    net = {"output": {"class": "window", "window_size": HUGE, "from": "data"}}
    with pytest.raises(NetcError, match="window_size must be a positive size up to") as e:
        graph_from_document(Document("net.json", net), 6)
    assert (e.value.where.layer, e.value.where.key) == ("output", "window_size")
