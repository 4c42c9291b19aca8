"""Reading input files: positions of keys, the JSON traps, literal-only Python configs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from netc.ir import NetcError, read_file


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_json_positions_of_keys(tmp_path: Path) -> None:
    doc = read_file(write(tmp_path, "n.json", '{\n  "a": {"class": "rec",\n        "n_out": 3}}'))
    assert doc.where("a", "n_out") .line == 3 and doc.where("a", "n_out").col == 9
    assert doc.where("a", "nonexistent").line == 2, "falls back to the nearest parent"


def test_json_values_round_trip(tmp_path: Path) -> None:
    text = '{"a": {"x": [1, -2.5e3, true, false, null, "s\\u00e9\\n"], "y": {}}}'
    assert read_file(write(tmp_path, "n.json", text)).values == {
        "a": {"x": [1, -2500.0, True, False, None, "sé\n"], "y": {}}}


@pytest.mark.parametrize("text, message", [
    ('{"a": 1', "found the end of the file"),
    ('{"a": 1} x', "expected the end of the file"),
    ("{'a': 1}", "JSON strings need double quotes"),
    ('{"a": [1, 2,]}', "trailing comma before ']'"),
    ('{"a": Infinity}', "Infinity is not a number netc accepts"),
    ('{"a": True}', "Python literal 'True' in JSON"),
    ('{"a":\u00a01}', "U+00A0 NO-BREAK SPACE"),
    ("[" * 100 + "]" * 100, "nesting deeper than 64 levels"),
])
def test_json_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(NetcError, match=re.escape(message)):
        read_file(write(tmp_path, "n.json", text))


def test_python_config_reads_literals_and_notes_the_rest(tmp_path: Path) -> None:
    doc = read_file(write(tmp_path, "c.config", (
        "#!rnn.py\nimport os\nnum_inputs = 9\nnetwork = {'output': {'class': 'softmax', 'loss': 'ce'}}\n"
        "log_dir = os.path.join('a', 'b')\nprint('hi')\nlearning_rates = [0.1, -1e-3]\n")))
    assert doc.values["num_inputs"] == 9 and doc.values["learning_rates"] == [0.1, -0.001]
    assert doc.where("network", "output", "loss").line == 4
    for note in ("line 2: import", "log_dir (not a literal)", "line 6: expr"):
        assert note in doc.notes[0]


def test_overrides_replace_non_literal_values(tmp_path: Path) -> None:
    path = write(tmp_path, "c.config", "num_inputs = get()\nnetwork = {}\n")
    with pytest.raises(NetcError, match="'num_inputs' is not a literal"):
        read_file(path)
    assert read_file(path, overrides={"num_inputs": 5}).values["num_inputs"] == 5


def test_exec_config_runs_trusted_code(tmp_path: Path) -> None:
    path = write(tmp_path, "c.py", "n = 3\nnetwork = {f'l{i}': {'class': 'copy'} for i in range(n)}\n")
    assert set(read_file(path, exec_config=True).values["network"]) == {"l0", "l1", "l2"}
