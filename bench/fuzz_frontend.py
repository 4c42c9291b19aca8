"""The long front-end fuzzing run: N mutated configs, each must compile or fail with a located NetcError.

Usage: python bench/fuzz_frontend.py [--cases 100000] [--seed 1]   (run from the repository root)
Prints the counts of outcomes and the first failing input, if any.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hardening.frontend_fuzz import case_text, check_case  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    outcomes: Counter[str] = Counter()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.cases):
            suffix, text = case_text(rng)
            try:
                outcomes[check_case(Path(tmp), suffix, text)] += 1
            except Exception as e:  # noqa: BLE001 - report any failure with its input
                outcomes["FAILED"] += 1
                print(f"case {i} FAILED: {type(e).__name__}: {e}\ninput: {text[:2000]!r}", flush=True)
    elapsed = time.perf_counter() - start
    print(f"{args.cases} cases in {elapsed:.0f} s: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    sys.exit(1 if outcomes["FAILED"] else 0)


if __name__ == "__main__":
    main()
