"""Small compiled models for the runtime tests, built once per session (F=5, 7 classes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from netc.compiler import compile_graph, save_model
from netc.compiler.onnx import CompileOptions
from netc.ir import Graph, load_graph, param_specs

F, C = 5, 7
NETS = {
    "blstm": {"fw": {"class": "rec", "n_out": 8, "direction": 1},
              "bw": {"class": "rec", "n_out": 6, "direction": -1},
              "output": {"class": "softmax", "from": ["fw", "bw"]}},
    "uni": {"l1": {"class": "rec", "n_out": 8},
            "h": {"class": "linear", "activation": "tanh", "n_out": 6, "from": "l1"},
            "l2": {"class": "rec", "n_out": 4, "from": "h"},
            "output": {"class": "softmax", "from": ["l2", "h"]}},
    "seq2seq": {"enc_fw": {"class": "rec", "n_out": 4, "direction": 1},
                "enc_bw": {"class": "rec", "n_out": 3, "direction": -1},
                "dec": {"class": "rec", "n_out": 7, "from": "null", "encoder": ["enc_fw", "enc_bw"]},
                "output": {"class": "softmax", "from": "dec"}},
}


def random_params(graph: Graph, seed: int) -> dict[str, np.ndarray]:
    """Random weights and non-zero biases, so every parameter matters."""
    rng = np.random.default_rng(seed)
    return {s.name: (0.5 * rng.standard_normal(s.shape)).astype(np.float32) for s in param_specs(graph)}


class Built:
    """A compiled test model: its graph, parameters and .onnx path."""

    def __init__(self, directory: Path, name: str, options: CompileOptions = CompileOptions()):
        net = directory / f"{name}.json"
        net.write_text(json.dumps(NETS[name]))
        self.graph = load_graph(net, F, C)
        self.params = random_params(self.graph, seed=len(name))
        suffix = "-stream" if options.streaming else "-int8" if options.quantize else ""
        self.path = directory / f"{name}{suffix}.onnx"
        save_model(compile_graph(self.graph, self.params, options=options), self.path)


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    directory = tmp_path_factory.mktemp("models")
    return {
        "blstm": Built(directory, "blstm"),
        "uni": Built(directory, "uni"),
        "seq2seq": Built(directory, "seq2seq"),
        "uni-stream": Built(directory, "uni", CompileOptions(streaming=True)),
        "blstm-int8": Built(directory, "blstm", CompileOptions(quantize="int8")),
    }


def sequences(seed: int, lengths: list[int]) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, F)).astype(np.float32) for n in lengths]
