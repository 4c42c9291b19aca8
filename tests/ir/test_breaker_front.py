"""A tester's findings on the front end (reading, typing, parameters): each a miniature that failed before its fix."""

from __future__ import annotations

from netc.ir import Document, graph_from_document, param_specs


def test_param_less_layers_on_a_source_without_feature_dim_have_no_parameters() -> None:
    # F6/F6b: param_specs summed the sources' feature dims of every layer and raised ValueError on [B, T] / [B, F, T].
    dense_argmax = {"a": {"class": "reduce", "mode": "argmax", "axes": "F", "from": "data"},
                    "b": {"class": "reinterpret_data", "set_sparse": False, "from": "a"},
                    "c": {"class": "reinterpret_data", "from": "b"},
                    "output": {"class": "linear", "n_out": 3, "from": "data"}}
    swapped = {"w": {"class": "swap_axes", "axis1": "T", "axis2": "F", "from": "data"},
               "r": {"class": "reduce", "mode": "mean", "axes": "T", "from": "w"},
               "output": {"class": "combine", "kind": "add", "from": ["data", "r"]}}
    assert [s.name for s in param_specs(graph_from_document(Document("n", dense_argmax), 4, 3))] == [
        "output/W", "output/b"]
    assert param_specs(graph_from_document(Document("n", swapped), 4, 3)) == []
