"""Forms that published attention configs use (rwth-i6/returnn-experiments, 2018-2021), each as a minimal config
in the shape the published ones have; bench/corpus_check.py counts them over whole corpora."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from netc.ir import NetcError, load_graph, param_specs
from netc.ir.config_functions import inference_call, top_level_functions, training_notes
from netc.ir.layers.expr import Call, Const, Source

DATA = Path(__file__).parent / "data"
SPECAUG_AS_DATA = '''
def transform(data, network, time_factor=1):
    x = data.placeholder
    import tensorflow as tf
    step = network.global_train_step
    step1 = tf.where(tf.greater_equal(step, 1000), 1, 0)
    def get_masked():
        x_masked = x
        x_masked = random_mask(x_masked, axis=data.time_dim_axis, max_dims=20 // time_factor)
        return x_masked
    x = network.cond_on_train(get_masked, lambda: x)
    return x
'''
SPECAUG_TENSOR_CLIPPED = '''
def transform(x, network):
    """SpecAugment after clipping (2019-librispeech-system)."""
    import tensorflow as tf
    # summary("features", x)
    x = tf.clip_by_value(x, -3.0, 3.0)
    summary("features_clip", x)
    def get_masked():
        return random_mask(x, axis=1, min_num=1, max_num=2, max_dims=20)
    x = network.cond_on_train(get_masked, lambda: x)
    return x
'''
CALL = "self.network.get_config().typed_value('transform')({source}, network=self.network)"


def config(function: str, source: str = "source(0, as_data=True)") -> str:
    """A Python config whose encoder input goes through `transform`, as in returnn-experiments' base2 configs."""
    return f'''#!rnn.py
num_outputs = {{"classes": (3, 1), "data": (4, 2)}}
{function}
network = {{
    "source": {{"class": "eval", "eval": "{CALL.format(source=source)}"}},
    "lstm": {{"class": "rec", "unit": "nativelstm2", "n_out": 5, "from": "source"}},
    "output": {{"class": "softmax", "from": "lstm", "loss": "ce"}},
}}
'''


@pytest.mark.parametrize("function, source, expression", [
    (SPECAUG_AS_DATA, "source(0, as_data=True)", Source(0)),
    (SPECAUG_TENSOR_CLIPPED, "source(0)", Call("clip_by_value", (Source(0), Const(-3.0), Const(3.0)))),
], ids=["as_data", "tensor_clipped"])
@pytest.mark.parametrize("exec_config", [False, True], ids=["literal", "exec"])
def test_specaug_config_function_is_read_as_its_value_outside_training(
        tmp_path, function: str, source: str, expression, exec_config: bool) -> None:  # noqa: ANN001
    path = tmp_path / "base2.config"
    path.write_text(config(function, source))
    graph = load_graph(path, exec_config=exec_config)
    assert graph["source"].layer.expression == expression
    assert str(graph["source"].type) == str(graph["lstm"].type).replace("5]", "4]")  # [B, T, 4]: the input's
    notes = [w for w in graph.warnings if "'source'" in w]
    assert len(notes) == 1 and "'get_masked'" in notes[0] and "training will differ" in notes[0]


def test_a_config_function_without_training_branch_is_exact() -> None:
    function = "def transform(x, network):\n    import tensorflow as tf\n    return tf.clip_by_value(x, -3.0, 3.0)\n"
    functions = top_level_functions(ast.parse(config(function, "source(0)")))
    network = {"source": {"class": "eval", "eval": CALL.format(source="source(0)")}}
    assert training_notes(network, functions) == ()
    call = inference_call(network["source"]["eval"], functions)
    assert call is not None and call.inference == "tf.clip_by_value(source(0), -3.0, 3.0)" and call.train_only is None


@pytest.mark.parametrize("function, source, reason", [
    (SPECAUG_AS_DATA.replace("    x = data.placeholder\n", "    x = data.placeholder\n    if step:\n        x = -x\n"),
     None, "which netc does not run"),
    (SPECAUG_AS_DATA.replace("lambda: x)", "get_masked)"), None, "which netc does not run"),  # no lambda: branch
    (SPECAUG_AS_DATA.replace("lambda: x)", "lambda: step1)"), None, "which netc does not run"),  # not the input's
    (SPECAUG_AS_DATA.replace("def transform(data, network,", "def transform(data, net,"), None, "does not run"),
    (SPECAUG_AS_DATA.replace("def transform", "def other"), None, "no top-level def of that name"),
    (SPECAUG_AS_DATA, "safe_log(source(0))", "with other arguments than source(0)"),
], ids=["if", "no_lambda", "other_value", "no_network_parameter", "missing", "other_argument"])
def test_config_functions_netc_cannot_read_are_located_errors_that_say_why(
        tmp_path, function: str, source: str | None, reason: str) -> None:  # noqa: ANN001
    path = tmp_path / "base2.config"
    text = config(function, source or "source(0, as_data=True)")
    path.write_text(text)
    with pytest.raises(NetcError) as e:
        load_graph(path)
    line = 1 + next(i for i, row in enumerate(text.splitlines()) if '"source": {' in row)
    assert e.value.where.layer == "source" and e.value.where.key == "eval" and e.value.where.line == line
    assert "calls the config's function 'transform'" in e.value.message and reason in e.value.message


def test_the_typed_dict_form_of_the_call_reads_the_same() -> None:
    functions = top_level_functions(ast.parse(SPECAUG_AS_DATA))
    text = "self.network._config.typed_dict['transform'](source(0, as_data=True), network=self.network)"
    call = inference_call(text, functions)
    assert call is not None and call.inference == "source(0)" and call.train_only == "get_masked"


def test_netc_check_accepts_the_specaug_encoder_input(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "base2.config"
    path.write_text(config(SPECAUG_AS_DATA))
    done = subprocess.run([sys.executable, "-m", "netc", "check", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "SpecAugment" in done.stderr


def test_a_subnetwork_inside_a_unit_has_returnn_parameters(tmp_path) -> None:  # noqa: ANN001
    """LM shallow fusion (2018-asr-attention exp3.ctc.lm): an LSTM LM as a subnetwork of the decoder's unit reads
    `prev:output`; its sublayers are unit layers `lm_output/<name>` with RETURNN's parameter names."""
    golden = json.loads((DATA / "returnn_unit_subnetwork.json").read_text())
    path = tmp_path / "fusion.json"
    path.write_text(json.dumps(golden["network"]))
    graph = load_graph(path, golden["num_inputs"], golden["num_classes"])
    assert {s.name: list(s.shape) for s in param_specs(graph)} == golden["variables"]
    unit = {node.name: node for node in graph["output"].layer.unit.nodes}
    assert unit["lm_output/input"].layer.sources == ("prev:output",)  # the subnetwork's data: its sources
    assert unit["lm_output"].layer.sources == ("lm_output/output",)
    assert unit["lm_output/lstm0"].layer.forget_bias == 0.0


def test_a_deeply_nested_config_call_stays_a_located_error(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "deep.config"
    path.write_text(config(SPECAUG_AS_DATA, " + ".join(["source(0)"] * 3000)))
    with pytest.raises(NetcError) as e:
        load_graph(path)
    assert e.value.where.layer == "source" and e.value.where.key == "eval"
