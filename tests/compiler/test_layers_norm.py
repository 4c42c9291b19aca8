"""layer_norm, norm, batch_norm against RETURNN TF (each sequence alone), in eval and, for batch_norm, in training."""

from __future__ import annotations

import pytest
from netc.trainer.model import NetModel

from tests.compiler.returnn_goldens import (
    assert_train_mode_matches,
    golden_tests,
    graph_of,
    load_cases,
    params_of,
)

test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_norm.json")
CASES = load_cases("returnn_norm.json")
TRAIN_CASES = sorted(k for k, c in CASES.items() if "train_outputs" in c)


@pytest.mark.parametrize("case_id", TRAIN_CASES)
def test_batch_norm_training_matches_returnn(case_id: str) -> None:
    """Train mode, each sequence alone: the batch's statistics normalize, the running ones move by momentum."""
    assert_train_mode_matches(CASES[case_id])


def test_running_statistics_are_not_trained() -> None:
    case = CASES["batch_norm_v0"]
    model = NetModel(graph_of(case), params_of(case))
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"output/batch_norm/output_output_output_gamma", "output/batch_norm/output_output_output_beta"}
