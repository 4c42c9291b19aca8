"""A tester's findings on `netc train`'s reading of a config: each a miniature that failed before its fix."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_errors import run_cli


def test_train_reports_an_unusable_network_before_a_missing_data_file(tmp_path: Path) -> None:
    # F20: the missing train.hdf was reported first, and the network's error only after the file was made.
    (tmp_path / "c.config").write_text('#!rnn.py\ntrain = "train.hdf"\n'
                                       'network = {"output": {"class": "softmaxx", "from": "data"}}\n')
    code, stderr = run_cli(["train", "c.config"], tmp_path)
    assert code == 2 and "c.config:3:23, layer 'output', key 'class': unknown layer class 'softmaxx'" in stderr


def test_a_missing_hdf_file_names_the_config_key_and_its_position(tmp_path: Path) -> None:
    # F20: "netc: error: train.hdf: no such HDF file" named neither the key nor the line.
    (tmp_path / "c.config").write_text('#!rnn.py\ntrain = {"class": "HDFDataset", "files": ["a.hdf", "b.hdf"]}\n'
                                       'network = {"output": {"class": "softmax", "loss": "ce", "from": "data"}}\n')
    code, stderr = run_cli(["train", "c.config"], tmp_path)
    assert code == 2 and "c.config:2:1, key 'train': no such HDF file: 'a.hdf' (file 1 of 2," in stderr
    assert "hint: fix the path, or pass ++train FILE.hdf" in stderr
