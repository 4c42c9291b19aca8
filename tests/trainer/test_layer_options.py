"""Layer options every layer has (ir/layers/base.py) as the trainer applies them: `trainable`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from netc.trainer.loop import Trainer
from netc.trainer.setup import prepare

NET = {"h": {"class": "linear", "activation": "tanh", "n_out": 5, "from": "data", "trainable": False, "L2": 0.1},
       "s": {"class": "subnetwork", "from": "h", "trainable": False,
             "subnetwork": {"a": {"class": "linear", "activation": "relu", "n_out": 4},
                            "output": {"class": "layer_norm", "from": "a"}}},
       "output": {"class": "softmax", "loss": "ce", "from": "s"}}
CONFIG = {"train": {"class": "DummyDataset", "input_dim": 3, "output_dim": 4, "num_seqs": 6, "seq_len": 5},
          "network": NET, "num_epochs": 2, "max_seqs": 2, "optimizer": {"class": "adam"}, "learning_rate": 0.05,
          "gradient_noise": 0.3, "device": "cpu"}


def trained(directory: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The parameters before and after two epochs of the config in `directory`."""
    path = directory / "config.json"
    path.write_text(json.dumps(CONFIG | {"model": str(directory / "model")}))
    trainer = Trainer(prepare(str(path), []), log=lambda line: None)
    before = trainer.model.named_values()
    trainer.run()
    return before, trainer.model.named_values()


def test_trainable_false_freezes_a_layer_and_every_sublayer_of_a_subnetwork(tmp_path: Path) -> None:
    """RETURNN leaves a layer's parameters out of the trained variables when it or any enclosing layer has
    `trainable: False` (LayerBase.add_param); L2 and gradient noise do not move them either."""
    before, after = trained(tmp_path)
    frozen = {"h/W", "h/b", "s/a/W", "s/a/b", "s/output/scale", "s/output/bias"}
    assert frozen < set(before)
    for name in frozen:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    for name in set(before) - frozen:
        assert not np.array_equal(after[name], before[name]), name
