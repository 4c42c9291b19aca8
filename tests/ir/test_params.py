"""Parameter names, shapes and the seeded initialisation of netdict.md sections 7 and 8."""

from __future__ import annotations

import math

import numpy as np
from netc.ir import Document, graph_from_document, init_params, param_specs

NET = {"enc": {"class": "rec", "n_out": 3}, "dec": {"class": "rec", "from": None, "encoder": ["enc"]},
       "hid": {"class": "linear", "n_out": 5, "from": "dec", "with_bias": False},
       "output": {"class": "softmax", "from": "hid"}}


def test_names_and_shapes_follow_returnn_tf() -> None:
    g = graph_from_document(Document("n", NET), 4, 6)
    assert [(s.name, s.shape) for s in param_specs(g)] == [
        ("enc/rec/W", (4, 12)), ("enc/rec/W_re", (3, 12)), ("enc/rec/b", (12,)),
        ("dec/rec/W", (0, 12)), ("dec/rec/W_re", (3, 12)), ("dec/rec/b", (12,)),
        ("hid/W", (3, 5)), ("output/W", (5, 6)), ("output/b", (6,))]


def test_init_is_seeded_glorot_uniform_with_zero_biases() -> None:
    g = graph_from_document(Document("n", NET), 400, 600)
    a, b, c = init_params(g, 1), init_params(g, 1), init_params(g, 2)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["enc/rec/W"], c["enc/rec/W"])
    assert not a["enc/rec/b"].any() and not a["output/b"].any()
    limits = {"enc/rec/W": math.sqrt(6 / (400 + 4 * 3)), "enc/rec/W_re": math.sqrt(6 / 15),
              "output/W": math.sqrt(6 / (5 + 600))}
    for name, limit in limits.items():
        values = a[name]
        assert values.dtype == np.float32 and np.abs(values).max() <= limit
        assert np.abs(values).max() > 0.9 * limit, "uses the whole range"
