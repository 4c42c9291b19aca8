"""Write RETURNN's own trajectories with `chunking`, `pretrain` and `window` on 12AX as golden files for the tests.

Each variant runs RETURNN once, without dropout, from its own random initial parameters, saved before the
first update (`save_epoch1_initial_model`). With pretraining, the layers that a later pretrain epoch adds are
drawn by RETURNN when it builds that network; a recording `init_new_network_callback` writes the drawn
values, so the golden's initial parameters hold every layer of the final network, as RETURNN started them.
`returnn_chunk_tables.json` holds RETURNN's own chunk positions and batches (`Dataset.generate_batches`
over `iterate_seqs`, as training uses them) and pretrain schedules (`Pretrain`) for a few cases. Each
training file holds the config, per-epoch scores and learning rates, the checkpoint names RETURNN wrote,
and the initial and final parameters (netdict.md section 8 names). tests/trainer/test_chunking.py,
test_pretrain.py and test_window.py train netc from the same initial parameters and must reach the same
numbers.
Usage: cd bench && python returnn_chunk_goldens.py --returnn /path/to/python-with-returnn -o ../tests/trainer/data
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from returnn_golden import made_by, params
from train12ax import DEMO, RETURNN_ENV, write_returnn_config

LSTM = {"class": "rec", "unit": "NativeLstm2"}
COMMON = {"train": {"class": "Task12AXDataset", "num_seqs": 300},
          "dev": {"class": "Task12AXDataset", "num_seqs": 50, "fixed_random_seed": 1}}
VARIANTS = {
    "returnn_chunking": {"chunking": "20:10", "num_epochs": 2,
                         "network": {"fw0": LSTM | {"n_out": 10, "from": "data"},
                                     "output": {"class": "softmax", "loss": "ce", "from": ["fw0"]}}},
    "returnn_pretrain": {"pretrain": "default", "pretrain_learning_rate": 0.005, "num_epochs": 3,
                         "network": {"l0_fw": LSTM | {"n_out": 6, "from": ["data"]},
                                     "l0_bw": LSTM | {"n_out": 6, "direction": -1, "from": ["data"]},
                                     "l1_fw": LSTM | {"n_out": 6, "from": ["l0_fw", "l0_bw"]},
                                     "l1_bw": LSTM | {"n_out": 6, "direction": -1, "from": ["l0_fw", "l0_bw"]},
                                     "output": {"class": "softmax", "loss": "ce", "from": ["l1_fw", "l1_bw"]}}},
    "returnn_window": {"window": 3, "num_inputs": 27, "num_epochs": 2,
                       "network": {"fw0": LSTM | {"n_out": 10, "from": "data"},
                                   "output": {"class": "softmax", "loss": "ce", "from": ["fw0"]}}},
}
RECORD = """
def _record_drawn(session, new_epoch, new_network, old_network_params, **_kwargs):
    import json
    values = session.run({{v.name[:-2]: v for v in new_network.get_params_list()}})
    with open({path!r} + ".%03d.json" % new_epoch, "w") as f:
        json.dump({{k: v.tolist() for k, v in values.items()}}, f)


init_new_network_callback = _record_drawn
"""
TABLES = """import json, sys, numpy as np
from returnn.datasets.generating import StaticDataset
from returnn.pretrain import Pretrain
cases = json.loads(sys.argv[1])
out = {"chunks": [], "schedules": []}
keys = {"data", "classes"}
for chunking, min_size, variance in cases["chunks"]:
    seqs = [{"data": np.zeros((n, 2), "float32"), "classes": np.zeros(n, "int32")} for n in cases["lengths"]]
    spans, ds = [], StaticDataset(seqs, output_dim={"data": (2, 2), "classes": (3, 1)}, chunking=chunking,
                                  min_chunk_size=min_size, chunking_variance=variance)
    ds.init_seq_order(epoch=1)
    batches, gen = [], ds.generate_batches(recurrent_net=True, used_data_keys=keys, **cases["batching"])
    while gen.has_more():
        batch, = gen.peek_next_n(1)
        batches.append([(part.seq_idx, int(part.seq_start_frame["data"])) for part in batch.seqs])
        spans += [(part.seq_idx, int(part.seq_start_frame["data"]), int(part.seq_end_frame["data"]))
                  for part in batch.seqs]
        gen.advance(1)
    out["chunks"].append({"chunking": chunking, "min_chunk_size": min_size, "chunking_variance": variance,
                          "spans": spans, "batches": batches})
for network, opts in cases["schedules"]:
    reps = opts.get("repetitions")
    if isinstance(reps, dict):  # JSON made the step indices strings
        opts = opts | {"repetitions": {int(k) if k.isdigit() else k: v for k, v in reps.items()}}
    out["schedules"].append({"network": network, "opts": opts, "nets": Pretrain(network, **opts)._step_net_jsons})
print(json.dumps(out))
"""
def blstm(layers: int, trainable_window: bool = True) -> dict:
    """A BLSTM net dict of `layers` pairs (the first reading a `window` layer when it is not trainable)."""
    net = {"output": {"class": "softmax", "loss": "ce", "from": [f"l{layers - 1}_fw", f"l{layers - 1}_bw"]}}
    first = ["data"] if trainable_window else ["win"]
    if not trainable_window:
        net["win"] = {"class": "copy", "from": ["data"], "trainable": False}
    for k in range(layers):
        below = first if k == 0 else [f"l{k - 1}_fw", f"l{k - 1}_bw"]
        net |= {f"l{k}_fw": LSTM | {"n_out": 4, "from": below},
                f"l{k}_bw": LSTM | {"n_out": 4, "direction": -1, "from": below}}
    return net


CASES = {"lengths": [1, 7, 20, 45, 3, 12, 33, 28, 16], "batching": {"batch_size": 24, "max_seqs": 3},
         "chunks": [["20:10", 0, 0], ["4:2", 0, 0], ["5", 0, 0], [[6, 4], 2, 0], ["3:3", 1, 0], ["10:5", 0, 0.5],
                    ["8:8", 1, 0.9]],
         "schedules": [[blstm(3), {}], [blstm(2), {"construction_algo": "from_input"}],
                       [blstm(3, trainable_window=False), {}], [blstm(3, trainable_window=False),
                                                                {"construction_algo": "from_input"}],
                       [blstm(3), {"repetitions": {"default": 2, "final": 1}}], [blstm(3), {"repetitions": {0: 3}}],
                       [blstm(3), {"repetitions": [1, 2]}],
                       [blstm(2), {"construction_algo": "no_network_modifications"}]]}


def tables(python: str) -> dict:
    """RETURNN's own chunk positions, batches of chunks and pretrain schedules for CASES."""
    out = subprocess.run([python, "-c", TABLES, json.dumps(CASES)], capture_output=True, text=True, check=True,
                         env=os.environ | RETURNN_ENV).stdout
    return CASES | json.loads(out.strip().splitlines()[-1])


def record(python: str, directory: Path, name: str, keys: dict) -> dict:
    """Run RETURNN on one variant; its scores, learning rates, checkpoints and parameters."""
    config = DEMO | COMMON | keys | {"model": str(directory / name / "model"), "log_verbosity": 4,
                                     "save_epoch1_initial_model": True}
    path = write_returnn_config(directory / f"{name}.config", config)
    path.write_text(path.read_text() + RECORD.format(path=str(directory / name / "drawn")))
    log = subprocess.run([python, "-m", "returnn", str(path)], capture_output=True, text=True,
                         env=os.environ | RETURNN_ENV, check=True).stdout
    train = re.findall(r"^(?:pretrain )?epoch \d+ score: (\S+) error: (\S+)", log, re.MULTILINE)
    dev = re.findall(r"^dev: score (\S+) error (\S+)", log, re.MULTILINE)
    rates = re.findall(r"^start (?:pretrain )?epoch \d+ with learning rate (\S+) ", log, re.MULTILINE)
    layers = tuple(keys["network"])
    model = directory / name
    written = sorted({p.name.split(".index")[0] for p in model.glob("model*.index")}, key=lambda w: w[-3:])
    initial = params(python, model / written[0], layers)  # model.000 or model.pretrain.000: before epoch 1
    for drawn in sorted(model.glob("drawn.*.json")):
        initial = json.loads(drawn.read_text()) | initial  # a layer's first values: drawn when it was added
    epochs = keys["num_epochs"]
    return {"config": DEMO | COMMON | keys,
            "epochs": [{"train_score": float(t[0]), "train_error": float(t[1]), "dev_score": float(d[0]),
                        "dev_error": float(d[1]), "learning_rate": float(r)} for t, d, r in zip(train, dev, rates)],
            "checkpoints": written[1:],
            "initial": initial,
            "final": params(python, model / next(w for w in written if w.endswith(f".{epochs:03d}")), layers)}


def write_golden(python: str, folder: Path, script: str, name: str, keys: dict) -> tuple[Path, dict]:
    """`record` of one variant in a temporary folder, with the `made_by` line of bench/`script`, written to
    folder/NAME.json (indented by 1); the path and the golden."""
    with tempfile.TemporaryDirectory() as tmp:
        golden = {"made_by": made_by(script, python)} | record(python, Path(tmp), name, keys)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(golden, indent=1) + "\n")
    return path, golden


def training_golden_main(doc: str, script: str, name: str, keys: dict) -> None:
    """The command line of a bench script that writes one training golden: `--returnn PYTHON -o FOLDER`."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--returnn", metavar="PYTHON", required=True)
    parser.add_argument("-o", "--output", required=True, help="the folder for the golden file")
    args = parser.parse_args()
    path, golden = write_golden(args.returnn, Path(args.output), script, name, keys)
    print(f"wrote {path}: {len(golden['epochs'])} epochs, {golden['epochs']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returnn", metavar="PYTHON", required=True)
    parser.add_argument("-o", "--output", required=True, help="the folder for the golden files")
    parser.add_argument("--only", nargs="*", choices=sorted(VARIANTS), default=sorted(VARIANTS),
                        help="training variants to record (the tables of chunks and schedules are always written)")
    args = parser.parse_args()
    version = subprocess.run([args.returnn, "-c", "import returnn, tensorflow as tf; "
                              "print(returnn.__version__, tf.__version__)"],
                             capture_output=True, text=True, check=True).stdout.split()
    path = Path(args.output) / "returnn_chunk_tables.json"
    path.write_text(json.dumps({"made_by": f"bench/returnn_chunk_goldens.py with RETURNN {version[0]}"}
                               | tables(args.returnn)) + "\n")
    print(f"wrote {path}")
    for name in args.only:
        path, golden = write_golden(args.returnn, Path(args.output), "returnn_chunk_goldens.py", name, VARIANTS[name])
        print(f"wrote {path}: {len(golden['epochs'])} epochs, checkpoints {golden['checkpoints']}")


if __name__ == "__main__":
    main()
