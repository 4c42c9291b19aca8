"""`netc check` on the transformer encoders of published configs, reduced to what runs outside a recurrent unit.

Each config is read as `netc check` reads it (literal-only Python: netc's safe evaluator runs their classes and
loops). Its network is then reduced: a `rec` layer whose `unit` is a dict is either dropped with every layer that
reads it (an attention decoder beside an encoder: 2019 trafo-vs-lstm), or, when it is the whole network (the
2020 small-state transformer LMs), its unit's layers are hoisted out of the loop as RETURNN's
`optimize_move_layers_out` does (`data:source` becomes the rec layer's input), and a unit whose layers read
`prev:` (demo-tf-rec-self-att) keeps its self_attention layers on the rec layer's input. The reduced net dict
is written beside the printed result and checked with the config's dims.
Usage: python bench/trafo_corpus_encoders.py [CONFIGS...] [-o DIR]   (default: the transformer configs of
/work/corpus)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from netc.ir import NetcError
from netc.ir.read import read_file

CORPUS = Path("/work/corpus")
DEFAULT = ["returnn-experiments__2019-asr-e2e-trafo-vs-lstm__librispeech__trafo.12l.ffdim4.pretrain3.config",
           *sorted(p.name for p in CORPUS.glob("returnn-experiments__2020-lm-small-state-trafo__tedlium2__*.config")),
           "returnn__demos__demo-tf-rec-self-att.config"]
DIM_KEYS = ("num_inputs", "num_outputs", "extern_data", "target")


def sources(layer: dict) -> list[str]:
    value = layer.get("from", ["data"])
    return [value] if isinstance(value, str) else list(value or [])


def unit_of(layer: Any) -> dict | None:
    return layer.get("unit") if isinstance(layer, dict) and isinstance(layer.get("unit"), dict) else None


def hoisted(rec: dict, prefix: str = "") -> dict:
    """The unit's layers outside the loop, named `prefix + name`: `data:source` is the rec layer's input; layers
    reading `prev:` are dropped (with their readers), self_attention layers lose their `prev:` sources."""
    unit, source = dict(unit_of(rec) or {}), sources(rec)
    net: dict[str, dict] = {}
    for name, layer in unit.items():
        layer = {k: v for k, v in layer.items() if v is not None}  # reuse_params None: not tied
        srcs = [s for s in sources(layer) if not (layer["class"] == "self_attention" and s.startswith("prev:"))]
        layer["from"] = [t for s in srcs for t in (source if s == "data:source" else
                                                   [s if s.startswith(("prev:", "base:", "data")) else prefix + s])]
        net[prefix + name] = layer
    return without(net, [n for n, layer in net.items() if any(s.startswith("prev:") for s in layer["from"])])


def without(net: dict, dropped: list[str]) -> dict:
    """`net` without the `dropped` layers and every layer that reads one of them."""
    gone, changed = set(dropped), True
    while changed:
        changed = False
        for name, layer in net.items():
            if name not in gone and set(sources(layer)) & gone:
                gone.add(name)
                changed = True
    return {n: layer for n, layer in net.items() if n not in gone}


def reduce_network(net: dict) -> dict:
    """A network that is one rec layer: its unit hoisted. Else each rec layer is replaced by what of its unit runs
    outside the loop (a copy of its last such layer), or dropped with its readers if nothing does or it is a
    search decoder (a unit with a choice layer)."""
    recs = [name for name, layer in net.items() if unit_of(layer) is not None]
    if len(net) == 1 and recs:
        return hoisted(net[recs[0]])
    reduced: dict[str, dict] = {}
    for name, layer in net.items():
        decoder = name in recs and any(sub.get("class") == "choice" for sub in unit_of(layer).values())
        inner = hoisted(layer, f"{name}_") if name in recs and not decoder else {}
        reduced |= inner | ({name: {"class": "copy", "from": list(inner)[-1]}} if inner else {})
        if name not in recs:
            reduced[name] = layer
    reduced = without(reduced, [n for n in recs if n not in reduced])
    if "output" not in reduced:
        reduced["output"] = {"class": "copy", "from": "encoder" if "encoder" in reduced else list(reduced)[-1]}
    return reduced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("configs", nargs="*", default=[str(CORPUS / name) for name in DEFAULT])
    parser.add_argument("-o", "--output", default=None, help="folder for the reduced configs (default: a temp dir)")
    args = parser.parse_args()
    folder = Path(args.output or tempfile.mkdtemp(prefix="trafo_encoders_"))
    folder.mkdir(parents=True, exist_ok=True)
    for path in args.configs:
        try:
            values = read_file(path).values
        except NetcError as e:
            print(f"READ ERROR {Path(path).name}: {e}")
            continue
        config = {k: values[k] for k in DIM_KEYS if k in values} | {"network": reduce_network(values["network"])}
        reduced = folder / (Path(path).stem + ".encoder.json")
        reduced.write_text(json.dumps(config, indent=1))
        run = subprocess.run([sys.executable, "-m", "netc", "check", str(reduced)], capture_output=True, text=True)
        said = run.stdout.strip().splitlines()[-1:] if run.returncode == 0 else run.stderr.strip().splitlines()[:3]
        classes = sorted({layer["class"] for layer in config["network"].values()})
        print(f"{'ok' if run.returncode == 0 else f'exit {run.returncode}'}  {Path(path).name}: "
              f"{len(config['network'])} layers {classes}\n    " + "\n    ".join(said))


if __name__ == "__main__":
    main()
