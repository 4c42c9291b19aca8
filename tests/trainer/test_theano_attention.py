"""`netc train` trains a decoder with Theano's attention_list: on a tiny reversal task the training score falls
epoch by epoch, and the attention's parameters receive gradients (they change)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from netc.data import HdfSeq, write_hdf
from netc.ir import Document, graph_from_document, param_specs
from netc.trainer.checkpoint import load_params
from netc.trainer.model import NetModel

V = 4  # labels; the input is their one-hot code plus noise, the target the labels reversed
NET = {"fw": {"class": "rec", "n_out": 8}, "bw": {"class": "rec", "n_out": 6, "direction": -1},
       "dec": {"class": "rec", "from": "null", "encoder": ["fw", "bw"], "recurrent_transform": "attention_list",
               "attention_template": 8, "attention_distance": "dot", "attention_glimpse": 2},
       "output": {"class": "softmax", "loss": "ce", "from": "dec"}}


def reversal_corpus(path: Path, count: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    seqs = []
    for i in range(count):
        labels = rng.integers(0, V, int(rng.integers(2, 7)))
        feats = np.eye(V, dtype=np.float32)[labels] + 0.1 * rng.standard_normal((len(labels), V)).astype(np.float32)
        seqs.append(HdfSeq(f"seq-{i}", feats, {"classes": labels[::-1].astype(np.int32)}))
    write_hdf(path, seqs, V, {"classes": V})


def test_netc_train_lowers_the_score_of_an_attention_decoder(tmp_path: Path) -> None:
    reversal_corpus(tmp_path / "train.hdf", 48, 0)
    config = {"train": str(tmp_path / "train.hdf"), "network": NET, "model": str(tmp_path / "model"),
              "batch_size": 200, "max_seqs": 8, "optimizer": {"class": "adam"}, "learning_rate": 0.02,
              "num_epochs": 4, "device": "cpu"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    done = subprocess.run([sys.executable, "-m", "netc", "train", str(tmp_path / "config.json")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    scores = [float(m.group(1)) for m in re.finditer(r"epoch \d+ score: ([0-9.]+)", done.stdout + done.stderr)]
    assert len(scores) == 4, done.stdout + done.stderr
    assert all(b < a for a, b in zip(scores, scores[1:])), scores
    assert scores[-1] < 0.9 * scores[0], scores  # chance is log V = 1.386
    first, last = (load_params(str(tmp_path / f"model.00{e}.pt")) for e in (1, 4))
    for name in ("dec/W_att_in_0_attention_list", "dec/W_att_re_0_attention_list", "dec/W_att_in_1_attention_list",
                 "dec/W_att_bs_1_attention_list"):
        assert not np.allclose(last[name], first[name]), name


def test_attention_gradients_reach_every_attention_parameter() -> None:
    graph = graph_from_document(Document("net.json", NET), V, V)
    model = NetModel(graph, seed=1)
    rng = np.random.default_rng(0)
    lens, targets = torch.tensor([5, 1, 3]), torch.tensor([2, 4, 1])
    data = torch.from_numpy(rng.standard_normal((3, 5, V)).astype(np.float32))
    ctx = model(data, lens, targets)
    ctx.padded("output", logits=True).square().sum().backward()
    names = [s.name for s in param_specs(graph) if "attention_list" in s.name]
    assert len(names) == 10  # W_att_re/b_att_re, W_att_in/b_att_in per base; W_att_bs/b_att_bs for bw (6 != 8)
    grads = dict(model.named_parameters())
    for name in names:
        assert grads[name].grad is not None and grads[name].grad.abs().sum() > 0, name


@pytest.mark.parametrize("distance", ["l2", "logl2", "sqr", "dot", "l1", "cos", "transpose"])
def test_gradients_are_finite_on_ragged_bases_with_a_one_frame_sequence(distance: str) -> None:
    """A one-frame projected base is exactly 0 after its mean is subtracted; padded frames are 0 too."""
    net = {"fw": {"class": "rec", "n_out": 6}, "bw": {"class": "rec", "n_out": 5, "direction": -1},
           "dec": {"class": "rec", "from": "null", "encoder": ["fw", "bw"], "recurrent_transform": "attention_list",
                   "attention_template": 6, "attention_distance": distance, "attention_nbest": 2,
                   "base": ["fw"] if distance == "logl2" else ["fw", "bw"]},  # logl2: log((C + 1) / 2) needs C > -1
           "output": {"class": "softmax", "from": "dec"}}
    model = NetModel(graph_from_document(Document("net.json", net), 6, V), seed=1)
    ctx = model(torch.randn(3, 7, 6, generator=torch.Generator().manual_seed(0)), torch.tensor([7, 1, 4]),
                torch.tensor([3, 1, 5]))
    ctx.padded("output", logits=True).square().sum().backward()
    for name, p in model.named_parameters():  # the decoder's rec/W has no rows (it reads no input)
        assert name == "dec/rec/W" or p.grad is not None and torch.isfinite(p.grad).all(), name
