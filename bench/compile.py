"""Compile time of `netc compile` on blstm3.json vs torch.onnx.export of the same network.

Both are measured as whole processes (interpreter start, imports, build, write), median of N runs,
side by side in one run. Usage: python bench/compile.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "blstm3.json"

TORCH_EXPORT = """
import sys, torch
from torch import nn

class BLSTM3(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(40, 500, num_layers=3, bidirectional=True)
        self.out = nn.Linear(1000, 1000)

    def forward(self, x, lens):
        packed = nn.utils.rnn.pack_padded_sequence(x, lens, enforce_sorted=False)
        y, _ = self.lstm(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(y)
        return torch.softmax(self.out(y), -1)

torch.manual_seed(0)
x, lens = torch.randn(7, 2, 40), torch.tensor([7, 5])
torch.onnx.export(BLSTM3().eval(), (x, lens), sys.argv[1], dynamo=False, opset_version=17,
                  input_names=["data", "lens"], dynamic_axes={"data": {0: "time", 1: "batch"}, "lens": {0: "batch"}})
"""


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        netc_cmd = [sys.executable, "-m", "netc", "compile", str(EXAMPLE), "-o", f"{tmp}/netc.onnx",
                    "--num-inputs", "40", "--num-outputs", "1000"]
        torch_cmd = [sys.executable, "-c", TORCH_EXPORT, f"{tmp}/torch.onnx"]
        netc_times, torch_times = [], []
        for _ in range(args.runs):
            netc_times.append(wall(netc_cmd))
            torch_times.append(wall(torch_cmd))
        netc_s, torch_s = statistics.median(netc_times), statistics.median(torch_times)
        size = Path(f"{tmp}/netc.onnx").stat().st_size / 2**20
    print(f"blstm3.json (15.2M parameters, {size:.1f} MiB), median of {args.runs} process runs")
    print(f"  netc compile               {netc_s:6.2f} s   (target <= 1.0 s)")
    print(f"  torch.onnx.export (legacy) {torch_s:6.2f} s")
    print(f"  ratio torch / netc         {torch_s / netc_s:6.2f} x")


if __name__ == "__main__":
    main()
