"""RETURNN TF goldens of attention decoders (bench/returnn_attention_golden.py: tests/compiler/data/attention/,
bench/returnn_rec_unit_goldens.py: tests/compiler/data/rec_unit/), compiled to encoder-decoder folders.

A golden holds the net dict, RETURNN's parameters by checkpoint name, the input sequences and targets, RETURNN's
teacher-forced log-probs per sequence (`forward`) and, per beam size, each sequence's final beam searched alone
(`search`: `hyps`, `scores`, or `returnn_error` where RETURNN's search fails).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
from netc.compiler import compile_graph, save_model
from netc.ir import Document, Graph, graph_from_document

DATA = Path(__file__).parent / "compiler" / "data"
GOLDENS = sorted((DATA / "attention").glob("*.json")) + sorted((DATA / "rec_unit").glob("*.json"))
ATOL, SCORE_ATOL = 1e-5, 1e-4


def golden_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


@functools.cache
def load(path: Path) -> dict:
    return json.loads(path.read_text())


def config(golden: dict) -> dict:
    return {"network": golden["net"], "extern_data": golden["extern_data"]}


def graph_of(golden: dict, name: str = "net.json") -> Graph:
    return graph_from_document(Document(name, config(golden)))


def params_of(golden: dict) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, np.float32) for k, v in golden["params"].items()}


def inputs_of(golden: dict) -> list[np.ndarray]:
    return [np.asarray(x, np.float32).reshape(-1, golden["extern_data"]["data"]["dim"]) for x in golden["inputs"]]


def targets_of(golden: dict) -> list[np.ndarray]:
    return [np.asarray(y, np.int32) for y in golden["targets"]]


def compiled(golden: dict, folder: Path) -> Path:
    """The golden compiled with RETURNN's parameters into `folder`."""
    save_model(compile_graph(graph_of(golden), params_of(golden)), folder)
    return folder
