"""Layer families train: gradients reach every parameter through them and a few Adam steps lower the CE."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from netc.ir import Document, graph_from_document
from netc.trainer.model import NetModel

from tests.helpers import ragged_batch

LENGTHS = [6, 1, 4]
NETS = {
    "reshape": {"s": {"class": "split_dims", "axis": "F", "dims": [2, -1], "from": "data"},
                "w": {"class": "swap_axes", "axis1": "spatial:1", "axis2": "F", "from": "s"},
                "e": {"class": "expand_dims", "axis": "spatial", "from": "w"},
                "q": {"class": "squeeze", "axis": "dim:1", "from": "e"},
                "m": {"class": "merge_dims", "axes": "static", "from": "q"},
                "p": {"class": "pad", "axes": "T", "padding": [2, 1], "value": 0.5, "from": "m"},
                "h": {"class": "linear", "activation": "tanh", "n_out": 8, "from": "p"},
                "c": {"class": "slice", "axis": "T", "slice_start": 2, "slice_end": -1, "from": "h"},
                "output": {"class": "softmax", "loss": "ce", "from": "c"}},
    "elementwise": {"h": {"class": "linear", "activation": "tanh", "n_out": 8, "from": "data"},
                    "g": {"class": "gating", "activation": "tanh", "from": "h"},
                    "m": {"class": "reduce", "mode": "mean", "axes": "T", "from": "g"},
                    "n": {"class": "length", "from": "data"},
                    "c": {"class": "constant", "value": 0.5},
                    "r": {"class": "combine", "kind": "sub", "from": ["g", "m"], "with_bias": True},
                    "e": {"class": "eval", "from": ["r", "c", "n"],
                          "eval": "tf.nn.relu(source(0)) * source(1) + source(0) / tf.cast(source(2), tf.float32)"},
                    "output": {"class": "softmax", "loss": "ce", "from": "e"}},
    "norm": {"h": {"class": "linear", "activation": "relu", "n_out": 8, "from": "data"},
             "l": {"class": "layer_norm", "from": "h"},
             "n": {"class": "norm", "axes": "T", "from": "l"},
             "b": {"class": "batch_norm", "masked_time": True, "from": "n"},
             "output": {"class": "softmax", "loss": "ce", "from": "b"}},
    "window": {"w": {"class": "window", "window_size": 3, "from": "data"},
               "m": {"class": "merge_dims", "axes": "except_time", "from": "w"},
               "h": {"class": "linear", "activation": "tanh", "n_out": 8, "from": "m"},
               "output": {"class": "softmax", "loss": "ce", "from": "h"}},
    "conv": {"c": {"class": "conv", "filter_size": [3, 3], "n_out": 2, "padding": "same", "with_bias": True,
                   "input_add_feature_dim": True, "activation": "relu", "from": "data"},
             "p": {"class": "pool", "mode": "max", "pool_size": [1, 2], "padding": "same", "from": "c"},
             "m": {"class": "merge_dims", "axes": "static", "from": "p"},
             "d": {"class": "conv", "filter_size": [3], "n_out": 8, "padding": "same", "strides": [2], "from": "m"},
             "a": {"class": "pool", "mode": "avg", "pool_size": [2], "padding": "same", "from": "d"},
             "output": {"class": "softmax", "loss": "ce", "from": "a"}},
    "transposed_conv": {"t": {"class": "transposed_conv", "filter_size": [3], "strides": [2], "n_out": 8,
                              "activation": "tanh", "from": "data"},
                        "s": {"class": "split_dims", "axis": "F", "dims": [4, 2], "from": "t"},
                        "u": {"class": "transposed_conv", "filter_size": [1, 2], "strides": [1, 2], "padding": "valid",
                              "n_out": 2, "from": "s"},
                        "m": {"class": "merge_dims", "axes": "static", "from": "u"},
                        "c": {"class": "conv", "filter_size": [2], "n_out": 8, "padding": "valid", "strides": [2],
                              "from": "m"},
                        "output": {"class": "softmax", "loss": "ce", "from": "c"}},
    "rec_units": {"g": {"class": "rec", "unit": "gru", "n_out": 6, "direction": -1, "from": "data"},
                  "s": {"class": "rec", "unit": "standardlstm", "n_out": 6, "from": "g"},
                  "output": {"class": "softmax", "loss": "ce", "from": "s"}},
    "variable": {"v": {"class": "variable", "shape": [6]},
                 "b": {"class": "variable", "shape": [6], "add_batch_axis": True, "init": 1.0},
                 "a": {"class": "combine", "kind": "add", "from": ["data", "v"]},
                 "m": {"class": "combine", "kind": "mul", "from": ["a", "b"]},
                 "output": {"class": "softmax", "loss": "ce", "from": "m"}},
    "dot": {"w": {"class": "variable", "shape": [6, 8], "add_batch_axis": True, "init": "glorot_uniform"},
            "d": {"class": "dot", "red1": "F", "red2": "spatial:0", "var1": "T", "var2": "F", "from": ["data", "w"]},
            "output": {"class": "softmax", "loss": "ce", "from": "d"}},
    "chunking": {"c": {"class": "time_chunking", "chunk_size": 4, "chunk_step": 2, "from": "data"},
                 "fw": {"class": "rec", "n_out": 4, "from": "c"},
                 "bw": {"class": "rec", "n_out": 4, "direction": -1, "from": "c"},
                 "u": {"class": "time_unchunking", "chunking_layer": "c", "from": ["fw", "bw"]},
                 "s": {"class": "split_dims", "axis": "T", "dims": [-1, 2], "from": "u"},
                 "m": {"class": "merge_dims", "axes": "except_time", "from": "s"},
                 "output": {"class": "softmax", "loss": "ce", "from": "m"}},
    "sampling": {"d": {"class": "downsample", "axis": 0, "factor": 2, "from": "data"},
                 "l": {"class": "rec", "n_out": 6, "from": "d"},
                 "u": {"class": "upsample", "axis": 0, "factor": 2, "time_like_last_source": True,
                       "from": ["l", "data"]},
                 "output": {"class": "softmax", "loss": "ce", "from": ["u", "data"]}},
}


@pytest.mark.parametrize("name", sorted(NETS))
def test_family_trains(name: str) -> None:
    graph = graph_from_document(Document(f"{name}.json", NETS[name]), 6, 5)
    torch.manual_seed(0)
    model = NetModel(graph, seed=3).train()
    x, lens = ragged_batch(np.random.default_rng(0), LENGTHS, 6)
    targets = torch.randint(0, 5, (sum(LENGTHS),), generator=torch.Generator().manual_seed(1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(20):
        ctx = model(torch.from_numpy(x), torch.from_numpy(lens).long())
        logits = ctx.logits["output"]  # frames of the output's own time axis
        loss = F.cross_entropy(logits, targets[:len(logits)])
        optimizer.zero_grad()
        loss.backward()
        for pname, p in model.named_parameters():
            if not p.requires_grad:  # batch_norm's running statistics
                continue
            assert p.grad is not None and torch.all(torch.isfinite(p.grad)) and p.grad.abs().sum() > 0, pname
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses
    if name == "norm":  # the running statistics moved towards the batches' (RETURNN's momentum 0.99)
        assert not torch.allclose(model.get_parameter("b/batch_norm/b_b_output_mean"), torch.zeros(8))
