"""The config keys RETURNN reads, collected from its source, for the registry test (tests/ir/test_keys.py).

Remake the list with RETURNN's current source and its Theano-era release (`pip download --no-deps
returnn==1.20190515.205601 -d /tmp/rt` and unpack it):

    python bench/returnn_keys.py /work/rvenv/lib/python3.11/site-packages/returnn \
        /tmp/rt/returnn-1.20190515.205601 -o tests/ir/data/returnn_keys.txt
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

READ = re.compile(r"config\.(?:value|bool|int|float|list|typed_value|int_list|float_list|bool_or_other|has|"
                  r"is_true|is_typed|opt_typed_value|get_of_type|typed_dict|dict)\(\s*[\"']([A-Za-z0-9_]+)[\"']")


def keys_read(source: Path) -> set[str]:
    """Every key name read as `config.<reader>("name"` in the Python files under `source`."""
    return {m.group(1) for path in source.rglob("*.py") for m in READ.finditer(path.read_text(errors="replace"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", type=Path, help="RETURNN source folders")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    keys = set().union(*(keys_read(s) for s in args.sources))
    args.output.write_text("".join(f"{k}\n" for k in sorted(keys)))
    print(f"{len(keys)} keys -> {args.output}")


if __name__ == "__main__":
    main()
