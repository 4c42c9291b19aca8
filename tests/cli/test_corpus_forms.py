"""Forms of published RETURNN configs (rwth-i6/returnn demos, returnn-experiments) that `netc check` reads.

Each test is a miniature of a published config's shape, never the published file itself.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from netc.ir import load_graph


def check(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`netc check` as a user runs it."""
    return subprocess.run([sys.executable, "-m", "netc", "check", str(path), *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)


DEMO_12AX = '''#!rnn.py
import os
demo_name, _ = os.path.splitext(__file__)
print "Hello, experiment: %s" % demo_name

task = "train"
train = {"class": "Task12AXDataset", "num_seqs": 1000}
num_inputs = 9
num_outputs = 2
network = {
"fw0": {"class": "rec", "unit": "UNIT", "n_out": 10, "dropout": 0.1},
"output": {"class": "softmax", "loss": "ce", "LOSS_OPTS": {}, "from": ["fw0"]}
}
'''


@pytest.mark.parametrize("exec_config", [False, True])
def test_an_old_demo_with_a_python2_print_statement_is_checked_with_a_located_warning(
        tmp_path: Path, exec_config: bool) -> None:
    path = tmp_path / "demo.12ax.config"
    path.write_text(DEMO_12AX.replace("UNIT", "nativelstm2").replace("LOSS_OPTS", "loss_opts"))
    result = check(path, *(["--exec-config"] if exec_config else []))
    assert result.returncode == 0, result.stderr
    assert f"netc: warning: {path}:4: a Python 2 print statement, read as a no-op" in result.stderr
    assert "Traceback" not in result.stderr and "fw0" in result.stdout


def test_unit_lstmblockfused_is_returnns_native_lstm_under_tensorflow_2(tmp_path: Path) -> None:
    # returnn demos/demo-tf-contribrnn-lstm.12ax.config: "unit": "LSTMBlockFused"
    graphs = {}
    for unit in ("LSTMBlockFused", "nativelstm2"):
        path = tmp_path / f"{unit}.config"
        path.write_text(DEMO_12AX.replace("UNIT", unit).replace("LOSS_OPTS", "loss_opts").replace("print ", "# "))
        graphs[unit] = load_graph(path, None, None)
    assert graphs["LSTMBlockFused"]["fw0"].layer == graphs["nativelstm2"]["fw0"].layer


def test_loss_opts_use_fused_false_is_read(tmp_path: Path) -> None:
    # returnn demos/demo-tf-maxgradnorm-lstm.12ax.config: "loss_opts": {"use_fused": False}
    path = tmp_path / "maxgradnorm.config"
    path.write_text(DEMO_12AX.replace("UNIT", "lstm").replace('"LOSS_OPTS": {}', '"loss_opts": {"use_fused": False}'))
    result = check(path)
    assert result.returncode == 0, result.stderr


LM = '''#!crnn/rnn.py
num_inputs = 12
num_outputs = {"data": {"dim": num_inputs, "sparse": True, "dtype": "int32"}}  # sparse data
num_outputs["delayed"] = num_outputs["data"]
target = "data"
train = {"class": "Task12AXDataset", "num_seqs": 10}
network = {
"input": {"class": "linear", "n_out": 8, "activation": "identity", "from": ["data:delayed"]},
"lstm0": {"class": "rec", "unit": "lstm", "n_out": 6, "dropout": 0.2, "from": ["input"]},
"output": {"class": "softmax", "dropout": 0.2, "loss": "ce", "target": "data", "from": ["lstm0"]}
}
'''


def test_a_language_model_reading_data_delayed_has_that_key_as_its_input(tmp_path: Path) -> None:
    # returnn-experiments 2018-asr-attention/librispeech/lm/*.config: LmDataset's delayed stream is the input
    path = tmp_path / "lm.config"
    path.write_text(LM)
    graph = load_graph(path)
    assert (graph.dims.input_key, graph.dims.num_inputs, graph.dims.sparse_input) == ("delayed", 12, True)
    assert graph["input"].sources == ("data",) and graph.dims.target("data") == 12
    assert str(graph["output"].out_type) == "[B, T_data, 12]"
    result = check(path)
    assert result.returncode == 0, result.stderr
    assert "data key 'delayed' (data:delayed)" in result.stdout
    compiled = subprocess.run([sys.executable, "-m", "netc", "compile", str(path), "-o", str(tmp_path / "lm.onnx")],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert compiled.returncode == 0, compiled.stderr
    trained = subprocess.run([sys.executable, "-m", "netc", "train", str(path)], capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert trained.returncode == 2 and "the network reads data:delayed; netc train feeds" in trained.stderr


@pytest.mark.parametrize(("change", "message", "line"), [
    (('"from": ["input"]', '"from": ["input", "data"]'), "the network reads two data keys, data and data:delayed", 8),
    (('num_outputs["delayed"] = num_outputs["data"]', ""), "reads data:delayed, a data key the config does not", 8),
])
def test_data_keys_a_language_model_cannot_read(tmp_path: Path, change: tuple[str, str], message: str,
                                                line: int) -> None:
    path = tmp_path / "lm.config"
    path.write_text(LM.replace(*change))
    result = check(path)
    assert result.returncode == 2 and message in result.stderr and f"lm.config:{line}:" in result.stderr, result.stderr


def test_a_pytorch_backend_config_says_its_model_is_code_before_reading_its_dims(tmp_path: Path) -> None:
    # returnn demos/demo-torch.config, demo-rf.config: backend = "torch", get_model/train_step, no network
    path = tmp_path / "torch.config"
    path.write_text('#!returnn.py\nfrom returnn.tensor import Dim, batch_dim\nbackend = "torch"\n'
                    'extern_data = {"data": {"dims": (batch_dim, Dim(None), Dim(9))}}\n\n'
                    "def get_model(**_kwargs):\n    return None\n")
    result = check(path)
    assert result.returncode == 2, result.stderr
    assert "torch.config:3:1, key 'backend': this is a config of RETURNN's PyTorch back end" in result.stderr
    assert "hint: export a PyTorch model with torch.onnx.export" in result.stderr


@pytest.mark.parametrize("theano_class", ["lstm2", "native_lstm", "associative_lstm"])
def test_a_layer_class_of_returnns_theano_back_end_is_named_as_such(tmp_path: Path, theano_class: str) -> None:
    # returnn demos/demo-theano-vanilla-lstm-peep.12ax.config: "fw0": {"class": "lstm2", "n_out": 10}
    path = tmp_path / "theano.config"
    path.write_text(DEMO_12AX.replace('"class": "rec", "unit": "UNIT"', f'"class": "{theano_class}"')
                    .replace("LOSS_OPTS", "loss_opts"))
    result = check(path)
    assert result.returncode == 2
    assert f"theano.config:11:9, layer 'fw0', key 'class': unknown layer class '{theano_class}'" in result.stderr
    assert f"hint: '{theano_class}' is a layer class of RETURNN's Theano back end" in result.stderr


RNNT_EXTERN_DATA = '''#!crnn/rnn.py
from TFUtil import DimensionTag
time_tag = DimensionTag(kind=DimensionTag.Types.Spatial, description="time")
extern_data = {
    "data": {"dim": DATA_DIM, "same_dim_tags_as": {"t": time_tag}},
    "bpe": {"dim": 12, "sparse": True},
    "alignment": {"dim": 13, "sparse": True, "same_dim_tags_as": {"t": time_tag}},
    "align_score": {"shape": (1,), "dtype": "float32"},
}
network = {"output": {"class": "softmax", "loss": "ce", "target": "alignment"}}
'''


def test_extern_data_dim_tags_netc_does_not_read_may_be_opaque(tmp_path: Path) -> None:
    # returnn-experiments 2020-rnn-transducer: extern_data entries with "same_dim_tags_as": {"t": DimensionTag(...)}
    path = tmp_path / "rnnt.config"
    path.write_text(RNNT_EXTERN_DATA.replace("DATA_DIM", "40"))
    graph = load_graph(path)
    assert (graph.dims.num_inputs, graph.dims.target("alignment")) == (40, 13)
    path.write_text(RNNT_EXTERN_DATA.replace("DATA_DIM", "time_tag"))
    result = check(path)
    assert result.returncode == 2
    assert "rnnt.config:3:12, key 'extern_data': 'extern_data.data.dim' is needed, but netc cannot compute it" \
        in result.stderr
