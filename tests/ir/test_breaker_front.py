"""A tester's findings on the front end (reading, typing, parameters): each a miniature that failed before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from netc.ir import Document, NetcError, graph_from_document, param_specs, read_file


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


PY2_CHEVRON = ('#!rnn.py\nimport sys\nprint >>sys.stderr, "hello"\nprint >> sys.stderr\n'
               'network = {"output": {"class": "softmax", "n_out": 3, "from": "data"}}\n')


def test_a_python2_print_to_a_file_is_the_same_no_op_with_and_without_exec_config(tmp_path: Path) -> None:
    # F9: `print >>sys.stderr, x` parses under Python 3; it was read silently, and --exec-config raised TypeError.
    path = tmp_path / "c.config"
    path.write_text(PY2_CHEVRON)
    for exec_config in (False, True):
        document = read_file(path, exec_config=exec_config)
        assert set(document.values["network"]) == {"output"}
        assert any(f"{path}:3: a Python 2 print statement (and on line 4), read as a no-op" in n
                   for n in document.notes), document.notes


def test_exec_config_reads_numpy_scalars_and_arrays_as_python_numbers(tmp_path: Path) -> None:
    # F23: a numpy scalar in the network made the whole network an opaque value.
    path = tmp_path / "c.py"
    path.write_text("import numpy\nnum_inputs = numpy.int64(4)\nnetwork = {'output': {'class': 'softmax', "
                    "'n_out': numpy.int32(3), 'dropout': numpy.float32(0.5), 'from': ['data'],\n"
                    "  'shape': numpy.array([2, 3])}}\n")
    values = read_file(path, exec_config=True).values
    assert values["num_inputs"] == 4 and type(values["num_inputs"]) is int
    output = values["network"]["output"]
    assert output == {"class": "softmax", "n_out": 3, "dropout": 0.5, "from": ["data"], "shape": [2, 3]}
    assert type(output["n_out"]) is int and type(output["dropout"]) is float


LM_DELAYED = {"extern_data": {"data": {"dim": 50, "sparse": True}, "delayed": {"dim": 50, "sparse": True}},
              "network": {"input": {"class": "linear", "n_out": 16, "from": "data:delayed"},
                          "output": {"class": "softmax", "loss": "ce", "from": "input", "target": "delayed"}}}


def test_the_input_key_of_a_data_delayed_net_is_a_target_too() -> None:
    # F11: "delayed" was dropped from the targets when the net read data:delayed.
    graph = graph_from_document(Document("c.config", LM_DELAYED))
    assert (graph.dims.num_inputs, graph.dims.target("delayed"), graph.dims.target("data")) == (50, 50, 50)
    assert graph.nodes[-1].type.feature == 50


def test_num_inputs_sets_the_dim_of_the_key_a_data_delayed_net_reads() -> None:
    # F19: --num-inputs set the dim of "data" (now a target) and left the model's input sparse(50).
    graph = graph_from_document(Document("c.config", LM_DELAYED), num_inputs=20)
    assert (graph.dims.num_inputs, graph.dims.sparse_input, graph.dims.input_key) == (20, True, "delayed")
    assert (graph.dims.target("delayed"), graph.dims.target("data")) == (20, 50)


def test_an_unknown_target_dim_with_n_out_set_does_not_hint_to_set_n_out() -> None:
    # F4: the hint said "or set n_out" to a layer that sets it; the loss needs the target declared.
    with pytest.raises(NetcError) as error:
        graph_from_document(Document("n.json", {"output": {"class": "softmax", "n_out": 3, "loss": "ce",
                                                           "from": "data"}}), 4)
    assert "target 'classes' is unknown" in error.value.message
    assert error.value.where.key == "loss" and "set n_out" not in (error.value.hint or "")


NET = {"output": {"class": "linear", "n_out": 2, "from": "data"}}


def test_a_dense_extern_data_dim_is_the_last_of_its_shape_as_in_returnn() -> None:
    # F10: {"dim": 40, "shape": (None, 30)} was read as 40; RETURNN's infer_dim_tags makes it 30, unchecked.
    doc = Document("c.config", {"extern_data": {"data": {"dim": 40, "shape": (None, 30)}}, "network": NET})
    assert graph_from_document(doc).dims.num_inputs == 30


def test_an_extern_data_input_of_more_than_3_dims_is_refused_where_declared() -> None:
    # F10: shape (None, None, 40) (RETURNN: 4-D [B, T, spatial, F]) was read as [B, T, 40].
    doc = Document("c.config", {"extern_data": {"data": {"shape": (None, None, 40)}}, "network": NET},
                   {("extern_data", "data"): (1, 18)})
    with pytest.raises(NetcError) as error:
        graph_from_document(doc)
    assert "RETURNN reads it as 4-D data [B, T, spatial1, F]" in error.value.message
    assert (error.value.where.line, error.value.where.key) == (1, "extern_data")


def test_set_sparse_dim_below_the_known_classes_is_refused_at_the_key() -> None:
    # F24: RETURNN builds it and fails at run time on an index >= set_sparse_dim (measured); netc wrote the model.
    for source, extern in (("data", {"data": {"dim": 5, "sparse": True}}), ("a", {"data": {"dim": 5}})):
        net = {"a": {"class": "reduce", "mode": "argmax", "axes": "F", "from": "data"},
               "r": {"class": "reinterpret_data", "set_sparse_dim": 2, "from": source},
               "output": {"class": "linear", "n_out": 3, "from": "r"}}
        with pytest.raises(NetcError) as error:
            graph_from_document(Document("n.json", {"extern_data": extern, "network": net}))
        assert "set_sparse_dim 2 is below the 5 classes" in error.value.message
        assert (error.value.where.layer, error.value.where.key) == ("r", "set_sparse_dim")
    net["r"]["set_sparse_dim"] = 7
    assert graph_from_document(Document("n.json", {"extern_data": extern, "network": net})).nodes[-1].type.feature == 3


@pytest.mark.parametrize(("set_axes", "ok"), [({"T": 0}, True), ({"T": 1}, False), ({"B": 1}, True),
                                              ({"F": 2}, True), ({"F": -1}, True), ({"F": 0}, False)])
def test_set_axes_integers_count_in_the_time_major_layout_with_enforce_time_major(set_axes: dict, ok: bool) -> None:
    # F15: RETURNN counts them after copy_as_time_major ([T, B, F]); netc counted batch-major ({"T": 0} was B).
    net = {"output": {"class": "reinterpret_data", "set_axes": set_axes, "enforce_time_major": True, "from": "data"}}
    doc = Document("n.json", net)
    if ok:
        assert graph_from_document(doc, 3).nodes[-1].type == graph_from_document(doc, 3).input_type
        return
    with pytest.raises(NetcError) as error:
        graph_from_document(doc, 3)
    assert "counts axes in the time-major layout enforce_time_major gives: [T_data, B, 3]" in error.value.message


KWARGS_CONFIG = '''#!rnn.py
class T:
    def __init__(self, dim, **kw):
        self.opts = kw
        self.dim = dim
    def build(self):
        return {"output": dict(self.opts, **{"class": "linear", "n_out": self.dim, "from": "data"})}
def make(**kw):
    return {"l": {"class": "linear", "n_out": 3, "from": "data", **kw}, "output": {"class": "copy", "from": "l"}}
'''


@pytest.mark.parametrize(("last_line", "col"), [('network = T(6, activation="tanhh").build()', 16),
                                                 ('network = make(**dict(activation="relux"))', 23)])
def test_a_value_passed_through_kwargs_is_located_at_the_call_that_wrote_it(tmp_path: Path, last_line: str,
                                                                            col: int) -> None:
    # F12: the error pointed at the dict(self.opts, ...) line inside the class, not at T(6, activation="tanhh").
    path = tmp_path / "c.config"
    path.write_text(KWARGS_CONFIG + last_line + "\n")
    with pytest.raises(NetcError) as error:
        graph_from_document(read_file(path), 4)
    assert (error.value.where.line, error.value.where.col, error.value.where.key) == (10, col, "activation")


def test_squeeze_auto_removes_every_static_axis_of_size_1_as_returnn() -> None:
    # minor finding: RETURNN's SqueezeLayer._get_axes reads "auto"; netc called it an unknown axis description.
    net = {"e": {"class": "expand_dims", "axis": "F", "from": "data"},
           "output": {"class": "squeeze", "axis": "auto", "from": "e"}}
    assert str(graph_from_document(Document("n.json", net), 3).nodes[-1].type) == "[B, T_data, 3]"
    net["output"]["from"] = "data"
    assert str(graph_from_document(Document("n.json", net), 1).nodes[-1].type) == "[B, T_data]"
    assert str(graph_from_document(Document("n.json", net), 3).nodes[-1].type) == "[B, T_data, 3]"


def test_a_missing_chunk_step_is_required() -> None:
    # minor finding: a missing chunk_step said "'chunk_step' must be a positive number of frames ... (got None)".
    net = {"c": {"class": "time_chunking", "chunk_size": 4, "from": "data"},
           "u": {"class": "time_unchunking", "chunking_layer": "c", "from": "c"},
           "output": {"class": "copy", "from": "u"}}
    with pytest.raises(NetcError) as error:
        graph_from_document(Document("n.json", net), 3)
    assert error.value.message == "'chunk_step' is required" and error.value.where.key == "chunk_step"


def test_a_value_exec_config_cannot_use_names_it_and_does_not_hint_to_pass_exec_config(tmp_path: Path) -> None:
    # F23: the hint said "pass --exec-config" to a user who had passed it.
    path = tmp_path / "c.py"
    path.write_text("class A:\n    pass\nnetwork = {'output': {'class': 'softmax', 'n_out': 3, 'dropout': A(), "
                    "'from': 'data'}}\n")
    with pytest.raises(NetcError) as error:
        graph_from_document(read_file(path, exec_config=True), 4)
    assert "--exec-config ran it, but network['output']['dropout'] (of type A) is no plain data" in error.value.message
    assert "--exec-config" not in (error.value.hint or "") and error.value.where.line == 3
