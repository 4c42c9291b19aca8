"""Write a small RETURNN TensorFlow checkpoint and RETURNN's training from it, as test files.

RETURNN trains the 12AX demo net (without dropout) for one epoch; its checkpoint `model.001` (`.index` and
`.data-00000-of-00001`) is kept as tests/data/data/returnn_12ax.001.*, and TensorFlow's own reading of it
(`tf.train.load_checkpoint`: every tensor's dtype, shape and values) as returnn_12ax.001.json, for the reader
test. RETURNN then trains one more epoch from that checkpoint twice, once with `import_model_train_epoch1` and
once with `preload_from_files` (`init_for_train`); tests/trainer/data/returnn_import.json holds both runs'
scores and final parameters, which `netc train ++import_model_train_epoch1 PREFIX` must reproduce, and, for a
few combinations of both keys (RULES), which file RETURNN took each starting parameter from.
A second checkpoint, `dtypes.*`, is written by TensorFlow directly (tf.compat.v1 Saver): float64, int32,
int64, bool and string tensors, scalars, an empty tensor and 400 variables, so that the index spans several
blocks. String values are written as hex in the JSON files.
Usage: python bench/returnn_checkpoint.py --returnn /path/to/python-with-returnn
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from returnn_golden import NETWORK, made_by, returnn, scores
from train12ax import DEMO

REPO = Path(__file__).resolve().parents[1]
READER_DATA = REPO / "tests" / "data" / "data"
TRAINER_DATA = REPO / "tests" / "trainer" / "data"
DUMP = """import json, sys, numpy as np, tensorflow as tf
reader = tf.train.load_checkpoint(sys.argv[1])
def value(t):
    return np.vectorize(lambda b: b.hex(), otypes=[str])(t).tolist() if t.dtype.kind in "OSU" else t.tolist()
dtypes = reader.get_variable_to_dtype_map()
print(json.dumps({k: {"dtype": dtypes[k].name, "shape": list(reader.get_tensor(k).shape),
                      "value": value(reader.get_tensor(k))} for k in sorted(dtypes)}))
"""
WRITE_DTYPES = """import sys, numpy as np, tensorflow as tf
tf.compat.v1.disable_eager_execution()
values = {"f64": np.arange(6, dtype=np.float64).reshape(2, 3) / 7, "i32": np.array([-3, 0, 2**31 - 1], np.int32),
          "i64": np.array(2**40, np.int64), "flags": np.array([True, False, True]),
          "words": np.array([b"", b"tensor", "\\u00fcber".encode()], object), "empty": np.zeros((0, 4), np.float32),
          "f32": np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 4)}
values |= {f"layer{i:03d}/rec/W_re": np.float32(i) for i in range(400)}
variables = [tf.compat.v1.Variable(v, name=k) for k, v in values.items()]
with tf.compat.v1.Session() as session:
    session.run(tf.compat.v1.global_variables_initializer())
    tf.compat.v1.train.Saver(variables).save(session, sys.argv[1], write_meta_graph=False)
"""


def dump(python: str, prefix: Path) -> dict:
    out = subprocess.run([python, "-c", DUMP, str(prefix)], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def keep(prefix: Path, name: str, python: str) -> None:
    """Copy a checkpoint's .index and .data files under `name`, with TensorFlow's reading of it."""
    for file in prefix.parent.glob(prefix.name + ".*"):
        suffix = file.name[len(prefix.name):]
        if suffix == ".index" or suffix.startswith(".data-"):
            shutil.copyfile(file, READER_DATA / (name + suffix))
    (READER_DATA / f"{name}.json").write_text(json.dumps(dump(python, prefix)) + "\n")


# Which file each parameter comes from when both keys are set: RETURNN runs with learning rate 0 (its checkpoint
# holds the starting parameters) from the preloaded file "A" (the checkpoint above) and the imported file "B"
# (a random initialisation).
RULES = {
    "preload_wins_ignore_params": {
        "preload_from_files": {"p": {"filename": "A", "init_for_train": True, "ignore_params": ["output/b"]}}},
    "prefix_mapping_ignore_missing": {
        "preload_from_files": {"p": {"filename": "A", "init_for_train": True, "prefix": "output/",
                                     "var_name_mapping": {"W": "output/W"}, "ignore_missing": True}}},
    "preload_not_for_training": {"preload_from_files": {"p": {"filename": "A"}}},
}


def sources(python: str, directory: Path, name: str, keys: dict, files: dict[str, Path]) -> dict[str, str]:
    """RETURNN's starting parameters under `keys` (+ import of B): each one's source, "A" or "B"."""
    def fill(value: object) -> object:
        if isinstance(value, dict):
            return {k: str(files[v]) if k == "filename" else fill(v) for k, v in value.items()}
        return value

    returnn(python, directory, name, num_epochs=1, learning_rate=0.0, import_model_train_epoch1=str(files["B"]),
            **fill(keys))
    got = parameters(python, directory / name / "model.001")
    given = {label: parameters(python, file) for label, file in files.items()}
    return {param: next(label for label, values in given.items() if values[param] == value)
            for param, value in got.items()}


def parameters(python: str, prefix: Path) -> dict:
    return {k: v["value"] for k, v in dump(python, prefix).items() if k.startswith(tuple(NETWORK))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returnn", metavar="PYTHON", required=True)
    args = parser.parse_args()
    python = args.returnn
    READER_DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        returnn(python, directory, "first", num_epochs=1)
        start = directory / "first" / "model.001"
        keep(start, "returnn_12ax.001", python)
        imported = returnn(python, directory, "imported", num_epochs=1, import_model_train_epoch1=str(start))
        preloaded = returnn(python, directory, "preloaded", num_epochs=1,
                            preload_from_files={"start": {"filename": str(start), "init_for_train": True}})
        returnn(python, directory, "random", num_epochs=1, learning_rate=0.0)
        files = {"A": start, "B": directory / "random" / "model.001"}
        rules = {name: {"keys": keys, "sources": sources(python, directory, name, keys, files)}
                 for name, keys in RULES.items()}
        subprocess.run([python, "-c", WRITE_DTYPES, str(directory / "dtypes")], check=True, capture_output=True)
        keep(directory / "dtypes", "dtypes", python)
        golden = {"made_by": made_by("returnn_checkpoint.py", python),
                  "config": DEMO | {"network": NETWORK, "num_epochs": 1},
                  "import_model_train_epoch1": {"epochs": scores(imported),
                                                "final": parameters(python, directory / "imported" / "model.001")},
                  "preload_from_files": {"epochs": scores(preloaded),
                                         "final": parameters(python, directory / "preloaded" / "model.001")},
                  "rules": rules}
    (TRAINER_DATA / "returnn_import.json").write_text(json.dumps(golden, indent=1) + "\n")
    print(json.dumps({k: v.get("epochs", v) for k, v in golden.items() if k not in ("made_by", "config")}, indent=1))


if __name__ == "__main__":
    main()
