"""Run `netc check` on every config of a corpus as a new user would, and tally what happens.

Each file is checked in a fresh process with no options (and, with `--exec-config`, in that mode too). A run
is `ok` (exit 0), `error` (exit 2 with one `netc: error:` message) or a **crash**: a traceback, any other exit
code, or no answer within `--timeout` seconds. Crashes are defects; errors are listed with their first line
so that the causes can be counted.
Usage: python bench/corpus_check.py examples/real [more dirs or files] [--exec-config] [--timeout 60] [--causes]
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
from pathlib import Path


def check(path: Path, exec_config: bool, timeout: float) -> tuple[str, str]:
    """(`ok` | `error` | `crash`, the first line netc said) for one config."""
    command = [sys.executable, "-m", "netc", "check", str(path)] + (["--exec-config"] if exec_config else [])
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "crash", f"no answer within {timeout:g} s"
    said = next((line for line in result.stderr.splitlines() if line.startswith("netc: error:")), "")
    if "Traceback" in result.stderr or result.returncode not in (0, 2) or (result.returncode == 2 and not said):
        tail = result.stderr.strip().splitlines()[-1:] or [""]
        return "crash", f"exit {result.returncode}: {tail[0]}"
    return ("ok", "") if result.returncode == 0 else ("error", said.removeprefix("netc: error: "))


LOCATION = re.compile(r"^\S*?(:\d+)+(: |, )|^: ")  # "file:12:5, " or "file:3: " (or a file without position)
LAYER = re.compile(r"layer '[^']*', ")


def cause_of(said: str) -> str:
    """The error without its file position and layer name, cut at the first detail that names the config's own
    values, so that errors of one cause count together."""
    cause = LAYER.sub("", LOCATION.sub("", said, count=1), count=1)
    return re.split(r": line \d+|: unknown value \{|, got ", cause)[0][:110]


def configs(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        found += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="config files or folders of them")
    parser.add_argument("--exec-config", action="store_true", help="also run each in --exec-config mode")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--causes", action="store_true", help="also count the errors by cause (message without "
                        "its file position and layer name)")
    args = parser.parse_args()
    modes = [False, True] if args.exec_config else [False]
    for exec_config in modes:
        counts: collections.Counter[str] = collections.Counter()
        label = "--exec-config" if exec_config else "literal"
        causes: collections.Counter[str] = collections.Counter()
        for path in configs(args.paths):
            outcome, said = check(path, exec_config, args.timeout)
            counts[outcome] += 1
            if outcome != "ok":
                causes[cause_of(said)] += 1
            print(f"{label:13} {outcome:5} {path}" + (f"\n{'':19}{said[:160]}" if said else ""))
        total = sum(counts.values())
        if args.causes:
            for cause, n in causes.most_common():
                print(f"{n:4d}  {cause}")
        print(f"{label}: {counts['ok']} of {total} ok, {counts['error']} located errors, {counts['crash']} crashes")


if __name__ == "__main__":
    main()
