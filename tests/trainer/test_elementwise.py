"""The torch forms of eval's functions where the gradient differs from the plain op's (trainer/elementwise.py)."""

from __future__ import annotations

import pytest
import torch
from netc.trainer.elementwise import FUNCTIONS


@pytest.mark.parametrize("fn", ["safe_log", "safe_exp"])
def test_clipped_frames_get_the_gradient_as_with_returnn_identity_grad(fn: str) -> None:
    """RETURNN clips with maximum_with_identity_grad: a clipped frame still passes d/dx of its clipped value."""
    x = torch.tensor([-1.0, 1e-30, 0.5, 100.0], requires_grad=True)
    eps = torch.tensor(1e-20)
    y = FUNCTIONS[fn](x, eps)
    y.sum().backward()
    assert x.grad is not None
    if fn == "safe_log":
        torch.testing.assert_close(y.detach(), torch.log(x.detach().clamp(min=1e-20)))
        torch.testing.assert_close(x.grad, 1 / x.detach().clamp(min=1e-20))
    else:
        torch.testing.assert_close(x.grad, y.detach())  # d exp(clip(x)) = exp(clip(x)), also where clipped
        assert y[-1].item() == pytest.approx(1e20, rel=1e-4)
