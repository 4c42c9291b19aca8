"""CTC on a time axis derived by pooling (RETURNN's encoders with time reduction): the trainer's dev score is
the CTC loss of the compiled model's log-probs over the pooled frames, per target label."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from netc.compiler import compile_graph, save_model
from netc.data import HdfSeq, write_hdf
from netc.ir import NetcError
from netc.runtime import Model
from netc.trainer.loop import Trainer
from netc.trainer.setup import prepare

NET = {"fw": {"class": "rec", "unit": "nativelstm2", "n_out": 6},
       "pooled": {"class": "pool", "mode": "max", "pool_size": [2], "padding": "same", "from": "fw"},
       "output": {"class": "softmax", "loss": "ctc", "from": "pooled"}}


def test_ctc_after_time_pooling_trains_and_scores_the_pooled_frames(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    seqs = [HdfSeq(f"s{i}", rng.standard_normal((n, 4)).astype(np.float32),
                   {"classes": rng.integers(0, 3, m).astype(np.int32)})
            for i, (n, m) in enumerate([(9, 2), (12, 3), (7, 1), (10, 2)])]
    write_hdf(tmp_path / "d.hdf", seqs, 4, {"classes": 3})
    config = {"network": NET, "num_inputs": 4, "num_outputs": 3, "num_epochs": 1, "adam": True,
              "learning_rate": 0.01, "train": str(tmp_path / "d.hdf"), "dev": str(tmp_path / "d.hdf"),
              "model": str(tmp_path / "model")}
    (tmp_path / "c.json").write_text(json.dumps(config))
    trainer = Trainer(prepare(str(tmp_path / "c.json")), log=lambda line: None, progress=False)
    trainer.run()
    dev_score = trainer.control.epochs[1]["scores"]["dev_score"]
    save_model(compile_graph(trainer.graph, trainer.model.named_values()), tmp_path / "m.onnx")
    log_probs = Model(tmp_path / "m.onnx", threads=1)([s.features for s in seqs])
    assert [len(p) for p in log_probs] == [(len(s.features) + 1) // 2 for s in seqs]  # SAME pooling by 2
    total = sum(float(F.ctc_loss(torch.from_numpy(p)[:, None], torch.from_numpy(s.targets["classes"])[None].long(),
                                 [len(p)], [len(s.targets["classes"])], blank=3, reduction="sum"))
                for p, s in zip(log_probs, seqs))
    assert abs(dev_score - total / sum(len(s.targets["classes"]) for s in seqs)) < 1e-5


def test_chunking_a_ctc_net_is_refused(tmp_path: Path) -> None:
    """CTC's targets are not frame-aligned: cutting them with the input's chunks would train on nonsense."""
    write_hdf(tmp_path / "d.hdf", [HdfSeq("s", np.zeros((8, 4), np.float32), {"classes": np.array([1], np.int32)})],
              4, {"classes": 3})
    config = {"network": NET, "num_inputs": 4, "num_outputs": 3, "chunking": "5:3", "train": str(tmp_path / "d.hdf"),
              "model": str(tmp_path / "model")}
    (tmp_path / "c.json").write_text(json.dumps(config))
    with pytest.raises(NetcError, match="a decoder's or CTC's targets have their own length"):
        Trainer(prepare(str(tmp_path / "c.json")), log=lambda line: None, progress=False)
