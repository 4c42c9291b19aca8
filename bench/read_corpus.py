"""`netc check CONFIG` (no options) on a corpus of configs, as a new user runs it: counts of outcomes.

Each config is checked in a fresh process, once as given and once with `--exec-config`. Outcomes: "ok" (exit 0),
"error" (exit 2 with one located `netc: error:` message), "crash" (a traceback, another exit code, or no answer
within --timeout seconds). The goal is 0 crashes in both modes.
Usage: python bench/read_corpus.py [DIR_OR_FILES ...]   (default: examples/real)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "real"


def outcome(path: Path, exec_config: bool, timeout: float) -> tuple[str, str]:
    """("ok" | "error" | "crash", the first line of the message)."""
    command = [sys.executable, "-m", "netc", "check", str(path), *(["--exec-config"] if exec_config else [])]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=path.parent)
    except subprocess.TimeoutExpired:
        return "crash", f"no answer within {timeout:.0f} s"
    errors = [line for line in result.stderr.splitlines() if line.startswith("netc: error:")]
    if result.returncode == 0:
        return "ok", ""
    if result.returncode == 2 and len(errors) == 1 and "Traceback" not in result.stderr:
        return "error", errors[0]
    return "crash", (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", default=[str(EXAMPLES)])
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    files = sorted(p.resolve() for arg in args.paths for p in (Path(arg).iterdir() if Path(arg).is_dir()
                                                               else [Path(arg)]) if p.is_file())
    for exec_config in (False, True):
        counts: Counter[str] = Counter()
        for path in files:
            kind, message = outcome(path, exec_config, args.timeout)
            counts[kind] += 1
            print(f"{'exec' if exec_config else 'safe'}  {kind:5}  {path.name}  {message[:150]}")
        print(f"{'--exec-config' if exec_config else 'safe reading'}: {len(files)} configs, "
              + ", ".join(f"{counts[k]} {k}" for k in ("ok", "error", "crash")))


if __name__ == "__main__":
    main()
