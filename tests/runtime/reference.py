"""An independent numpy forward pass of netdict.md (sections 5 and 6), one sequence at a time."""

from __future__ import annotations

import numpy as np
from netc.ir import Act, Direction, Graph, Node
from netc.ir.layers import Linear, Rec, Softmax


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def lstm(x: np.ndarray, W: np.ndarray, W_re: np.ndarray, b: np.ndarray, reverse: bool,
         h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gates j, i, f, o in RETURNN's layout; returns outputs `(T, n)` and the final h, c."""
    n = W_re.shape[0]
    ys = np.zeros((len(x), n))
    for t in (reversed(range(len(x))) if reverse else range(len(x))):
        a = x[t] @ W + b + h @ W_re
        j, i, f, o = a[:n], a[n:2 * n], a[2 * n:3 * n], a[3 * n:]
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(j)
        h = ys[t] = sigmoid(o) * np.tanh(c)
    return ys, h, c


def affine(node: Node, x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    y = x @ p[f"{node.name}/W"] + p[f"{node.name}/b"]
    if isinstance(node.layer, Softmax):
        e = np.exp(y - y.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    assert node.layer.activation in (Act.IDENTITY, Act.TANH)
    return np.tanh(y) if node.layer.activation is Act.TANH else y


def forward(graph: Graph, p: dict[str, np.ndarray], x: np.ndarray, target_len: int | None = None) -> np.ndarray:
    """The output layer's values for one sequence `(T, F)` in float64."""
    values: dict[str, np.ndarray] = {"data": x.astype(np.float64)}
    finals: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for node in graph.nodes:
        layer = node.layer
        if isinstance(layer, Rec):
            n = node.out_type.feature
            if layer.is_decoder:
                h0 = np.concatenate([finals[e][0] for e in layer.encoder or ()])
                c0 = np.concatenate([finals[e][1] for e in layer.encoder or ()])
                inp, W = np.zeros((target_len or 0, 1)), np.zeros((1, 4 * n))
            else:
                inp = np.concatenate([values[s] for s in node.sources], axis=1)
                h0 = c0 = np.zeros(n)
                W = p[f"{node.name}/rec/W"]
            y, h, c = lstm(inp, W, p[f"{node.name}/rec/W_re"], p[f"{node.name}/rec/b"],
                           layer.direction is Direction.BACKWARD, h0, c0)
            values[node.name], finals[node.name] = y, (h, c)
        else:
            assert isinstance(layer, (Linear, Softmax))
            values[node.name] = affine(node, np.concatenate([values[s] for s in node.sources], axis=1), p)
    return values["output"]
