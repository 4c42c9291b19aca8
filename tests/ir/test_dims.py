"""Data dims in every form RETURNN accepts (returnn/tf/network.py: _num_inputs_outputs_from_config)."""

from __future__ import annotations

import pytest
from netc.ir import Dims, Document, NetcError
from netc.ir.dims import resolve_dims


def dims(**values) -> Dims:
    return resolve_dims(Document("c.config", values))


@pytest.mark.parametrize(("values", "expected"), [
    ({"num_inputs": 9, "num_outputs": 2}, Dims(9, (("classes", 2),))),
    ({"num_inputs": 9, "num_outputs": 2, "target": "orth"}, Dims(9, (("orth", 2),))),
    ({"num_inputs": 9, "num_outputs": {"classes": [2, 1]}}, Dims(9, (("classes", 2),))),
    ({"num_outputs": {"classes": [2, 1], "data": [9, 2]}}, Dims(9, (("classes", 2),))),
    ({"num_outputs": {"classes": 2, "data": 9}}, Dims(9, (("classes", 2),))),
    ({"num_outputs": {"classes": (2, 1), "data": {"shape": (None, 9)}}}, Dims(9, (("classes", 2),))),
    ({"num_inputs": "9", "num_outputs": "2"}, Dims(9, (("classes", 2),))),
    ({"extern_data": {"data": {"dim": 9}, "classes": {"dim": 2, "sparse": True}}}, Dims(9, (("classes", 2),))),
    ({"extern_data": {"data": [9, 2], "classes": [2, 1]}}, Dims(9, (("classes", 2),))),
    ({"extern_data": {"data": {"shape": (None, 9)}}, "num_inputs": 5, "num_outputs": 3}, Dims(9, ())),
    ({"num_outputs": {"data": [9, 1], "classes": [9, 1]}}, Dims(9, (("classes", 9),), sparse_input=True)),
    ({"extern_data": {"data": {"dim": 9, "sparse": True}}}, Dims(9, (), sparse_input=True)),
    ({"extern_data": {"data": {"dim": 9, "sparse_dim": "x"}}}, Dims(9, (), sparse_input=True)),
    ({"num_inputs": 9, "num_outputs": 9, "sparse_input": True}, Dims(9, (("classes", 9),), sparse_input=True)),
])
def test_dims_in_returnns_forms(values, expected) -> None:
    assert dims(**values) == expected


@pytest.mark.parametrize(("values", "message"), [
    ({"num_outputs": {"classes": [2, 0]}}, r"expected \[dim, ndim\]"),
    ({"num_outputs": {"classes": "two"}}, "expected a dim, "),
    ({"num_outputs": 2, "target": 3}, "target must be a data key name"),
    ({"extern_data": [9]}, "extern_data must be a dict"),
])
def test_dims_refused_with_the_reason(values, message) -> None:
    with pytest.raises(NetcError, match=message):
        dims(**values)


def test_options_win_then_config_then_data_files() -> None:
    doc = Document("c.config", {"num_outputs": 2, "target": "orth"})
    assert resolve_dims(doc, 4, 6, Dims(7, (("orth", 8), ("speaker", 3)))) == Dims(4, (("orth", 6), ("speaker", 3)))
    assert resolve_dims(doc, None, None, Dims(7, (("orth", 8),))) == Dims(7, (("orth", 2),))


def test_the_config_target_is_the_default_target_of_loss_layers() -> None:
    """RETURNN's LayerBase.transform_config_dict: a layer with a loss and no target gets extern_data's default."""
    from netc.ir import graph_from_document

    net = {"hid": {"class": "linear", "n_out": 4}, "aux": {"class": "softmax", "loss": "ce", "target": "classes"},
           "output": {"class": "softmax", "loss": "ce", "from": "hid"}}
    doc = Document("c.config", {"network": net, "num_inputs": 3, "num_outputs": {"orth": 7, "classes": 5},
                                "target": "orth"})
    graph = graph_from_document(doc)
    assert (graph.output.layer.target, graph.output.out_type.feature) == ("orth", 7)
    assert (graph["aux"].layer.target, graph["hid"].layer.target) == ("classes", "classes")


@pytest.mark.parametrize("shape", [(None, 3, 2), (6,), (None, 40, 1)])
def test_an_input_shape_netc_does_not_lay_out_is_an_error(shape: tuple) -> None:
    """RETURNN reads (None, 3, 2) as [B, T, 3, 2] (a static axis `spatial1:static3:data`); netc's input is
    [B, T, F]: the shape's last entry alone would silently be the wrong input."""
    with pytest.raises(NetcError, match=r"RETURNN reads it as \d-D data") as e:
        dims(extern_data={"data": {"shape": shape}, "classes": {"shape": (), "dim": 3, "sparse": True}})
    assert ("split_dims" in e.value.hint) == (len(shape) > 2)


def test_an_input_with_a_fixed_time_size_is_an_error() -> None:
    with pytest.raises(NetcError, match="its time axis has the fixed size 100") as e:
        dims(extern_data={"data": {"shape": (100, 40)}, "classes": {"shape": (), "dim": 3, "sparse": True}})
    assert e.value.hint == "write shape (None, 40)"


@pytest.mark.parametrize(("spec", "ok"), [({"dim": 4, "dtype": "float16"}, False),
                                          ({"dim": 4, "dtype": "int32"}, False),
                                          ({"dim": 4, "dtype": "float32"}, True),
                                          ({"dim": 9, "sparse": True, "dtype": "uint8"}, True),
                                          ({"dim": 9, "sparse": True, "dtype": "float32"}, False)])
def test_an_input_dtype_netc_does_not_compute_in_is_an_error(spec: dict, ok: bool) -> None:
    """A float16 input would have RETURNN compute in float16; class indices of any integer dtype are fed as int32
    (RETURNN's demo-rhn-enwik8 declares uint8)."""
    extern = {"data": spec, "classes": {"dim": 3, "sparse": True}}
    if ok:
        dims(extern_data=extern)
        return
    with pytest.raises(NetcError, match=f"has dtype '{spec['dtype']}'"):
        dims(extern_data=extern)
