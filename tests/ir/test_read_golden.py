"""netc reads each config in examples/real/ as RETURNN reads it (golden files of bench/returnn_read.py).

Every key RETURNN's `Config.load_file` gives has the same value in netc's `read_file`, except the keys a safe
reading cannot compute (imports, the environment, the file system): those are opaque, and exactly those.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from netc.ir import NetcError, load_graph, read_file
from netc.ir.pyconfig import find_opaque
from netc.ir.read import Opaque

from tests.helpers import EXAMPLES, REPO

GOLDEN = Path(__file__).parent / "data" / "returnn_read"
CASES = sorted(GOLDEN.glob("*.json"))
# Keys whose value (or a part of it) comes from an import, the environment or the file system.
OPAQUE = {
    "demo_style.config": {"model"},
    "computed_paths.config": {"ext_prefix", "model", "data_dir", "train", "dev", "args", "load"},
    "legacy_imports.config": {"n_out", "user", "lr_wrap"},
    "env_dependent.config": {"debug", "num_epochs", "device"},
    "pretrain_function.config": {"pretrain"},
}
OPAQUE_WHEN_RUN = {"pretrain_function.config": {"pretrain"}}  # a dict holding a function is not data
# Keys netc has that RETURNN did not assign: assigned under a condition netc cannot decide.
NOT_IN_RETURNN = {"computed_paths.config": {"load"}}
RUNS_WITHOUT_RETURNN = ("helpers.config", "loops_update.config", "json_net_saved_as.config",
                        "json_2016_sampling.config", "theano_blstm_hybrid.config", "env_dependent.config",
                        "pretrain_function.config", "extern_data_module.py")


def golden(case: Path) -> dict[str, Any]:
    return json.loads(case.read_text())


def agrees(ours: Any, theirs: Any) -> bool:
    """Equal as JSON data (tuples are lists), an opaque part of ours standing for anything."""
    if isinstance(ours, Opaque):
        return True
    if isinstance(ours, dict):
        return isinstance(theirs, dict) and set(map(str, ours)) == set(theirs) and all(
            agrees(value, theirs[str(key)]) for key, value in ours.items())
    if isinstance(ours, (list, tuple)):
        return isinstance(theirs, list) and len(ours) == len(theirs) and all(map(agrees, ours, theirs))
    return type(ours) is type(theirs) and ours == theirs


def config_keys(theirs: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """RETURNN's data keys, and its keys holding modules, functions or objects."""
    data = {k: v for k, v in theirs.items() if not k.startswith("_") and k != "config"}
    objects = {k for k, v in data.items() if isinstance(v, str) and v.startswith("<not data")}
    return {k: v for k, v in data.items() if k not in objects}, objects


def check_against_returnn(name: str, values: dict[str, Any], theirs: dict[str, Any], opaque: set[str]) -> None:
    data, objects = config_keys(theirs)
    assert set(values) - set(data) - objects == NOT_IN_RETURNN.get(name, set()), "keys RETURNN does not have"
    assert {k for k in objects if k in values} <= opaque, "RETURNN's objects are opaque in netc"
    for key, value in data.items():
        assert key in values, f"{name}: netc lost the key {key!r}"
        assert agrees(values[key], value), f"{name}: {key!r} is {values[key]!r}, RETURNN reads {value!r}"
    found = {k for k, v in values.items() if find_opaque(v, lambda: None) is not None}
    assert found == opaque, f"{name}: opaque keys"


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_safe_reading_agrees_with_returnn(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # RETURNN read the files by these relative paths (`__file__`)
    expected = golden(case)
    name = expected["file"]
    theirs = expected["returnn"]
    doc = read_file(f"examples/real/{name}")
    if "error" in theirs:  # RETURNN cannot run it either (an import of the user's own code)
        assert name == "opaque_network.config" and "my_setup" in theirs["error"]
        assert doc.values["network"].reason == "calls make_network() imported from my_setup"
        return
    if theirs["line"]:
        assert doc.kind == "line" and not theirs["typed"]
        for key, strings in theirs["line"].items():
            ours = doc.values[key] if isinstance(doc.values[key], list) else [doc.values[key]]
            assert len(ours) == len(strings), key
            for item, text in zip(ours, strings):
                if isinstance(item, bool):
                    assert text.lower() == str(item).lower()
                elif isinstance(item, (int, float)):
                    assert type(item)(text) == item, (key, text)
                else:
                    assert item == text
        return
    assert doc.kind == ("json" if (EXAMPLES / "real" / name).read_text().lstrip().startswith("{") else "python")
    check_against_returnn(name, doc.values, theirs["typed"], OPAQUE.get(name, set()))


@pytest.mark.parametrize("name", RUNS_WITHOUT_RETURNN)
def test_exec_config_agrees_with_returnn(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    doc = read_file(f"examples/real/{name}", exec_config=True)
    check_against_returnn(name, doc.values, golden(GOLDEN / f"{name}.json")["returnn"]["typed"],
                          OPAQUE_WHEN_RUN.get(name, set()))


@pytest.mark.parametrize("name, layers", [
    ("demo_style.config", ["lstm0_fw", "lstm0_bw", "lstm1_fw", "lstm1_bw", "output"]),
    ("helpers.config", [f"lstm{i}_{d}" for i in range(3) for d in ("fw", "bw")] + ["output"]),
    ("loops_update.config", ["l0", "l1", "output"]),
    ("computed_paths.config", ["hidden", "output"]),
    ("legacy_imports.config", ["lstm", "output"]),
    ("pretrain_function.config", ["lstm0", "lstm1", "lstm2", "output"]),
    ("extern_data_module.py", ["ff0", "ff1", "output"]),
    ("env_dependent.config", ["h1", "h2", "output"]),
])
def test_computed_networks_build(name: str, layers: list[str]) -> None:
    graph = load_graph(EXAMPLES / "real" / name)
    assert sorted(node.name for node in graph.nodes) == sorted(layers)


def test_json_net_saved_as_config_builds() -> None:
    graph = load_graph(EXAMPLES / "real" / "json_net_saved_as.config", num_inputs=5, num_outputs=3)
    assert [node.name for node in graph.nodes] == ["lstm1", "lstm2", "output"]


def test_layer_errors_point_at_the_config_line_that_built_the_dict() -> None:
    doc = read_file(EXAMPLES / "real" / "demo_style.config")

    def at(*keys: str) -> tuple[int | None, int | None]:
        where = doc.where(*keys)
        return where.line, where.col

    assert at("network", "lstm1_bw", "n_out") == (27, 84)
    assert at("network", "lstm1_bw", "from") == (28, 70)
    assert at("network", "lstm1_bw") == (27, 17), "the key's position: the subscript"
    assert at("network", "output", "from") == (30, 56)
    assert at("model") == (34, 1)


@pytest.mark.parametrize("name, message", [
    ("line_format.config", "describes its net with hidden_size and hidden_type"),
    ("opaque_network.config", "calls make_network() imported from my_setup"),
    ("line_format_no_net.config", "cannot hold a `network` dict"),
])
def test_configs_netc_cannot_build_say_why(name: str, message: str) -> None:
    with pytest.raises(NetcError, match=re.escape(message)) as error:
        load_graph(EXAMPLES / "real" / name)
    assert error.value.where.file is not None and error.value.hint


def test_netc_check_prints_the_demo_style_net(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "netc", "check", str(EXAMPLES / "real" / "demo_style.config")],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()[2:] if line.strip()}
    assert {name: rows.get(name) for name in ("lstm0_fw", "lstm0_bw", "lstm1_fw", "lstm1_bw", "output")} == {
        "lstm0_fw": "rec", "lstm0_bw": "rec", "lstm1_fw": "rec", "lstm1_bw": "rec", "output": "softmax"}
    assert "model (line 34: calls get_login_username() imported from returnn.util.basic)" in result.stderr
