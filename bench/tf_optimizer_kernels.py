"""TensorFlow's optimizer kernels on fixed data, as golden file for netc's per-parameter update functions.

RETURNN TF's optimizers are TF's `ResourceApply*` kernels (its NadamOptimizer is ApplyAdam with
use_nesterov, which RETURNN 1.2026 cannot build on TF 2.21: it imports the removed `training_ops`). This
runs each kernel for 4 steps on a random float32 variable with random gradients and records the variable
after every step; tests/trainer/test_optim.py runs netc's `TfOptimizer` on the same data.
Usage: python bench/tf_optimizer_kernels.py --returnn /path/to/python-with-tensorflow \
           -o tests/trainer/data/tf_optimizer_kernels.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from train12ax import RETURNN_ENV

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from netc.ir.files import atomic_output  # noqa: E402

# kind, TF options (netc's names: trainer/config.py OPTIMIZER_OPTIONS), learning rate
CASES = [
    ("sgd", {}, 0.1),
    ("momentum", {"momentum": 0.9, "use_nesterov": False}, 0.1),
    ("momentum", {"momentum": 0.8, "use_nesterov": True}, 0.1),
    ("adam", {"beta1": 0.8, "beta2": 0.99, "epsilon": 1e-3, "nesterov": False}, 0.1),
    ("nadam", {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-3, "nesterov": True}, 0.1),
    ("nadam", {"beta1": 0.7, "beta2": 0.9, "epsilon": 1e-16, "nesterov": True}, 0.05),
    ("adadelta", {"rho": 0.95, "epsilon": 1e-4}, 1.0),
    ("adagrad", {"initial_accumulator_value": 0.1}, 0.1),
    ("rmsprop", {"decay": 0.9, "momentum": 0.0, "epsilon": 1e-3, "centered": False}, 0.1),
    ("rmsprop", {"decay": 0.7, "momentum": 0.5, "epsilon": 1e-3, "centered": True}, 0.1),
]
STEPS = 4
SCRIPT = """import json, sys, numpy as np, tensorflow as tf
raw = tf.raw_ops
out = []
for kind, o, lr in json.loads(sys.argv[1]):
    rng = np.random.default_rng(len(out))
    var0 = rng.standard_normal((3, 4)).astype(np.float32)
    grads = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(int(sys.argv[2]))]
    var = tf.Variable(var0)
    slot = lambda value: tf.Variable(np.full((3, 4), value, np.float32))
    a, b, c = slot(0.0), slot(0.0), slot(0.0)
    if kind == "adagrad":
        a = slot(o["initial_accumulator_value"])
    if kind == "rmsprop":
        a = slot(1.0)
    f = np.float32
    p1, p2 = f(1), f(1)
    trajectory = []
    for g in grads:
        if kind == "sgd":
            raw.ResourceApplyGradientDescent(var=var.handle, alpha=f(lr), delta=g)
        elif kind == "momentum":
            raw.ResourceApplyMomentum(var=var.handle, accum=a.handle, lr=f(lr), grad=g, momentum=f(o["momentum"]),
                                      use_nesterov=o["use_nesterov"])
        elif kind in ("adam", "nadam"):
            p1, p2 = p1 * f(o["beta1"]), p2 * f(o["beta2"])
            raw.ResourceApplyAdam(var=var.handle, m=a.handle, v=b.handle, beta1_power=p1, beta2_power=p2, lr=f(lr),
                                  beta1=f(o["beta1"]), beta2=f(o["beta2"]), epsilon=f(o["epsilon"]), grad=g,
                                  use_nesterov=o["nesterov"])
        elif kind == "adadelta":
            raw.ResourceApplyAdadelta(var=var.handle, accum=a.handle, accum_update=b.handle, lr=f(lr),
                                      rho=f(o["rho"]), epsilon=f(o["epsilon"]), grad=g)
        elif kind == "adagrad":
            raw.ResourceApplyAdagrad(var=var.handle, accum=a.handle, lr=f(lr), grad=g)
        elif o["centered"]:
            raw.ResourceApplyCenteredRMSProp(var=var.handle, mg=c.handle, ms=a.handle, mom=b.handle, lr=f(lr),
                                             rho=f(o["decay"]), momentum=f(o["momentum"]),
                                             epsilon=f(o["epsilon"]), grad=g)
        else:
            raw.ResourceApplyRMSProp(var=var.handle, ms=a.handle, mom=b.handle, lr=f(lr), rho=f(o["decay"]),
                                     momentum=f(o["momentum"]), epsilon=f(o["epsilon"]), grad=g)
        trajectory.append(var.numpy().tolist())
    out.append({"kind": kind, "options": o, "lr": lr, "initial": var0.tolist(),
                "grads": [g.tolist() for g in grads], "after": trajectory})
print(json.dumps({"tensorflow": tf.__version__, "cases": out}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--returnn", metavar="PYTHON", required=True, help="a Python with TensorFlow")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    result = subprocess.run([args.returnn, "-c", SCRIPT, json.dumps(CASES), str(STEPS)], capture_output=True, text=True,
                            env=os.environ | RETURNN_ENV, check=True)
    golden = json.loads(result.stdout.strip().splitlines()[-1])
    golden["made_by"] = f"bench/tf_optimizer_kernels.py with TensorFlow {golden.pop('tensorflow')} (CPU)"
    with atomic_output(args.output, "golden file") as out:
        out.write_text(json.dumps(golden, separators=(",", ":")) + "\n")
    print(f"wrote {args.output}: {len(golden['cases'])} cases")


if __name__ == "__main__":
    main()
