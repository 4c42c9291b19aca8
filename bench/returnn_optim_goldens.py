"""RETURNN's own training trajectories on a small 12AX set, one per optimizer / learning-rate variant.

RETURNN runs once with learning rate 0 (its checkpoint is the shared initial parameters), then once per
variant from those parameters for 3 epochs, without dropout. The file holds the initial parameters and, per
variant, the config keys, the per-epoch scores and learning rates (from RETURNN's learning-rate file) and the
final parameters; tests/trainer/test_optim_parity.py trains netc from the same parameters and compares.
Usage: python bench/returnn_optim_goldens.py --returnn /path/to/python-with-returnn \
           -o tests/trainer/data/returnn_optim.json [--only NAME ...]
(with --only, the other variants of an existing output file are kept).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from returnn_golden import NETWORK, made_by, params, returnn
from train12ax import DEMO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from netc.ir.files import atomic_output  # noqa: E402

EPOCHS = 3
# 95 sequences in batches of 10: 10 steps per epoch, the last one short (accum_grad_multiple_step 3 then
# straddles epoch ends).
BASE = {"train": {"class": "Task12AXDataset", "num_seqs": 95},
        "dev": {"class": "Task12AXDataset", "num_seqs": 30, "fixed_random_seed": 1},
        "max_seqs": 10, "learning_rate": 0.01, "num_epochs": EPOCHS}
LEGACY = {"optimizer": None}  # no optimizer dict: the legacy flags decide
VARIANTS: dict[str, dict] = {
    "sgd": LEGACY | {"learning_rate": 0.005},
    "adam_flag_epsilon": LEGACY | {"adam": True, "optimizer_epsilon": 0.01},
    "adam_class_options": {"optimizer": {"class": "adam", "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-3}},
    "nadam_class": {"optimizer": {"class": "nadam"}, "optimizer_epsilon": 1e-3},
    "adadelta_flag": LEGACY | {"adadelta": True, "adadelta_decay": 0.5, "optimizer_epsilon": 1e-6,
                               "learning_rate": 1.0},
    "adadelta_class": {"optimizer": {"class": "adadelta", "rho": 0.5, "epsilon": 1e-5}, "learning_rate": 0.5},
    "adagrad_flag": LEGACY | {"adagrad": True, "rmsprop": 0.5, "learning_rate": 0.05},
    "adagrad_class": {"optimizer": {"class": "adagrad", "initial_accumulator_value": 1.0}, "learning_rate": 0.1},
    "rmsprop_decay": LEGACY | {"rmsprop": 0.8, "optimizer_epsilon": 1e-3},
    "rmsprop_momentum": LEGACY | {"rmsprop": True, "momentum": 0.5, "learning_rate": 0.003},
    "rmsprop_class_centered": {"optimizer": {"class": "rmsprop", "decay": 0.7, "momentum": 0.3, "centered": True,
                                             "epsilon": 1e-4}, "learning_rate": 0.003},
    "momentum_flag": LEGACY | {"momentum": 0.9, "learning_rate": 0.002},
    "momentum_class_nesterov": {"optimizer": {"class": "momentum", "momentum": 0.8, "use_nesterov": True},
                                "learning_rate": 0.003},
    "nesterov_momentum_ignored": LEGACY | {"nesterov_momentum": 0.9, "learning_rate": 0.005},
    "gradient_descent_multiplier": {"optimizer": {"class": "gradientdescent", "learning_rate_multiplier": 5.0},
                                    "learning_rate": 0.001},
    "gradient_clip": LEGACY | {"gradient_clip": 0.5, "learning_rate": 0.005},
    "gradient_clip_global_norm": LEGACY | {"gradient_clip_global_norm": 2.0, "learning_rate": 0.005},
    "gradient_clip_both": LEGACY | {"gradient_clip": 0.5, "gradient_clip_global_norm": 2.0, "learning_rate": 0.005},
    "accum_grad_multiple_step": {"optimizer": {"class": "adam"}, "accum_grad_multiple_step": 3},
    "learning_rates_list_newbob": {"optimizer": {"class": "adam"}, "learning_rates": [0.01, 0.02],
                                   "learning_rate_control": "newbob", "newbob_relative_error_threshold": -10.0,
                                   "newbob_learning_rate_decay": 0.3},
    "learning_rates_dict": {"optimizer": {"class": "adam"}, "learning_rate": 0.5,
                            "learning_rates": {1: 0.01, 3: 0.003}},
    "learning_rates_string": {"optimizer": {"class": "adam"}, "learning_rates": "{2: 0.003}"},
    "newbob_error_measure": {"optimizer": {"class": "adam"}, "learning_rate_control": "newbob",
                             "learning_rate_control_error_measure": "dev_error",
                             "newbob_relative_error_threshold": -0.05, "newbob_learning_rate_decay": 0.2},
}


def float32_text(values: object) -> object:
    """Nested lists of float32 values as the shortest decimals that read back to the same float32."""
    if isinstance(values, list):
        return [float32_text(v) for v in values]
    return float(repr(np.float32(values)).removeprefix("np.float32(").removesuffix(")"))


def run_variant(python: str, directory: Path, name: str, keys: dict, initial: Path) -> dict:
    """RETURNN trained from `initial` with the variant's keys: its scores, learning rates and parameters."""
    lr_file = directory / f"{name}.lr"
    config_py = "".join(f"{k} = {v!r}\n" for k, v in keys.items())
    try:
        log = returnn(python, directory, name, **(BASE | keys), learning_rate_file=str(lr_file),
                      import_model_train_epoch1=str(initial))
    except subprocess.CalledProcessError as e:  # RETURNN refuses the variant: netc's tests check why
        errors = re.findall(r"\b([A-Z]\w*Error: .*)$", re.sub(r"\x1b\[[0-9;]*m", "", e.stdout + e.stderr), re.MULTILINE)
        return {"config": keys, "config_py": config_py, "returnn_error": errors[-1] if errors else "failed"}
    train = re.findall(r"^epoch \d+ score: (\S+) error: (\S+)", log, re.MULTILINE)
    dev = re.findall(r"^dev: score (\S+) error (\S+)", log, re.MULTILINE)
    if len(train) != EPOCHS or len(dev) != EPOCHS:
        sys.exit(f"{name}: RETURNN printed {len(train)} train and {len(dev)} dev scores:\n{log[-3000:]}")
    # RETURNN's own file, one line per epoch: `  1: EpochData(learningRate=0.01, error={...}),`
    rates = {int(e): float(lr) for e, lr in re.findall(r"^\s*(\d+): EpochData\(learningRate=([^,]+),",
                                                        lr_file.read_text(), re.MULTILINE)}
    return {"config": keys, "config_py": config_py,
            "epochs": [{"learning_rate": rates[e], "train_score": float(t[0]), "train_error": float(t[1]),
                        "dev_score": float(d[0]), "dev_error": float(d[1])}
                       for e, (t, d) in enumerate(zip(train, dev), 1)],
            "final": params(python, directory / name / f"model.{EPOCHS:03d}")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returnn", metavar="PYTHON", required=True)
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--only", nargs="+", choices=sorted(VARIANTS), help="remake only these variants")
    args = parser.parse_args()
    old = json.loads(Path(args.output).read_text()) if args.only else None
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        returnn(args.returnn, directory, "init", **(BASE | {"learning_rate": 0.0, "num_epochs": 1}))
        initial = {k: float32_text(v) for k, v in params(args.returnn, directory / "init" / "model.001").items()}
        step = subprocess.run([args.returnn, "-c", "import sys, tensorflow as tf; "
                               "print(tf.train.load_checkpoint(sys.argv[1]).get_tensor('global_step'))",
                               str(directory / "init" / "model.001")], capture_output=True, text=True, check=True)
        if old is not None and old["initial"] != initial:
            sys.exit("RETURNN's initial parameters changed: remake all variants (without --only)")
        made = made_by("returnn_optim_goldens.py", args.returnn)
        variants = dict(old["variants"]) if old else {}
        for name in args.only or VARIANTS:
            result = run_variant(args.returnn, directory, name, VARIANTS[name], directory / "init" / "model.001")
            variants[name] = result
            if "returnn_error" in result:
                print(name, "RETURNN fails:", result["returnn_error"], flush=True)
                continue
            result["final"] = {k: float32_text(v) for k, v in result["final"].items() if k in initial}  # no slots
            print(name, [round(e["dev_score"], 5) for e in result["epochs"]],
                  [e["learning_rate"] for e in result["epochs"]], flush=True)
    golden = {"made_by": made,
              "base": DEMO | {"network": NETWORK} | BASE, "initial": initial,
              # RETURNN continues the global step stored in the checkpoint (accum_grad_multiple_step uses it)
              "initial_global_step": int(step.stdout.split()[-1]),
              "variants": {k: variants[k] for k in sorted(variants)}}
    with atomic_output(args.output, "golden file") as out:
        out.write_text(json.dumps(golden, separators=(",", ":")) + "\n")
    print(f"wrote {args.output}: {len(variants)} variants")


if __name__ == "__main__":
    main()
