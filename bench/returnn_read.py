"""Write what RETURNN itself reads from each config in examples/real/ as golden files for the reader tests.

RETURNN's `Config.load_file` reads each file (running the Python ones, as RETURNN does); the plain data of its
`typed_dict` (Python and JSON configs) and the strings of its `dict` (the line format) are written, one JSON
file per config, to tests/ir/data/returnn_read/. tests/ir/test_read_golden.py compares netc's `read_file`
with them: every key RETURNN has, the same value, or an opaque value where the test expects one.
Usage: python bench/returnn_read.py --returnn /work/rvenv/bin/python -o tests/ir/data/returnn_read
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

from train12ax import RETURNN_ENV

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "real"
READ = """import json, sys, types
from returnn.config import Config
def plain(v, depth=0):
    if depth > 64:
        return False
    if isinstance(v, dict):
        return all(isinstance(k, str) and plain(x, depth + 1) for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return all(plain(x, depth + 1) for x in v)
    return v is None or isinstance(v, (str, int, float, bool))
config = Config()
try:
    config.load_file(sys.argv[1])
except BaseException as e:
    print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
    sys.exit(0)
typed = {}
for key, value in config.typed_dict.items():
    if isinstance(value, (types.ModuleType, types.FunctionType, type)) or callable(value) or key == "config":
        typed[key] = "<not data: %s>" % type(value).__name__
    else:
        typed[key] = value if plain(value) else "<not data: %s>" % type(value).__name__
print(json.dumps({"typed": typed, "line": config.dict}))
"""


def read_with_returnn(python: str, path: Path) -> dict:
    """RETURNN's reading of one config file (run in a subprocess with RETURNN installed)."""
    out = subprocess.run([python, "-c", READ, str(path)], capture_output=True, text=True,
                         env=os.environ | RETURNN_ENV, check=True, cwd=EXAMPLES.parents[1]).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returnn", metavar="PYTHON", required=True)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    version = subprocess.run([args.returnn, "-c", "import returnn; print(returnn.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    for path in sorted(EXAMPLES.iterdir()):
        golden = {"made_by": f"bench/returnn_read.py with RETURNN {version}", "file": path.name,
                  "returnn": read_with_returnn(args.returnn, path.relative_to(EXAMPLES.parents[1]))}
        (output / f"{path.name}.json").write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
        print(path.name, "error" if "error" in golden["returnn"] else "ok")


if __name__ == "__main__":
    main()
