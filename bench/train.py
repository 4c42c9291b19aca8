"""Valid frames/s of netc's trainer on 3xBLSTM-500 vs hand-written PyTorch loops (ratios from one run).

3 x BLSTM-500, F=40, 1000 classes, ragged lengths 100-200, B=16, forward + backward + Adam.
Compares: the netc trainer's step, a hand-written padded nn.LSTM loop with in-length reversal (torch
runs it on oneDNN's fused RNN kernel), and nn.LSTM on pack_padded_sequence; all three with blstm3.json's
dropout and L2. netc and the padded loop take turns step by step.
Usage: python bench/train.py [--steps 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from netc.data import HdfSeq, write_hdf
from netc.trainer.loop import Trainer
from netc.trainer.setup import prepare
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

F_IN, CLASSES, HIDDEN, LAYERS, BATCH = 40, 1000, 500, 3, 16
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "blstm3.json"


def ragged_batches(steps: int, rng: np.random.Generator) -> list[list[HdfSeq]]:
    return [[HdfSeq(f"s{k}-{b}", rng.standard_normal((n, F_IN)).astype(np.float32),
                    {"classes": rng.integers(0, CLASSES, n).astype(np.int32)})
             for b, n in enumerate(rng.integers(100, 201, BATCH))] for k in range(steps + 1)]


Step = Callable[[int], None]  # runs training step k (k = 0 is the warm-up)


def netc_step(batches: list[list[HdfSeq]], directory: Path, device: str = "cpu") -> Step:
    """The real trainer step (collate, model, CE, Adam) on an HDF file of the same sequences."""
    seqs = [s for batch in batches for s in batch]
    write_hdf(directory / "data.hdf", seqs, F_IN, {"classes": CLASSES})
    config = {"train": str(directory / "data.hdf"), "network": json.loads(EXAMPLE.read_text()),
              "optimizer": {"class": "adam"}, "learning_rate": 1e-3, "device": device,
              "model": str(directory / "model")}
    (directory / "c.json").write_text(json.dumps(config))
    trainer = Trainer(prepare(str(directory / "c.json")), log=lambda line: None, progress=False)
    corpus, _, _, _ = trainer.setup.epoch("train", 1)
    groups = [np.arange(k * BATCH, (k + 1) * BATCH) for k in range(len(batches))]
    return lambda k: trainer.train_step(corpus, groups[k])


def valid_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Frame t of sequence b -> frame len_b-1-t on valid frames; padded frames stay."""
    t = torch.arange(x.shape[1], device=x.device)[None, :]
    index = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
    return x.gather(1, index[:, :, None].expand(-1, -1, x.shape[2]))


DROPOUT, L2 = 0.1, 0.01  # as blstm3.json sets on every layer, so both sides train the same network


def dropout(x: torch.Tensor) -> torch.Tensor:
    """One mask per feature shared by the batch (RETURNN's default), inverted."""
    return x * (torch.rand(1, 1, x.shape[2], device=x.device) >= DROPOUT).to(x.dtype) / (1 - DROPOUT)


class HandLSTM(torch.nn.Module):
    """3 x BLSTM + softmax written directly with nn.LSTM; `packed` selects pack_padded_sequence."""

    def __init__(self, packed: bool):
        super().__init__()
        self.packed = packed
        dims = [F_IN] + [2 * HIDDEN] * (LAYERS - 1)
        self.fw = torch.nn.ModuleList(torch.nn.LSTM(d, HIDDEN, batch_first=True) for d in dims)
        self.bw = torch.nn.ModuleList(torch.nn.LSTM(d, HIDDEN, batch_first=True) for d in dims)
        self.out = torch.nn.Linear(2 * HIDDEN, CLASSES)

    def run(self, lstm: torch.nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.packed:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            return pad_packed_sequence(lstm(packed)[0], batch_first=True, total_length=x.shape[1])[0]
        return lstm(x)[0]

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = valid_mask(lengths, x.shape[1])[:, :, None].float()
        for fw, bw in zip(self.fw, self.bw):
            x = dropout(x)
            y_bw = reverse_within_length(self.run(bw, reverse_within_length(x, lengths), lengths), lengths)
            x = torch.cat([self.run(fw, x, lengths), y_bw], dim=2) * mask
        return self.out(dropout(x))


def hand_step(batches: list[list[HdfSeq]], packed: bool, device: str = "cpu") -> Step:
    """A hand-written step (on CUDA, nn.LSTM runs cuDNN's fused RNN); waits for the device at its end."""
    model = HandLSTM(packed).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    tensors = []
    for batch in batches:
        lengths = torch.tensor([len(s.features) for s in batch])
        x = torch.zeros(len(batch), int(lengths.max()), F_IN)
        y = torch.zeros(len(batch), int(lengths.max()), dtype=torch.int64)
        for b, s in enumerate(batch):
            x[b, : len(s.features)] = torch.from_numpy(s.features)
            y[b, : len(s.features)] = torch.from_numpy(s.targets["classes"].astype(np.int64))
        tensors.append((x.to(device), lengths.to(device), y.to(device)))

    def step(k: int) -> None:
        x, lengths, y = tensors[k]
        mask = valid_mask(lengths, x.shape[1])
        loss = torch.nn.functional.cross_entropy(model(x, lengths)[mask], y[mask], reduction="sum")
        loss = loss + L2 * sum((p * p).sum() for p in model.parameters())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device != "cpu":
            torch.cuda.synchronize(device)

    return step


def interleaved(steps: dict[str, Step], batches: list[list[HdfSeq]]) -> dict[str, float]:
    """Valid frames/s of each loop over steps 1.., taking turns step by step so that both see the same
    machine state (a 2-core VM drifts by 10-20% over a minute); step 0 warms each up."""
    seconds = dict.fromkeys(steps, 0.0)
    for step in steps.values():
        step(0)
    for k in range(1, len(batches)):
        for name, step in steps.items():
            start = time.perf_counter()
            step(k)
            seconds[name] += time.perf_counter() - start
    frames = sum(len(s.features) for batch in batches[1:] for s in batch)
    return {name: frames / spent for name, spent in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_flush_denormal(True)  # as the netc trainer does, so all three run under the same FP mode
    batches = ragged_batches(args.steps, np.random.default_rng(0))
    with tempfile.TemporaryDirectory() as tmp:
        fps = interleaved({"netc": netc_step(batches, Path(tmp)), "padded": hand_step(batches, packed=False)},
                          batches)
    netc_fps, padded_fps = fps["netc"], fps["padded"]
    packed_fps = interleaved({"packed": hand_step(batches[:3], packed=True)}, batches[:3])["packed"]  # slow: 2 steps
    print(f"threads {torch.get_num_threads()}, {args.steps} timed steps of B={BATCH}, lengths 100-200")
    print(f"netc train step        {netc_fps:8.0f} valid frames/s")
    print(f"hand padded + reversal {padded_fps:8.0f} valid frames/s   netc ratio {netc_fps / padded_fps:.2f}x")
    print(f"hand pack_padded       {packed_fps:8.0f} valid frames/s   netc ratio {netc_fps / packed_fps:.2f}x")


if __name__ == "__main__":
    main()
