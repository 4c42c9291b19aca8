"""The PyTorch baselines of bench/infer.py and bench/encoder.py: a bidirectional nn.LSTM stack + softmax with
netc's weights, and the runtime's batches as padded torch tensors."""

from __future__ import annotations

import numpy as np
import torch
from netc.runtime import DEFAULT_STEP_COST, buckets
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

# RETURNN/netc gate blocks j, i, f, o -> torch's i, f, g, o (g = j).
TORCH_GATES = [1, 2, 0, 3]


def torch_gates(matrix: np.ndarray) -> torch.Tensor:
    """`(rows, 4n)` in j,i,f,o -> `(4n, rows)` in i,f,g,o."""
    rows, n = matrix.shape[0], matrix.shape[1] // 4
    return torch.from_numpy(np.ascontiguousarray(matrix.reshape(rows, 4, n)[:, TORCH_GATES].reshape(rows, 4 * n).T))


class TorchBlstm(nn.Module):
    """`layers` pairs of (forward, backward) rec layers feeding the next pair, then a softmax `output`."""

    def __init__(self, params: dict[str, np.ndarray], layers: list[tuple[str, str]]):
        super().__init__()
        n_in, n = params[f"{layers[0][0]}/rec/W"].shape[0], params[f"{layers[0][0]}/rec/W_re"].shape[0]
        self.lstm = nn.LSTM(n_in, n, num_layers=len(layers), bidirectional=True, batch_first=True)
        self.out = nn.Linear(2 * n, params["output/W"].shape[1])
        with torch.no_grad():
            for k, pair in enumerate(layers):
                for name, suffix in zip(pair, ("", "_reverse")):
                    getattr(self.lstm, f"weight_ih_l{k}{suffix}").copy_(torch_gates(params[f"{name}/rec/W"]))
                    getattr(self.lstm, f"weight_hh_l{k}{suffix}").copy_(torch_gates(params[f"{name}/rec/W_re"]))
                    getattr(self.lstm, f"bias_ih_l{k}{suffix}").copy_(torch_gates(params[f"{name}/rec/b"][None])[:, 0])
                    getattr(self.lstm, f"bias_hh_l{k}{suffix}").zero_()
            self.out.weight.copy_(torch.from_numpy(params["output/W"].T))
            self.out.bias.copy_(torch.from_numpy(params["output/b"]))
        self.eval()

    def packed(self, x: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """Exact on ragged batches: pack_padded_sequence skips the padding."""
        packed = pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False)
        y, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=x.shape[1])
        return torch.softmax(self.out(y), dim=-1)

    def padded(self, x: torch.Tensor) -> torch.Tensor:
        """Runs over the padding too (exact only where all lengths are equal): the cheap baseline."""
        return torch.softmax(self.out(self.lstm(x)[0]), dim=-1)


def torch_batches(seqs: list[np.ndarray], budget: int, step_cost: float = DEFAULT_STEP_COST
                  ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Length-sorted batches as the runtime forms them (`buckets`; its step cost unless another is given: a
    baseline may batch at its own best), zero-padded `[B, T, F]`, with lengths."""
    out = []
    for batch in buckets([len(s) for s in seqs], budget, step_cost):
        lens = torch.tensor([len(seqs[i]) for i in batch])
        x = torch.zeros(len(batch), int(lens.max()), seqs[batch[0]].shape[1])
        for b, i in enumerate(batch):
            x[b, : len(seqs[i])] = torch.from_numpy(seqs[i])
        out.append((x, lens))
    return out
