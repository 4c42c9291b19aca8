"""Options every layer has (ir/layers/base.py) against RETURNN TF (each sequence alone): `reuse_params`,
`out_type`, `batch_norm` (eval and train), activation names; and what they refuse, located at the option."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from netc.compiler import compile_graph
from netc.compiler.onnx import CompileOptions
from netc.ir import Document, NetcError, graph_from_document, init_params, param_specs
from netc.trainer.model import NetModel

from tests.compiler.returnn_goldens import (
    ATOL,
    assert_train_mode_matches,
    golden_tests,
    graph_of,
    load_cases,
    params_of,
)
from tests.helpers import session

test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_options.json")
CASES = load_cases("returnn_options.json")


@pytest.mark.parametrize("case_id", sorted(c for c in CASES if c.startswith("reuse_params")))
def test_shared_parameters_are_the_owners_only_as_in_returnns_checkpoint(case_id: str) -> None:
    """RETURNN's checkpoint holds a shared parameter once, under the layer that made it; so does netc, and the
    compiled model stores a parameter used as it is once (an LSTM's, converted to ONNX's layout, per layer)."""
    case = CASES[case_id]
    graph = graph_of(case)
    assert {s.name for s in param_specs(graph)} == set(case["params"])
    model = compile_graph(graph, params_of(case))
    onnx.checker.check_model(model)
    if case_id != "reuse_params_rec":
        stored = [i.name for i in model.graph.initializer if not i.name.startswith("const")]
        assert sorted(stored) == sorted(case["params"])


@pytest.mark.parametrize(("net", "message", "hint"), [
    ({"a": {"class": "linear", "n_out": 3}, "output": {"class": "linear", "n_out": 5, "from": "a",
                                                       "reuse_params": "a"}},
     r"'a/W' has shape \(4, 3\), but this layer needs \(3, 5\)", "shapes the parameter as 'a' has it"),
    ({"f": {"class": "rec", "unit": "nativelstm2", "n_out": 4, "from": "data"},  # same dims, other unit
      "output": {"class": "rec", "unit": "NativeLstmLowMem", "n_out": 4, "from": "data", "reuse_params": "f"}},
     r"'f/rec/W' has shape \(4, 16\), but this layer needs \(8, 16\)", "options such as unit"),
    ({"a": {"class": "linear", "n_out": 4, "with_bias": False},
      "output": {"class": "linear", "n_out": 4, "reuse_params": "a"}},
     "layer 'a' has no parameter 'a/b'", "'a' has a/W"),
    ({"a": {"class": "linear", "n_out": 4}, "output": {"class": "linear", "n_out": 4,
                                                       "reuse_params": {"map": {"W": "a"}}}},
     "parameter 'b' is not in the map", '"auto_create_missing": true'),
    ({"output": {"class": "linear", "n_out": 4, "reuse_params": "nope"}},
     "reuse_params names 'nope', which is not another layer", None),
    ({"output": {"class": "linear", "n_out": 4, "reuse_params": {"map": {"W": {"layer_output": "x"}}}}},
     "invalid value", "another layer's output as a parameter is not"),
    ({"output": {"class": "linear", "n_out": 4, "reuse_params": {"custom": "x"}}},
     "invalid value", "a custom getter"),
])
def test_reuse_params_refuses_what_returnn_cannot_share(net: dict, message: str, hint: str | None) -> None:
    with pytest.raises(NetcError, match=message) as e:
        init_params(graph_from_document(Document("net.json", net), 4, 5), 0)
    assert e.value.where.key == "reuse_params"
    if hint:
        assert hint in (e.value.hint or "")


def test_reuse_params_auto_create_missing_and_empty() -> None:
    """`auto_create_missing` gives the parameters missing from the map the layer's own; an empty `reuse_params`
    (RETURNN: `if not opts: return None`) shares nothing."""
    net = {"a": {"class": "linear", "n_out": 4},
           "b": {"class": "linear", "n_out": 4, "reuse_params": {"map": {"W": "a"}, "auto_create_missing": True}},
           "output": {"class": "linear", "n_out": 4, "from": "b", "reuse_params": None}}
    names = [s.name for s in param_specs(graph_from_document(Document("net.json", net), 4, 5))]
    assert names == ["a/W", "a/b", "b/b", "output/W", "output/b"]


@pytest.mark.parametrize("out_type", [
    {"dim": 1, "shape": [None, 1]}, {"shape": (None, 1), "batch_dim_axis": 0, "time_dim_axis": 1},
    {"dim": 1, "sparse": False, "dtype": "float32", "feature_dim_axis": 2}, {},
])
def test_out_type_that_agrees_is_accepted(out_type: dict) -> None:
    net = {"l": {"class": "linear", "n_out": 1}, "output": {"class": "eval", "from": "l", "eval": "source(0) * 2.0",
                                                             "out_type": out_type}}
    graph = graph_from_document(Document("net.json", net), 4, 5)
    assert str(graph["output"].out_type) == "[B, T_data, 1]"


@pytest.mark.parametrize(("out_type", "message"), [
    ({"dim": 2}, r"out_type declares dim 2, but netc infers \[B, T_data, 1\] \(dim 1\)"),
    ({"shape": [None, 3]}, r"out_type declares shape \[None, 3\], but netc infers \[B, T_data, 1\]"),
    ({"shape": [1]}, r"out_type declares shape \[1\]"),
    ({"sparse": True, "dim": 1}, "out_type declares sparse True"),
    ({"dtype": "int32"}, "out_type declares dtype int32"),
    ({"dim_tags": []}, "invalid value"),
    ({"shape": "x"}, "invalid value"),
    ("float32", "invalid value"),
])
def test_out_type_that_contradicts_netcs_type_is_refused_at_the_key(out_type: object, message: str) -> None:
    net = {"l": {"class": "linear", "n_out": 1}, "output": {"class": "eval", "from": "l", "eval": "source(0) * 2.0",
                                                             "out_type": out_type}}
    with pytest.raises(NetcError, match=message) as e:
        graph_from_document(Document("net.json", net), 4, 5)
    assert (e.value.where.layer, e.value.where.key) == ("output", "out_type")


@pytest.mark.parametrize("case_id", sorted(c for c, case in CASES.items() if "train_outputs" in case))
def test_batch_norm_option_in_training_matches_returnn(case_id: str) -> None:
    """The `batch_norm` option in train mode, each sequence alone: the batch's statistics normalize the layer's
    output, the running ones (`<layer>/batch_norm/...`) move by momentum."""
    case = CASES[case_id]
    assert_train_mode_matches(case)
    graph = graph_of(case)
    assert {s.name for s in param_specs(graph) if not s.trainable} == set(case["train_stats"][0])


def test_batch_norm_option_refuses_what_the_batch_norm_layer_refuses() -> None:
    for value, message in (({"masked_time": False}, "masked_time false"), ({"nope": 1}, "invalid value"),
                           ("yes", "invalid value")):
        with pytest.raises(NetcError, match=message) as e:
            graph_from_document(Document("net.json", {"output": {"class": "linear", "n_out": 3,
                                                                  "batch_norm": value}}), 4, 5)
        assert e.value.where.key == "batch_norm"


def test_subnetwork_dropout_applies_to_its_input_once() -> None:
    """RETURNN's make_subnet: with dropout, `data` inside is a copy of the sources with that dropout, which every
    sublayer reading `data` shares; the subnetwork's output gets none. Inference is unchanged."""
    sub = {"a": {"class": "linear", "n_out": 4}, "output": {"class": "combine", "kind": "add", "from": ["a", "data"]}}
    nets = {p: {"s": {"class": "subnetwork", "dropout": p, "from": "data", "subnetwork": sub},
                "output": {"class": "copy", "from": "s"}} for p in (0.0, 0.5)}
    graph = graph_from_document(Document("net.json", nets[0.5]), 4, 5)
    assert (graph["s/data"].layer.dropout, graph["s"].layer.dropout, graph["s/a"].sources) == (0.5, 0.0, ("s/data",))
    params = init_params(graph, 0)
    x, lens = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(0)), torch.tensor([3, 2])
    model = NetModel(graph, params).train()
    ctx = model(x, lens, noise=torch.Generator().manual_seed(1))
    data, a = ctx.padded("s/data"), ctx.padded("s/a")
    dropped = (data == 0).all(dim=1).all(dim=0)  # one mask per feature
    assert dropped.any() and not dropped.all()
    torch.testing.assert_close(ctx.padded("output"), a + data)
    plain = NetModel(graph_from_document(Document("net.json", nets[0.0]), 4, 5), params).eval()
    torch.testing.assert_close(model.eval()(x, lens).padded("output"), plain(x, lens).padded("output"))


def test_eval_stop_gradient_is_the_identity_without_gradient() -> None:
    net = {"h": {"class": "linear", "n_out": 3},
           "output": {"class": "eval", "from": "h", "eval": "tf.identity(source(0)) + tf.stop_gradient(source(0))"}}
    graph = graph_from_document(Document("net.json", net), 4, 5)
    model = NetModel(graph, init_params(graph, 0)).train()
    x, lens = torch.randn(1, 2, 4), torch.tensor([2])
    y = model(x, lens).padded("output")
    y.sum().backward()
    W = model.get_parameter("h/W")
    torch.testing.assert_close(W.grad, x[0].sum(0)[:, None].expand(4, 3))  # one path only
    onnx_y, _ = session(compile_graph(graph, model.named_values())).run(None, {"data": x.numpy(),
                                                                               "data:size1": lens.int().numpy()})
    np.testing.assert_allclose(onnx_y, y.detach().numpy(), atol=ATOL)


SOFTMAX_BN = {"output": {"class": "softmax", "n_out": 3, "batch_norm": {"update_sample_only_in_training": True},
                         "loss": "ce"}}


def test_batch_norm_option_of_a_softmax_output_normalizes_the_probabilities_in_onnx_and_torch() -> None:
    """RETURNN's post_init normalizes the softmax layer's output, the probabilities (golden
    batch_norm_option_softmax); fused ce and the frame error read the logits before it, so the loss is unchanged,
    and --output-kind other than probs (a log of normalized values) is refused at the option."""
    graph = graph_from_document(Document("net.json", SOFTMAX_BN), 4, 3)
    params = init_params(graph, 0) | {"output/batch_norm/output_output_output_beta": np.full((1, 1, 3), 0.3,
                                                                                                np.float32)}
    x, lens = torch.randn(2, 5, 4, generator=torch.Generator().manual_seed(0)), torch.tensor([5, 1])
    ctx = NetModel(graph, params).eval()(x, lens)
    y = ctx.padded("output")
    probs = ctx.padded("output", logits=True).softmax(-1)
    torch.testing.assert_close(y[0], probs[0] / (1 + 1e-3) ** 0.5 + 0.3)  # mean 0, variance 1, epsilon 1e-3
    model = compile_graph(graph, params)
    onnx.checker.check_model(model)
    onnx_y, _ = session(model).run(None, {"data": x.numpy(), "data:size1": lens.int().numpy()})
    np.testing.assert_allclose(onnx_y[0], y[0].detach().numpy(), atol=ATOL)
    np.testing.assert_allclose(onnx_y[1, :1], y[1, :1].detach().numpy(), atol=ATOL)
    assert abs(onnx_y[0].sum(-1) - 1).max() > 0.1  # normalized: no longer probabilities
    with pytest.raises(NetcError, match="output kind log-probs") as e:
        compile_graph(graph, params, options=CompileOptions(output_kind="log-probs"))
    assert (e.value.where.layer, e.value.where.key) == ("output", "batch_norm")


@pytest.mark.parametrize("loss_opts", [{"use_fused": False}, {"focal_loss_factor": 1.0}])
def test_batch_norm_option_refuses_a_ce_that_reads_the_normalized_output(loss_opts: dict) -> None:
    net = {"output": {**SOFTMAX_BN["output"], "loss_opts": loss_opts}}
    with pytest.raises(NetcError, match="batch_norm option normalizes") as e:
        graph_from_document(Document("net.json", net), 4, 3)
    assert e.value.where.key == "batch_norm"


@pytest.mark.parametrize("reduced", [{"class": "reduce", "mode": "argmax", "axes": "F"},
                                     {"class": "reduce", "mode": "mean", "axes": "F"}])
def test_batch_norm_option_refuses_an_output_without_a_float_feature_dim(reduced: dict) -> None:
    """argmax gives class indices (RETURNN fails building its batch_norm: TypeError in Sub, int32 vs float32);
    a reduced feature dim leaves nothing to normalize."""
    net = {"a": {**reduced, "batch_norm": True, "from": "data"}, "output": {"class": "copy", "from": "a"}}
    with pytest.raises(NetcError, match="batch_norm option normalizes a float output's feature dim") as e:
        graph_from_document(Document("net.json", net), 4, 3)
    assert (e.value.where.layer, e.value.where.key) == ("a", "batch_norm")
    # the reason: RETURNN's TypeError for class indices; no feature dim for a float output
    assert ("subtracts a float mean" in e.value.message) == (reduced["mode"] == "argmax")
    assert ("no feature dim to normalize" in e.value.message) == (reduced["mode"] == "mean")


def test_reuse_params_cycle_is_located_at_reuse_params() -> None:
    """RETURNN builds a reused layer first, so two layers reusing each other are a cycle of reuse_params."""
    net = {"a": {"class": "linear", "n_out": 4, "reuse_params": "b"},
           "b": {"class": "linear", "n_out": 4, "reuse_params": "a"},
           "output": {"class": "combine", "kind": "add", "from": ["a", "b"]}}
    with pytest.raises(NetcError, match="cycle: ") as e:
        graph_from_document(Document("net.json", net), 4, 3)
    assert e.value.where.key == "reuse_params"


def test_reuse_params_on_a_subnetwork_shares_nothing_and_says_so() -> None:
    """RETURNN's ReuseParams on a subnetwork layer reaches none of its sublayers' variables (golden
    reuse_params_whole_subnetwork: s2/h/W is its own); netc computes the same and warns, naming the form that
    shares (reuse_params "base:s1/h" on the sublayer, which RETURNN honours)."""
    case = CASES["reuse_params_whole_subnetwork"]
    graph = graph_of(case)
    assert {"s1/h/W", "s2/h/W"} <= {s.name for s in param_specs(graph)}
    assert any("layer 's2': reuse_params on a subnetwork shares no parameter" in w and "base:" in w
               for w in graph.warnings)
    shared = {**case["net"], "s2": {**case["net"]["s2"], "reuse_params": None, "subnetwork": {
        **case["net"]["s2"]["subnetwork"], "h": {**case["net"]["s2"]["subnetwork"]["h"], "reuse_params": "base:s1/h"}}}}
    names = {s.name for s in param_specs(graph_from_document(Document("net.json", shared), 6, 3))}
    assert "s1/h/W" in names and "s2/h/W" not in names
