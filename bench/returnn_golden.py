"""Write RETURNN's own training trajectory on the 12AX demo (without dropout) as a golden file for the tests.

RETURNN runs twice: with learning rate 0 for one epoch (its checkpoint is the initial parameters), then from
those parameters with the demo settings for 2 epochs. The file holds both parameter sets (netdict.md section 8
names, as RETURNN stores them) and the per-epoch scores; tests/trainer/test_returnn_parity.py trains netc from
the same initial parameters and must reach the same scores and parameters.
Usage: python bench/returnn_golden.py --returnn /path/to/python-with-returnn -o tests/trainer/data/returnn_12ax.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from train12ax import DEMO, RETURNN_ENV, write_returnn_config

EPOCHS = 2
NETWORK = {"fw0": {"class": "rec", "unit": "NativeLstm2", "n_out": 10, "from": "data"},
           "output": {"class": "softmax", "loss": "ce", "from": ["fw0"]}}
DUMP = """import json, sys, tensorflow as tf
reader = tf.train.load_checkpoint(sys.argv[1])
prefixes = tuple(sys.argv[2:])
names = [k for k in reader.get_variable_to_shape_map() if k.startswith(prefixes) and "Adam" not in k]
print(json.dumps({k: reader.get_tensor(k).tolist() for k in sorted(names)}))
"""


def returnn(python: str, directory: Path, name: str, **keys: object) -> str:
    config = write_returnn_config(directory / f"{name}.config",
                                  {"network": NETWORK, "model": str(directory / name / "model")} | keys)
    return subprocess.run([python, "-m", "returnn", str(config)], capture_output=True, text=True,
                          env=os.environ | RETURNN_ENV, check=True).stdout


def params(python: str, checkpoint: Path, layers: tuple[str, ...] = ("fw0", "output")) -> dict:
    """The parameters of `layers` in a RETURNN checkpoint (optimizer slots left out), read with TensorFlow."""
    prefixes = [f"{layer}/" for layer in layers]
    out = subprocess.run([python, "-c", DUMP, str(checkpoint), *prefixes], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def made_by(script: str, python: str) -> str:
    """The golden's `made_by` line: `script` run with the RETURNN and TensorFlow versions of `python`."""
    version = subprocess.run([python, "-c", "import returnn, tensorflow as tf; "
                              "print(returnn.__version__, tf.__version__)"],
                             capture_output=True, text=True, check=True).stdout.split()
    return f"bench/{script} with RETURNN {version[0]}, TensorFlow {version[1]} (CPU)"


def scores(log: str) -> list[dict[str, float]]:
    """RETURNN's per-epoch train and dev score and error, read from its log."""
    train = re.findall(r"^epoch \d+ score: (\S+) error: (\S+)", log, re.MULTILINE)
    dev = re.findall(r"^dev: score (\S+) error (\S+)", log, re.MULTILINE)
    return [{"train_score": float(t[0]), "train_error": float(t[1]), "dev_score": float(d[0]),
             "dev_error": float(d[1])} for t, d in zip(train, dev)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returnn", metavar="PYTHON", required=True)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        returnn(args.returnn, directory, "init", learning_rate=0.0, num_epochs=1)
        log = returnn(args.returnn, directory, "train", num_epochs=EPOCHS,
                      import_model_train_epoch1=str(directory / "init" / "model.001"))
        golden = {"made_by": made_by("returnn_golden.py", args.returnn),
                  "config": DEMO | {"network": NETWORK, "num_epochs": EPOCHS},
                  "epochs": scores(log),
                  "initial": params(args.returnn, directory / "init" / "model.001"),
                  "final": params(args.returnn, directory / "train" / f"model.{EPOCHS:03d}")}
    Path(args.output).write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {args.output}: {len(golden['epochs'])} epochs, {len(golden['final'])} parameters")


if __name__ == "__main__":
    main()
