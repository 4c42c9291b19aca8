"""Real config shapes (examples/real) end to end: each command reads only its keys, every key accounted for.

The reader's branch (issue 9 items 2-4) reads these files as RETURNN does; until then the JSON hybrid is
given with its `//` comment lines blanked and the demo-style config as the Document the safe evaluator makes
of it (values computed, `model` opaque).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from netc.data import HdfSeq, write_hdf
from netc.ir import Document, NetcError, read_file
from netc.trainer.loop import Trainer
from netc.trainer.setup import setup_of

from netc.cli import main, network_of
from tests.cli.test_errors import run_cli
from tests.helpers import EXAMPLES

REAL = EXAMPLES / "real"
HYBRID_WARNINGS = """\
netc: warning: ignored config keys (they steer only RETURNN itself: back end, processes, caches): multiprocessing
netc: warning: ignored config keys (their values are RETURNN's no-ops): truncation
netc: warning: ignored config keys (network description of RETURNN's line format; `network` replaces it): loss
"""


def hybrid(tmp_path: Path, **changes) -> dict:
    """The 2016 JSON hybrid config as values, its comment lines blanked (as RETURNN's json_remove_comments)."""
    text = (REAL / "theano_blstm_hybrid.config").read_text()
    config = json.loads("\n".join("" if line.lstrip().startswith("//") else line for line in text.splitlines()))
    return config | changes


def hdf(path: Path, num_inputs: int, classes: int, count: int = 4) -> str:
    rng = np.random.default_rng(0)
    seqs = [HdfSeq(f"s{i}", rng.standard_normal((3 + i, num_inputs)).astype(np.float32),
                   {"classes": rng.integers(0, classes, 3 + i).astype(np.int32)}) for i in range(count)]
    write_hdf(path, seqs, num_inputs, {"classes": classes})
    return str(path)


def test_json_hybrid_checks_without_its_rasr_data(tmp_path: Path) -> None:
    (tmp_path / "hybrid.json").write_text(json.dumps(hybrid(tmp_path)))
    result_code, stderr = run_cli(["check", "hybrid.json"], tmp_path)
    assert result_code == 0 and stderr == HYBRID_WARNINGS
    code, _ = run_cli(["compile", "hybrid.json", "-o", "h.onnx"], tmp_path)
    assert code == 0 and (tmp_path / "h.onnx").exists()


def test_json_hybrid_trains_with_hdf_data_given_on_the_command_line(tmp_path: Path) -> None:
    small = hybrid(tmp_path, num_inputs=3, num_outputs=5, num_epochs=2)
    for layer in small["network"].values():
        layer.pop("n_out", None) if layer["class"] == "softmax" else layer.update(n_out=4)
    (tmp_path / "hybrid.json").write_text(json.dumps(small))
    data = ["++train", hdf(tmp_path / "train.hdf", 3, 5), "++dev", hdf(tmp_path / "dev.hdf", 3, 5)]
    code, stderr = run_cli(["train", "hybrid.json"], tmp_path)
    assert code == 2 and "RASR (Sprint) data ('sprint:...') cannot be read by netc" in stderr
    assert "++train train.hdf ++dev dev.hdf" in stderr
    code, stderr = run_cli(["train", "hybrid.json", *data, "++device", "cpu"], tmp_path)
    assert code == 0, stderr
    assert stderr.startswith(HYBRID_WARNINGS)
    log = (tmp_path / "log" / "train.log").read_text().splitlines()
    assert [line.split(" score")[0] for line in log if "score" in line] == [
        "pretrain epoch 1", "dev:", "pretrain epoch 2", "dev:"]
    assert not any("not implemented" in line for line in log)
    assert (tmp_path / "net-model").is_dir() and (tmp_path / "newbob.data").exists()


def test_a_gpu_config_without_a_gpu_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    (tmp_path / "hybrid.json").write_text(json.dumps(hybrid(tmp_path, train=hdf(tmp_path / "t.hdf", 50, 4501))))
    code, stderr = run_cli(["train", "hybrid.json", "++dev", "t.hdf"], tmp_path)
    assert code == 2
    assert re.search(r"hybrid.json:\d+:\d+, key 'device': device 'gpu' asks for a GPU, but PyTorch finds no GPU",
                     stderr)


def demo_document() -> Document:
    """examples/real/demo_style.config as the safe evaluator reads it (loops run, imports opaque)."""
    return read_file(REAL / "demo_style.config")


def test_demo_style_config_checks_with_an_opaque_model_path() -> None:
    graph, warnings = network_of(demo_document(), None, None)
    assert graph.dims.num_inputs == 9 and graph.output.out_type.feature == 2
    assert warnings == [
        "ignored config keys (they steer only RETURNN itself: back end, processes, caches): use_tensorflow",
        "ignored config keys (RETURNN's own logging, debugging and profiling): tf_log_memory_usage",
        "config names neither RETURNN nor netc reads: setup_name, num_layers, src, i, direction, name",
        "not computed (netc does not run config code): model (line 34: calls get_login_username() imported from "
        "returnn.util.basic)"]


def test_demo_style_config_trains_once_its_model_path_is_given(tmp_path: Path) -> None:
    doc = demo_document()
    with pytest.raises(NetcError) as error:
        setup_of(doc)
    assert error.value.where.key == "model" and error.value.where.line == doc.values["model"].line
    assert "get_login_username() imported from returnn.util.basic" in error.value.message
    assert error.value.hint == "pass ++model VALUE, or --exec-config for a trusted config"
    given = Document(doc.path, doc.values | {"model": str(tmp_path / "model"), "num_epochs": 1,
                                             "train": {"class": "Task12AXDataset", "num_seqs": 100}})
    lines: list[str] = []
    Trainer(setup_of(given), log=lines.append, progress=False).run()
    assert lines[0].startswith("epoch 1 score: ") and lines[1].startswith("dev: score ")


def test_check_compile_and_dump_take_the_dims_from_the_training_hdf_file(tmp_path: Path) -> None:
    net = {"fw": {"class": "rec", "n_out": 4}, "output": {"class": "softmax", "loss": "ce", "from": "fw"}}
    # a bad training key: check, compile and dump-dataset never read it
    config = {"network": net, "train": hdf(tmp_path / "train.hdf", 3, 5), "learning_rate": "fast"}
    (tmp_path / "c.json").write_text(json.dumps(config))
    code, _ = run_cli(["check", "c.json"], tmp_path)
    assert code == 0
    code, _ = run_cli(["compile", "c.json", "-o", "m.onnx"], tmp_path)
    assert code == 0
    code, stderr = run_cli(["dump-dataset", "c.json", "-o", "d.hdf"], tmp_path)
    assert code == 0 and (tmp_path / "d.hdf").exists(), stderr
    (tmp_path / "c.json").write_text(json.dumps(config | {"train": "sprint:--config=x"}))
    code, stderr = run_cli(["check", "c.json"], tmp_path)
    assert code == 2
    assert "the input dim is unknown" in stderr and "the train dataset gives none: RASR (Sprint) data" in stderr


def test_check_and_compile_take_overrides_for_the_keys_they_need(tmp_path: Path) -> None:
    (tmp_path / "hybrid.json").write_text(json.dumps(hybrid(tmp_path)))
    code, _ = run_cli(["compile", "hybrid.json", "++num_inputs", "7", "-o", "h.onnx"], tmp_path)
    assert code == 0
    result = CliRunner().invoke(main, ["check", str(tmp_path / "hybrid.json"), "++num_inputs", "7"])
    assert result.exit_code == 0 and "[B, T_data, 7]" in result.stdout.splitlines()[2]


def test_check_and_compile_take_an_override_value_that_looks_like_an_option(tmp_path: Path) -> None:
    """`++key -1` is a pair, as for netc train, not click's "No such option '-1'"."""
    (tmp_path / "hybrid.json").write_text(json.dumps(hybrid(tmp_path)))
    for command in (["check"], ["compile", "-o", "h.onnx"]):
        code, stderr = run_cli([*command, "hybrid.json", "++num_inputs", "7", "++learning_rate", "-1e-3"], tmp_path)
        assert code == 0, stderr
