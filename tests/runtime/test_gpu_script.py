"""bench/gpu.sh's CPU-side logic (it has not run on a GPU here): arguments, joining split wheels, the plan."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.helpers import REPO

SCRIPT = REPO / "bench" / "gpu.sh"


def gpu_sh(*args):
    return subprocess.run(["bash", str(SCRIPT), "--python", sys.executable, *args], capture_output=True, text=True,
                          timeout=120)


def make_wheels(folder, drop_part=None):
    """A wheel split in 3 parts (as `split` names them) and a whole one."""
    folder.mkdir()
    big = folder / "onnxruntime_gpu-9.9-cp312-cp312-linux_x86_64.whl"
    with zipfile.ZipFile(big, "w") as z:
        z.writestr("onnxruntime/__init__.py", "x = 1\n" * 5000)
    data = big.read_bytes()
    big.unlink()
    third = len(data) // 3 + 1
    for k, suffix in enumerate(("aa", "ab", "ac")):
        if suffix != drop_part:
            (folder / f"{big.name}.part-{suffix}").write_bytes(data[k * third:(k + 1) * third])
    with zipfile.ZipFile(folder / "extra-1.0-py3-none-any.whl", "w") as z:
        z.writestr("extra.py", "")
    return data


def test_dry_run_joins_split_wheels_and_prints_the_plan(tmp_path):
    make_wheels(tmp_path / "w")
    result = gpu_sh("--dry-run", "--wheels", str(tmp_path / "w"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "joined onnxruntime_gpu-9.9-cp312-cp312-linux_x86_64.whl from 3 parts" in out
    assert "wheels ready: extra-1.0-py3-none-any.whl onnxruntime_gpu-9.9-cp312-cp312-linux_x86_64.whl" in out
    plan = [line for line in out.splitlines() if line.startswith("would run:")]
    assert len(plan) == 3
    assert "pip install -q --no-index --no-deps" in plan[0] and plan[0].endswith(str(REPO))
    assert "-m pytest -q -p no:cacheprovider -m gpu tests" in plan[1]
    assert "bench/gpu.py --device cuda" in plan[2]
    assert all(f"timeout {s}" in line for s, line in zip((90, 150, 220), plan)) and 90 + 150 + 220 < 8 * 60


def test_a_missing_part_is_reported(tmp_path):
    make_wheels(tmp_path / "w", drop_part="ab")
    result = gpu_sh("--dry-run", "--wheels", str(tmp_path / "w"))
    assert result.returncode == 1
    assert "joined from 2 parts is not a whole wheel (a part missing or cut short?)" in result.stderr


def test_unknown_arguments_exit_2():
    result = gpu_sh("--frobnicate")
    assert result.returncode == 2 and "unknown argument '--frobnicate'" in result.stderr
    assert "Usage: bench/gpu.sh" in result.stderr
