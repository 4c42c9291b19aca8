"""layer_norm, norm, batch_norm against RETURNN TF (each sequence alone), in eval and, for batch_norm, in training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from netc.trainer.model import NetModel

from tests.compiler.returnn_goldens import ATOL, golden_tests, graph_of, load_cases, params_of

test_onnx_matches_returnn, test_torch_matches_returnn = golden_tests("returnn_norm.json")
CASES = load_cases("returnn_norm.json")
TRAIN_CASES = sorted(k for k, c in CASES.items() if "train_outputs" in c)


@pytest.mark.parametrize("case_id", TRAIN_CASES)
def test_batch_norm_training_matches_returnn(case_id: str) -> None:
    """Train mode, each sequence alone: the batch's statistics normalize, the running ones move by momentum."""
    case = CASES[case_id]
    graph = graph_of(case)
    for b, seq in enumerate(case["inputs"]):
        x = torch.tensor(seq, dtype=torch.float32).reshape(1, -1, case["num_inputs"])
        model = NetModel(graph, params_of(case)).train()
        ctx = model(x, torch.tensor([x.shape[1]]))
        got = ctx.padded("output").detach().numpy()[0]
        np.testing.assert_allclose(got, np.asarray(case["train_outputs"][b], np.float32).reshape(got.shape),
                                   atol=ATOL, rtol=0)
        values = model.named_values()
        for name, expected in case["train_stats"][b].items():
            np.testing.assert_allclose(values[name], np.asarray(expected, np.float32), atol=ATOL, rtol=0,
                                       err_msg=name)


def test_running_statistics_are_not_trained() -> None:
    case = CASES["batch_norm_v0"]
    model = NetModel(graph_of(case), params_of(case))
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"output/batch_norm/output_output_output_gamma", "output/batch_norm/output_output_output_beta"}
