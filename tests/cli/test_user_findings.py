"""What a new user found by trying to break netc from a fresh clone: each now ends in a located exit 2 or works."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from netc.data import HdfSeq, write_hdf

from netc.cli import main
from tests.cli.test_errors import run_cli
from tests.helpers import EXAMPLES

FF = EXAMPLES / "ff2.json"
DIMS = ["--num-inputs", "4", "--num-outputs", "3"]


def hdf(path: Path, count: int) -> Path:
    rng = np.random.default_rng(0)
    write_hdf(path, [HdfSeq(f"s{i}", rng.standard_normal((5, 4)).astype(np.float32), {}) for i in range(count)], 4, {})
    return path


def test_a_file_without_sequences_runs_to_a_file_without_sequences(tmp_path: Path) -> None:
    shutil.copy(FF, tmp_path / "n.json")
    assert run_cli(["compile", "n.json", "-o", "m.onnx", *DIMS], tmp_path)[0] == 0
    hdf(tmp_path / "none.hdf", 0)
    code, stderr = run_cli(["run", "m.onnx", "--data", "none.hdf", "-o", "out.hdf"], tmp_path)
    assert code == 0, stderr
    assert "0 sequences -> out.hdf" in stderr


def test_an_output_path_that_is_an_input_is_refused_and_the_input_kept(tmp_path: Path) -> None:
    shutil.copy(FF, tmp_path / "n.json")
    code, stderr = run_cli(["compile", "n.json", "-o", "n.json", *DIMS], tmp_path)
    assert code == 2 and "the output is the input file 'n.json'" in stderr
    assert json.loads((tmp_path / "n.json").read_text()) == json.loads(FF.read_text())
    assert run_cli(["compile", "n.json", "-o", "m.onnx", *DIMS], tmp_path)[0] == 0
    data = hdf(tmp_path / "d.hdf", 2).read_bytes()
    for command in (["run", "m.onnx", "--data", "d.hdf", "-o", "d.hdf"], ["prior", "m.onnx", "--data", "d.hdf",
                                                                             "-o", "m.onnx"]):
        code, stderr = run_cli(command, tmp_path)
        assert code == 2 and "the output is the input file" in stderr
    assert (tmp_path / "d.hdf").read_bytes() == data


def test_a_json_number_too_long_for_python_is_located(tmp_path: Path) -> None:
    (tmp_path / "n.json").write_text('{"output": {"class": "softmax", "n_out": 1' + "0" * 5000 + "}}")
    code, stderr = run_cli(["check", "n.json", "--num-inputs", "4"], tmp_path)
    assert code == 2 and "n.json:1:42: a number of 5001 characters" in stderr


def test_a_negative_seed_is_a_usage_error(tmp_path: Path) -> None:
    shutil.copy(FF, tmp_path / "n.json")
    code, stderr = run_cli(["compile", "n.json", "-o", "m.onnx", "--seed", "-1", *DIMS], tmp_path)
    assert code == 2 and "--seed" in stderr and not (tmp_path / "m.onnx").exists()


def test_info_on_an_empty_or_foreign_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "e.onnx").write_bytes(b"")
    code, stderr = run_cli(["info", "e.onnx"], tmp_path)
    assert code == 2 and "not a model compiled by netc" in stderr
    shutil.copy(FF, tmp_path / "n.json")
    assert run_cli(["compile", "n.json", "-o", "m.json", *DIMS], tmp_path)[0] == 0
    assert run_cli(["info", "m.json"], tmp_path)[0] == 0  # an ONNX model under another name is still read


TRAIN = {"network": {"output": {"class": "softmax", "loss": "ce"}}, "num_epochs": 1,
         "train": {"class": "Task12AXDataset", "num_seqs": 5}}


def test_an_empty_dataset_is_an_error_not_a_perfect_score(tmp_path: Path) -> None:
    config = TRAIN | {"model": str(tmp_path / "m" / "model"), "train": {"class": "Task12AXDataset", "num_seqs": 0}}
    (tmp_path / "c.json").write_text(json.dumps(config))
    code, stderr = run_cli(["train", "c.json"], tmp_path)
    assert code == 2 and "the train dataset has no sequences" in stderr


def test_an_unwritable_model_folder_is_an_error_before_the_first_epoch(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    (tmp_path / "c.json").write_text(json.dumps(TRAIN | {"model": str(tmp_path / "file" / "sub" / "model")}))
    result = CliRunner().invoke(main, ["train", str(tmp_path / "c.json")])
    assert result.exit_code == 2 and "cannot create the checkpoint directory" in result.stderr
    assert "epoch 1 score" not in result.stdout


def test_a_target_label_outside_the_classes_is_an_error_naming_the_sequence(tmp_path: Path) -> None:
    """CTC's kernel would corrupt memory on such a label, CE would raise an index error: both are refused."""
    rng = np.random.default_rng(0)
    seqs = [HdfSeq(f"utt-{i}", rng.standard_normal((6, 4)).astype(np.float32),
                   {"classes": np.array([1, 2, 9 if i == 2 else 0][:3], np.int32)}) for i in range(3)]
    write_hdf(tmp_path / "t.hdf", seqs, 4, {"classes": 10})
    for loss in ("ce", "ctc"):
        config = {"network": {"output": {"class": "softmax", "loss": loss}}, "num_epochs": 1, "num_inputs": 4,
                  "num_outputs": 3, "train": str(tmp_path / "t.hdf"), "model": str(tmp_path / loss / "model")}
        if loss == "ce":
            write_hdf(tmp_path / "ce.hdf", [HdfSeq(s.tag, s.features, {"classes": np.resize(s.targets["classes"], 6)})
                                            for s in seqs], 4, {"classes": 10})
            config["train"] = str(tmp_path / "ce.hdf")
        (tmp_path / f"{loss}.json").write_text(json.dumps(config))
        code, stderr = run_cli(["train", f"{loss}.json"], tmp_path)
        assert code == 2, stderr
        assert "sequence 'utt-2': 'classes' holds label 9, outside the network's 3 classes 0..2" in stderr


def test_compile_says_what_it_wrote_and_where_its_parameters_come_from(tmp_path: Path) -> None:
    """`netc compile` printed nothing on success: a user could not tell that it worked, nor that a model
    compiled without --params holds random initial parameters."""
    shutil.copy(FF, tmp_path / "n.json")
    code, stderr = run_cli(["compile", "n.json", "-o", "m.onnx", *DIMS], tmp_path)
    assert code == 0, stderr
    size = (tmp_path / "m.onnx").stat().st_size / 1e6
    assert f"netc: wrote m.onnx: {size:.1f} MB, opset 17, random initial parameters (--seed 42;" in stderr
    code, stderr = run_cli(["compile", "n.json", "-o", "m2.onnx", "--opset", "14", *DIMS], tmp_path)
    assert code == 0 and "wrote m2.onnx:" in stderr and "opset 14" in stderr
