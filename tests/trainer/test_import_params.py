"""Starting from given parameters: `import_model_train_epoch1` and `preload_from_files`, with RETURNN's rules.

tests/trainer/data/returnn_import.json (bench/returnn_checkpoint.py) holds RETURNN's first epoch trained from the
RETURNN checkpoint tests/data/data/returnn_12ax.001, once imported with `import_model_train_epoch1` and once
with `preload_from_files` (`init_for_train`): netc started from the same file must print the same scores and
reach the same parameters. The rules (which parameters each key sets, what is missing, when it applies) are
checked on the parameters a Trainer starts from.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from netc.data.tf_checkpoint import load_tf_checkpoint
from netc.ir import NetcError
from netc.trainer.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint
from netc.trainer.loop import Trainer
from netc.trainer.setup import prepare

from netc.cli import main
from tests.helpers import ragged_batch, session
from tests.trainer.returnn_goldens import assert_params_equal

GOLDEN = json.loads((Path(__file__).parent / "data" / "returnn_import.json").read_text())
CKPT = str(Path(__file__).parents[1] / "data" / "data" / "returnn_12ax.001")
FILE = {k: v for k, v in load_tf_checkpoint(CKPT).items() if k != "global_step"}
NET = GOLDEN["config"]["network"]
TINY = {"train": {"class": "DummyDataset", "input_dim": 9, "output_dim": 2, "num_seqs": 2, "seq_len": 3},
        "num_inputs": 9, "num_outputs": 2, "network": NET, "num_epochs": 1, "device": "cpu"}


def write_config(directory: Path, config: dict) -> str:
    path = directory / "config.json"
    path.write_text(json.dumps(config | {"model": str(directory / "model")}))
    return str(path)


def starting_params(directory: Path, *overrides: str, **keys: object) -> dict[str, np.ndarray]:
    """The parameters a training of the tiny config starts its first epoch from."""
    trainer = Trainer(prepare(write_config(directory, TINY | keys), overrides), log=lambda line: None)
    assert trainer.restore() == 1
    return trainer.model.named_values()


def random_init(directory: Path) -> dict[str, np.ndarray]:
    (directory / "random").mkdir(exist_ok=True)
    return starting_params(directory / "random")


def assert_params(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)


def test_first_epoch_from_a_returnn_checkpoint_equals_returnns(tmp_path: Path) -> None:
    """Measured: scores within 3e-8, parameters within 6.6e-7 of RETURNN's (parameters up to 1.97 in size)."""
    config = write_config(tmp_path, GOLDEN["config"])
    overrides = ["++import_model_train_epoch1", CKPT]
    trainer = Trainer(prepare(config, overrides), log=lambda line: None, progress=False)
    trainer.run()
    expected = GOLDEN["import_model_train_epoch1"]
    for epoch, scores in enumerate(expected["epochs"], 1):
        got = trainer.control.epochs[epoch]["scores"]
        for name, value in scores.items():
            assert got[name] == pytest.approx(value, abs=2e-5), (epoch, name)
    assert_params_equal(trainer, expected)


def test_preload_for_training_starts_from_the_same_parameters_as_the_import(tmp_path: Path) -> None:
    """RETURNN trains the same epoch from either key (the golden file holds both runs); so does netc."""
    assert GOLDEN["preload_from_files"] == GOLDEN["import_model_train_epoch1"]
    got = starting_params(tmp_path, "++preload_from_files", repr({"start": {"filename": CKPT, "init_for_train": True}}))
    assert_params(got, FILE)


@pytest.mark.parametrize("rule", sorted(GOLDEN["rules"]))
def test_each_parameter_comes_from_the_file_returnn_takes_it_from(tmp_path: Path, rule: str) -> None:
    """Both keys set: RETURNN's choice per parameter between the preloaded file A and the imported file B."""
    files = {"A": CKPT, "B": str(tmp_path / "b.npz")}
    np.savez(files["B"], **{k: -v for k, v in FILE.items()})
    keys = GOLDEN["rules"][rule]["keys"]
    preloads = {name: opts | {"filename": files[opts["filename"]]} for name, opts in keys["preload_from_files"].items()}
    got = starting_params(tmp_path, preload_from_files=preloads, import_model_train_epoch1=files["B"])
    expected = GOLDEN["rules"][rule]["sources"]
    assert_params(got, {name: FILE[name] * (1 if source == "A" else -1) for name, source in expected.items()})


def test_import_starts_from_exactly_the_files_values_in_every_format(tmp_path: Path) -> None:
    np.savez(tmp_path / "p.npz", **FILE)
    save_checkpoint(str(tmp_path / "p.001.pt"), {"params": {k: torch.from_numpy(v) for k, v in FILE.items()}})
    for i, source in enumerate([CKPT, CKPT + ".index", str(tmp_path / "p.npz"), str(tmp_path / "p.001.pt")]):
        (tmp_path / str(i)).mkdir()
        assert_params(starting_params(tmp_path / str(i), "++import_model_train_epoch1", source), FILE)


def test_import_requires_every_parameter_unless_load_ignore_missing_vars(tmp_path: Path) -> None:
    partial = {k: v for k, v in FILE.items() if k != "output/b"}
    np.savez(tmp_path / "partial.npz", **partial, extra=np.zeros(3, np.float32))
    with pytest.raises(NetcError, match=r"1 parameters are not in .*partial.npz: 'output/b' \(2,\)") as caught:
        starting_params(tmp_path, import_model_train_epoch1=str(tmp_path / "partial.npz"))
    assert caught.value.where.key == "import_model_train_epoch1"
    got = starting_params(tmp_path, import_model_train_epoch1=str(tmp_path / "partial.npz"),
                          load_ignore_missing_vars=True)
    assert_params(got, partial | {"output/b": random_init(tmp_path)["output/b"]})


def test_import_refuses_mismatched_shapes(tmp_path: Path) -> None:
    np.savez(tmp_path / "bad.npz", **FILE | {"output/W": np.zeros((2, 10), np.float32)})
    with pytest.raises(NetcError, match=r"'output/W' has shape \(2, 10\) in the file, the network needs \(10, 2\)"):
        starting_params(tmp_path, import_model_train_epoch1=str(tmp_path / "bad.npz"))


def test_import_applies_only_to_a_training_that_starts(tmp_path: Path) -> None:
    """A training that resumes loads its checkpoint; start_epoch 1 beside checkpoints ignores the import."""
    Trainer(prepare(write_config(tmp_path, TINY)), log=lambda line: None, progress=False).run()
    trained = load_checkpoint(checkpoint_path(str(tmp_path / "model"), 1))["params"]
    trainer = Trainer(prepare(write_config(tmp_path, TINY | {"num_epochs": 2}),
                              ["++import_model_train_epoch1", CKPT]), log=lambda line: None)
    assert trainer.restore() == 2
    assert_params(trainer.model.named_values(), {k: v.numpy() for k, v in trained.items()})
    assert_params(starting_params(tmp_path, "++import_model_train_epoch1", CKPT, "++start_epoch", "1"),
                  random_init(tmp_path))


def test_preload_prefix_ignore_lists_and_mapping(tmp_path: Path) -> None:
    """CustomCheckpointLoader: the prefix selects and is removed; mapping serves names not in the file."""
    np.savez(tmp_path / "renamed.npz", **{"old/W": FILE["output/W"], "b": FILE["output/b"] + 1,
                                          "output/b": FILE["output/b"]})
    preload = {"x": {"filename": str(tmp_path / "renamed.npz"), "init_for_train": True, "prefix": "output/",
                     "var_name_mapping": {"W": "old/W", "b": "unused"}}}
    got = starting_params(tmp_path, preload_from_files=preload)
    assert_params(got, random_init(tmp_path) | {"output/W": FILE["output/W"], "output/b": FILE["output/b"] + 1})
    preload["x"] |= {"ignore_params": ["b"]}
    assert_params(starting_params(tmp_path, preload_from_files=preload),
                  random_init(tmp_path) | {"output/W": FILE["output/W"]})
    preload["x"] |= {"ignore_params": [], "ignore_params_prefixes": ["W", "b"]}
    with pytest.raises(NetcError, match="no parameter of the network is selected"):
        starting_params(tmp_path, preload_from_files=preload)


def test_preload_missing_ignore_missing_and_order(tmp_path: Path) -> None:
    """The first preload (by name) sets a parameter; the import sets only the rest."""
    np.savez(tmp_path / "out.npz", **{"output/W": FILE["output/W"] * 2})
    np.savez(tmp_path / "all.npz", **{k: v * 3 for k, v in FILE.items()})
    first = {"filename": str(tmp_path / "out.npz"), "init_for_train": True}
    with pytest.raises(NetcError, match=r"4 parameters are not in .*out.npz") as caught:
        starting_params(tmp_path, preload_from_files={"a": first})
    assert caught.value.where.key == "preload_from_files['a']"
    first["ignore_missing"] = True
    second = {"filename": str(tmp_path / "all.npz"), "init_for_train": True}
    got = starting_params(tmp_path, preload_from_files={"b": second, "a": first}, import_model_train_epoch1=CKPT)
    assert_params(got, {k: v * 3 for k, v in FILE.items()} | {"output/W": FILE["output/W"] * 2})
    got = starting_params(tmp_path, preload_from_files={"a": first}, import_model_train_epoch1=CKPT)
    assert_params(got, FILE | {"output/W": FILE["output/W"] * 2})
    only_set_already = second | {"ignore_params_prefixes": ["fw0/", "output/b"]}  # selects output/W only
    got = starting_params(tmp_path, preload_from_files={"a": first, "c": only_set_already})
    assert_params(got, random_init(tmp_path) | {"output/W": FILE["output/W"] * 2})


def test_preload_without_init_for_train_is_for_recognition(tmp_path: Path) -> None:
    lines: list[str] = []
    config = write_config(tmp_path, TINY | {"preload_from_files": {"r": {"filename": CKPT}}})
    trainer = Trainer(prepare(config), log=lines.append)
    trainer.restore()
    assert_params(trainer.model.named_values(), random_init(tmp_path))
    assert any("RETURNN loads it only when not training" in line for line in lines)


@pytest.mark.parametrize(("value", "message"), [
    ({"a": {"filename": "x", "init_for_trian": True}}, "unknown option 'init_for_trian'"),
    ({"a": {"init_for_train": True}}, "no 'filename'"),
    ({"a": {"filename": "x", "ignore_missing": "yes"}}, "option 'ignore_missing' has the wrong type"),
    ({"a": {"filename": "x", "custom_missing_load_func": None}}, "custom_missing_load_func is code"),
])
def test_bad_preload_options(tmp_path: Path, value: dict, message: str) -> None:
    with pytest.raises(NetcError, match=message) as caught:
        starting_params(tmp_path, preload_from_files=value)
    assert caught.value.where.line is not None


def test_compile_params_from_a_returnn_checkpoint_equals_the_npz_route(tmp_path: Path) -> None:
    net = tmp_path / "net.json"
    net.write_text(json.dumps({"network": NET, "num_inputs": 9, "num_outputs": 2}))
    np.savez(tmp_path / "p.npz", **FILE)
    x, lengths = ragged_batch(np.random.default_rng(0), [5, 1, 3], 9)
    outputs = []
    for params in [CKPT, str(tmp_path / "p.npz")]:
        model = tmp_path / f"{len(outputs)}.onnx"
        result = CliRunner().invoke(main, ["compile", str(net), "--params", params, "-o", str(model)])
        assert result.exit_code == 0, result.output
        ort = session(model)
        outputs.append(ort.run(None, {ort.get_inputs()[0].name: x, ort.get_inputs()[1].name: lengths}))
    for a, b in zip(*outputs):
        np.testing.assert_array_equal(a, b)


def test_damaged_or_missing_files_exit_2_with_the_file_named(tmp_path: Path) -> None:
    net = tmp_path / "net.json"
    net.write_text(json.dumps({"network": NET, "num_inputs": 9, "num_outputs": 2}))
    broken = tmp_path / "m.001"
    for suffix in (".index", ".data-00000-of-00001"):
        Path(str(broken) + suffix).write_bytes(Path(CKPT + suffix).read_bytes())
    data = Path(str(broken) + ".data-00000-of-00001")
    data.write_bytes(data.read_bytes()[:-8] + b"\0" * 8)
    for params, message in [(str(broken), "checksum mismatch in tensor"),
                            (str(tmp_path / "m.002"), "nor a TensorFlow checkpoint")]:
        result = CliRunner().invoke(main, ["compile", str(net), "--params", params, "-o", str(tmp_path / "o.onnx")])
        assert result.exit_code == 2 and message in result.output, result.output
        assert not (tmp_path / "o.onnx").exists()
    config = write_config(tmp_path, TINY)
    result = CliRunner().invoke(main, ["train", config, "++import_model_train_epoch1", str(broken)])
    assert result.exit_code == 2 and "checksum mismatch in tensor" in result.output, result.output


def test_a_misspelt_preload_option_is_located_in_a_python_config(tmp_path: Path) -> None:
    config = tmp_path / "train.config"
    lines = [f"{key} = {value!r}" for key, value in (TINY | {"model": str(tmp_path / "model")}).items()]
    config.write_text("#!rnn.py\n" + "\n".join(lines) + "\npreload_from_files = {\n"
                      "    'base': {'filename': 'x.npz', 'init_for_trian': True},\n}\n")
    result = CliRunner().invoke(main, ["train", str(config)])
    assert result.exit_code == 2
    assert f"{config}:{len(lines) + 3}:" in result.output and "unknown option 'init_for_trian'" in result.output
    assert "did you mean 'init_for_train'?" in result.output


def test_the_step_count_continues_from_the_imported_checkpoint(tmp_path: Path) -> None:
    """RETURNN restores `global_step` with the import; `accum_grad_multiple_step` counts from it."""
    expected = int(load_tf_checkpoint(CKPT)["global_step"])
    config = write_config(tmp_path, TINY | {"import_model_train_epoch1": CKPT})
    trainer = Trainer(prepare(config), log=lambda line: None)
    assert trainer.restore() == 1
    assert trainer.global_step == expected > 0
