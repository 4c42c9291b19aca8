"""netc trains RETURNN's 12AX demo to RETURNN's own numbers.

tests/trainer/data/returnn_12ax.json was written by `bench/returnn_golden.py` with RETURNN and TensorFlow:
RETURNN's initial parameters, its per-epoch scores and its parameters after 2 epochs (200 Adam steps),
trained without dropout (dropout masks come from each tool's own random generator). From the same initial
parameters netc must print the same scores and reach the same parameters: this checks the data (sequences
and order), batching, the LSTM and its gradients, the summed CE, Adam with RETURNN's epsilon, and the scores.
"""

from __future__ import annotations

import pytest

from .returnn_goldens import assert_params_equal, load_golden, train_like

GOLDEN = load_golden("returnn_12ax")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_like(GOLDEN, tmp_path_factory.mktemp("returnn12ax"))[0]


def test_scores_of_every_epoch_equal_returnns(trained):
    for epoch, expected in enumerate(GOLDEN["epochs"], 1):
        got = trained.control.epochs[epoch]["scores"]
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, abs=2e-5), (epoch, key)


def test_parameters_after_200_adam_steps_equal_returnns(trained):
    """Measured difference on the development machine: at most 8.0e-7 (parameters up to 2.05 in size)."""
    assert_params_equal(trained, GOLDEN)
