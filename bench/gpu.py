"""GPU figures side by side in one run (bench/gpu.sh runs it on a machine with an NVIDIA GPU).

Inference: valid frames/s of netc's runtime on onnxruntime's CUDA provider (IO binding) against PyTorch's
cuDNN LSTM (pack_padded_sequence) on the same 3xBLSTM-500 (blstm3.json, F=40, 1000 classes), a ragged
corpus (lengths 50-500) in the same length-sorted batches; outputs are compared before anything is timed.
Training: valid frames/s of the netc trainer on CUDA against a hand-written padded nn.LSTM loop (cuDNN),
same sequences, taking turns step by step (bench/train.py).
`--device cpu` runs the same code on the CPU with small sizes: a check of the script where no GPU is.
Usage: python bench/gpu.py [--device cuda|cpu] [--seqs 300] [--steps 4] [--repeat 3]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
os.environ.setdefault("NETC_SHARED", str(BENCH.parent))  # examples/ of this checkout (a device gets no ../shared)
sys.path.insert(0, str(BENCH))

import argparse  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from infer import best_times, build, corpus, log_diff, pairs, torch_batches  # noqa: E402
from netc.runtime import Model  # noqa: E402
from torch_lstm import TorchBlstm  # noqa: E402
from train import hand_step, interleaved, netc_step, ragged_batches  # noqa: E402

# Hopper runs fp32 matrix products of both libraries in TF32 unless told otherwise: outputs differ from the CPU
# by about 1e-3 in log-probability, far below what changes a decision, so the figures keep each library's
# default and only a gross disagreement stops the run.
AGREE = 1e-2


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def inference(device: str, seqs: list[np.ndarray], batch_frames: int, repeat: int) -> dict[str, float]:
    """Valid frames/s of netc (onnxruntime) and of PyTorch's nn.LSTM on `device`, best of `repeat` rounds."""
    with tempfile.TemporaryDirectory(prefix="netc-gpu-") as tmp:
        path, params = build("blstm3.json", Path(tmp))
        model = Model(path, device=device, batch_frames=batch_frames)
    if model.device != device:
        raise SystemExit(f"onnxruntime runs on {model.device}, not {device}: is onnxruntime-gpu installed and "
                         f"first on the path? (providers: {model.session.get_providers()})")
    net = TorchBlstm(params, pairs("lstm", "_fw", "_bw", 3)).to(device)
    batches = [(x.to(device), lens) for x, lens in torch_batches(seqs, batch_frames)]

    def torch_run() -> list[torch.Tensor]:
        with torch.no_grad():
            outs = [net.packed(x, lens) for x, lens in batches]
        synchronize(device)
        return outs

    check(model, torch_run()[0], seqs, batch_frames)
    frames = sum(len(s) for s in seqs)
    seconds = best_times({"netc ORT": lambda: model(seqs), "torch nn.LSTM": torch_run}, repeat)
    return {name: frames / t for name, t in seconds.items()}


def check(model: Model, torch_out: torch.Tensor, seqs: list[np.ndarray], batch_frames: int) -> None:
    """The first torch batch against netc's outputs for the same sequences (the runtime's own bucketing)."""
    from netc.runtime import buckets

    first = [seqs[i] for i in buckets([len(s) for s in seqs], batch_frames)[0]]
    ours = model(first)
    theirs = torch_out.float().cpu().numpy()
    deviation = max(log_diff(o, theirs[b, : len(o)]) for b, o in enumerate(ours))
    print(f"inference check: max |log p_netc - log p_torch| = {deviation:.1e} over {len(first)} sequences")
    if deviation > AGREE:
        raise SystemExit(f"netc and torch disagree by {deviation:.2e} (> {AGREE})")


def training(device: str, steps: int) -> dict[str, float]:
    """Valid frames/s of the netc trainer and of a hand-written padded nn.LSTM loop on `device`."""
    batches = ragged_batches(steps, np.random.default_rng(0))
    with tempfile.TemporaryDirectory(prefix="netc-gpu-") as tmp:
        return interleaved({"netc train": netc_step(batches, Path(tmp), device),
                            "hand nn.LSTM": hand_step(batches, packed=False, device=device)}, batches)


def report(title: str, fps: dict[str, float]) -> None:
    (a, fa), (b, fb) = fps.items()
    print(f"{title}: {a} {fa:9.0f} valid frames/s | {b} {fb:9.0f} valid frames/s | {a} / {b} = {fa / fb:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--seqs", type=int, default=300, help="inference corpus size (lengths 50-500)")
    parser.add_argument("--steps", type=int, default=4, help="timed training steps (B=16, lengths 100-200)")
    parser.add_argument("--repeat", type=int, default=3, help="timed inference rounds (the best counts)")
    parser.add_argument("--batch-frames", type=int, default=20000)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("torch sees no CUDA device")
    torch.manual_seed(0)
    name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    print(f"device {name}, torch {torch.__version__}, {args.seqs} sequences, {args.steps} training steps")
    report("inference 3xBLSTM-500", inference(args.device, corpus(args.seqs), args.batch_frames, args.repeat))
    torch.set_flush_denormal(True)  # as the netc trainer does, so both loops run under the same FP mode
    report("training  3xBLSTM-500", training(args.device, args.steps))


if __name__ == "__main__":
    main()
