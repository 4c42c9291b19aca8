"""Every class of bad input fails with exit code 2 and one clear, located message (golden files)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from netc.cli import main
from tests.helpers import EXAMPLES

BAD = Path(__file__).parent / "bad"
CASES = sorted(p.name for p in BAD.iterdir() if p.suffix in (".json", ".config"))


def run_cli(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run the CLI in-process from `cwd`; any exception other than an exit is a test failure."""
    old = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, args, catch_exceptions=True)
    finally:
        os.chdir(old)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stderr


@pytest.mark.parametrize("name", CASES)
def test_bad_input_gives_its_golden_message(name: str, tmp_path: Path) -> None:
    shutil.copy(BAD / name, tmp_path / name)
    out = tmp_path / "model.onnx"
    code, stderr = run_cli(["compile", name, "-o", str(out), "--num-inputs", "4", "--num-outputs", "6"], tmp_path)
    expected = (BAD / name).with_suffix(".err").read_text()
    assert code == 2
    assert stderr == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == [name], "no output or temporary file is left"


def test_config_code_is_never_executed(tmp_path: Path) -> None:
    shutil.copy(BAD / "evil.config", tmp_path / "evil.config")
    run_cli(["check", "evil.config"], tmp_path)
    assert not (tmp_path / "PWNED").exists()


def test_shipped_bad_example_names_the_minus_sign(tmp_path: Path) -> None:
    code, stderr = run_cli(["compile", str(EXAMPLES / "bad" / "seq2seq_as_published.json"), "-o",
                            str(tmp_path / "m.onnx"), "--num-inputs", "40", "--num-outputs", "1000"], tmp_path)
    assert code == 2
    assert "seq2seq_as_published.json:2:52: U+2212 MINUS SIGN '−' is not valid JSON" in stderr
    assert "hint: replace it with -" in stderr
    assert not (tmp_path / "m.onnx").exists()


def test_missing_input_dim_says_which_option_sets_it(tmp_path: Path) -> None:
    code, stderr = run_cli(["check", str(EXAMPLES / "ff2.json")], tmp_path)
    assert code == 2
    assert "the input dim is unknown" in stderr and "--num-inputs" in stderr


def test_missing_target_dim_says_which_option_sets_it(tmp_path: Path) -> None:
    code, stderr = run_cli(["check", str(EXAMPLES / "ff2.json"), "--num-inputs", "40"], tmp_path)
    assert code == 2
    assert "layer 'output', key 'n_out': the number of classes of target 'classes' is unknown" in stderr
    assert "--num-outputs" in stderr


def write_params(path: Path, **arrays: np.ndarray) -> None:
    np.savez(path, **arrays)


@pytest.mark.parametrize("params, expected", [
    ({"output/W": np.zeros((40, 1000), np.float32)},
     ["missing 'output/b' (expected shape (1000,))", "missing 'fw1/W' (expected shape (40, 500))"]),
    ({"fw1/W": np.zeros((41, 500)), "fw1/b": np.zeros(500), "fw2/W": np.zeros((500, 500)), "fw2/b": np.zeros(500),
      "output/W": np.zeros((500, 1000)), "output/b": np.zeros(1000), "extra/W": np.zeros(3)},
     ["'fw1/W' has shape (41, 500), expected (40, 500)", "unexpected 'extra/W' (shape (3,))"]),
])
def test_mismatched_params_are_reported_by_name_and_shape(tmp_path: Path, params: dict, expected: list[str]) -> None:
    write_params(tmp_path / "p.npz", **params)
    code, stderr = run_cli(["compile", str(EXAMPLES / "ff2.json"), "--num-inputs", "40", "--num-outputs", "1000",
                            "--params", "p.npz", "-o", "m.onnx"], tmp_path)
    assert code == 2
    for line in expected:
        assert line in stderr
    assert not (tmp_path / "m.onnx").exists()


def test_params_file_that_is_not_npz(tmp_path: Path) -> None:
    (tmp_path / "p.npz").write_bytes(b"not a zip file")
    code, stderr = run_cli(["compile", str(EXAMPLES / "ff2.json"), "--num-inputs", "40", "--num-outputs", "1000",
                            "--params", "p.npz", "-o", "m.onnx"], tmp_path)
    assert code == 2
    assert "p.npz: not a readable .npz parameter file" in stderr


def test_pickled_npz_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "p.npz", **{"output/W": np.array([object()], dtype=object)})
    code, stderr = run_cli(["compile", str(EXAMPLES / "ff2.json"), "--num-inputs", "40", "--num-outputs", "1000",
                            "--params", "p.npz", "-o", "m.onnx"], tmp_path)
    assert code == 2
    assert "not a readable .npz parameter file" in stderr


def test_unwritable_output_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    code, stderr = run_cli(["compile", str(EXAMPLES / "ff2.json"), "--num-inputs", "40", "--num-outputs", "1000",
                            "-o", str(tmp_path / "no" / "such" / "dir" / "m.onnx")], tmp_path)
    assert code == 2
    assert "cannot write the output" in stderr


def test_real_process_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"output": {"class": "softmax", "n out": 3}}')
    proc = subprocess.run([sys.executable, "-m", "netc", "compile", str(bad), "-o", str(tmp_path / "m.onnx"),
                           "--num-inputs", "3"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "key 'n out': unknown option" in proc.stderr and "did you mean 'n_out'?" in proc.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_missing_torch_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    """torch is optional (the train extra): without it, reading a checkpoint says what to install."""
    (tmp_path / "m.pt").write_bytes(b"x")
    code = (
        "import importlib.machinery, importlib.util\n"
        "def find_spec(name, package=None):  # as if torch were not installed\n"
        "    return None if name == 'torch' else importlib.machinery.PathFinder.find_spec(name)\n"
        "importlib.util.find_spec = find_spec\n"
        "from netc.cli import main\n"
        f"main(['compile', {str(EXAMPLES / 'ff2.json')!r}, '-o', 'm.onnx', '--num-inputs', '4', '--num-outputs', '5',"
        " '--params', 'm.pt'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "reading a .pt checkpoint needs PyTorch" in proc.stderr and "pip install torch==2.13.0" in proc.stderr
