"""Reading input files: kinds by content, positions of keys, the JSON traps, Python configs, --exec-config."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from netc.ir import NetcError, load_graph, read_file
from netc.ir.read import Opaque, read_python_config


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


def test_python_config_is_evaluated_and_opaque_values_say_why(tmp_path: Path) -> None:
    doc = read_file(write(tmp_path, "c.config", (
        "#!rnn.py\nimport os\nnum_inputs = 9\nnetwork = {'output': {'class': 'softmax', 'loss': 'ce'}}\n"
        "log_dir = os.path.join('a', 'b')\nprint('hi')\nlearning_rates = [0.1, -1e-3]\nhome = os.environ['HOME']\n")))
    assert doc.kind == "python"
    assert doc.values["num_inputs"] == 9 and doc.values["learning_rates"] == [0.1, -0.001]
    assert doc.values["log_dir"] == "a/b" and "os" not in doc.values
    assert doc.where("network", "output", "loss").line == 4
    assert doc.values["home"] == Opaque(8, 8, "reads os.environ (the environment)")
    assert "home (line 8: reads os.environ (the environment))" in doc.warnings()[0]


def test_read_file_keeps_opaque_values_and_overrides_replace_them(tmp_path: Path) -> None:
    path = write(tmp_path, "c.config", "#!rnn.py\nnum_inputs = get()\nnetwork = {}\n")
    assert isinstance(read_file(path).values["num_inputs"], Opaque), "each command decides what it needs"
    assert read_file(path, overrides={"num_inputs": 5}).values["num_inputs"] == 5


@pytest.mark.parametrize("name, text, kind", [
    ("n.config", '{"a": 1}', "json"),
    ("n.config", '\n\n  {"a": 1}', "json"),
    ("n.config", "#!rnn.py\na = 1\n", "python"),
    ("n.config", "\n  #!/usr/bin/env python\na = 1\n", "python"),
    ("n.py", "a = 1\n", "python"),
    ("n.py", '{"a": 1}', "python"),
    ("n.config", "a 1\n", "line"),
    ("n", "# comment\na 1\n", "line"),
    ("n.json", '{"a": 1}', "json"),
])
def test_file_kind_by_content_as_returnn(tmp_path: Path, name: str, text: str, kind: str) -> None:
    assert read_file(write(tmp_path, name, text)).kind == kind


def test_json_comments_are_blanked_and_positions_stay(tmp_path: Path) -> None:
    text = ('{\n// a comment line with "quotes" and {braces}\n"a": {"n_out": 3}, // after a value\n'
            '/* a block\n comment */ "b": "http://x//y", "c": "/* not a comment */"\n}')
    doc = read_file(write(tmp_path, "n.config", text))
    assert doc.kind == "json"
    assert doc.values == {"a": {"n_out": 3}, "b": "http://x//y", "c": "/* not a comment */"}
    assert (doc.where("a", "n_out").line, doc.where("a", "n_out").col) == (3, 7)
    assert (doc.where("b").line, doc.where("b").col) == (5, 13)


def test_line_format_values_are_typed_as_returnns_readers(tmp_path: Path) -> None:
    doc = read_file(write(tmp_path, "c.config", (
        "# comment\ntask train\nnum_inputs 40  # trailing comment\nlearning_rate 1e-3\nadam true\n"
        "learning_rates 0.1,0.05\nhidden_type forward,lstm\nmodel net-model/network\nsave_interval -1\n"
        "log ,log.txt\n")))
    assert doc.kind == "line"
    assert doc.values == {"task": "train", "num_inputs": 40, "learning_rate": 0.001, "adam": True,
                          "learning_rates": [0.1, 0.05], "hidden_type": ["forward", "lstm"],
                          "model": "net-model/network", "save_interval": -1, "log": ",log.txt"}
    assert (doc.where("adam").line, doc.where("adam").col) == (5, 1)


@pytest.mark.parametrize("text, hint", [
    ("num_inputs = 40\n", "#!rnn.py"),
    ("import os\nnetwork = {}\n", "#!rnn.py"),
    ("lonely\n", "key value"),
    ("\ufeff#!rnn.py\nnetwork = {}\n", "byte-order mark"),
])
def test_line_format_refuses_lines_it_cannot_read(tmp_path: Path, text: str, hint: str) -> None:
    with pytest.raises(NetcError, match="line format") as error:
        read_file(write(tmp_path, "c.config", text))
    assert error.value.where.line is not None and hint in (error.value.hint or "")


def test_line_format_config_cannot_give_a_network(tmp_path: Path) -> None:
    path = write(tmp_path, "c.config", "num_inputs 3\nnum_outputs 2\n")
    with pytest.raises(NetcError, match="cannot hold a `network` dict"):
        load_graph(path)


def test_json_net_saved_as_config_builds(tmp_path: Path) -> None:
    path = write(tmp_path, "x.config", '{"output": {"class": "softmax", "loss": "ce", "from": "data"}}')
    assert [n.name for n in load_graph(path, 4, 3).nodes] == ["output"]


def test_opaque_layer_value_is_a_located_error_naming_layer_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "c.config", (
        "#!rnn.py\nfrom x import dim\nnetwork = {\n 'output': {'class': 'softmax', 'loss': 'ce',\n"
        "   'n_out': dim * 2}}\n"))
    with pytest.raises(NetcError, match=re.escape("dim imported from x")) as error:
        load_graph(path, 3, 4)
    where = error.value.where
    assert (where.line, where.col, where.layer, where.key) == (5, 13, "output", "n_out")
    assert "--exec-config" in (error.value.hint or "")


def test_python_config_without_network(tmp_path: Path) -> None:
    with pytest.raises(NetcError, match="assigns no 'network'"):
        load_graph(write(tmp_path, "c.py", "num_inputs = 3\n"))


def test_exec_config_runs_trusted_code(tmp_path: Path) -> None:
    path = write(tmp_path, "c.py", "n = 3\nnetwork = {f'l{i}': {'class': 'copy'} for i in range(n)}\n")
    assert set(read_file(path, exec_config=True).values["network"]) == {"l0", "l1", "l2"}


def test_exec_config_has_returnns_config_object(tmp_path: Path) -> None:
    path = write(tmp_path, "c.py", (
        "a = 3\nlrs = [0.1, 0.2]\nflag = 1\nb = config.int('a', 0) + config.int('missing', 5)\n"
        "c = (config.has('a'), config.has('nope'), config.typed_value('lrs'), config.value('lrs', None),\n"
        "     config.float('a', 0.0), config.bool('flag', False), config.list('a'))\n"
        "me = __file__\nname = __name__\n"))
    values = read_file(path, exec_config=True).values
    assert values["b"] == 8 and "config" not in values
    assert values["c"] == (True, False, [0.1, 0.2], "0.1,0.2", 3, True, [3])
    assert values["me"] == str(path) and values["name"] == "__returnn_config__"


STUB_RETURNN = {
    "returnn/__init__.py": "from .__old_mod_loader__ import setup as _setup\n_setup(modules=globals())\n",
    "returnn/__old_mod_loader__.py": (
        "import importlib, sys\nold_to_new_mod_mapping = {'Util': 'util.basic', 'Pretrain': 'pretrain'}\n"
        "def setup(package_name='returnn', modules=None):\n"
        "    for old, new in old_to_new_mod_mapping.items():\n"
        "        mod = importlib.import_module('returnn.' + new)\n"
        "        sys.modules.setdefault(old, mod)\n"
        "        sys.modules.setdefault(package_name + '.' + old, mod)\n"),
    "returnn/util/__init__.py": "",
    "returnn/util/basic.py": "def get_login_username():\n    return 'stub-user'\n",
    "returnn/pretrain.py": "class WrapEpochValue:\n    def __init__(self, func):\n        self.func = func\n",
}
LEGACY_CONFIG = (
    "#!rnn.py\nimport Util\nfrom Pretrain import WrapEpochValue\nfrom returnn.util.basic import get_login_username\n"
    "user = Util.get_login_username()\nsame = get_login_username() == user\nwrap = WrapEpochValue(None)\n"
    "network = {'output': {'class': 'softmax', 'loss': 'ce', 'from': 'data'}}\n")
READ_IN_SUBPROCESS = (
    "import sys\nfrom netc.ir import NetcError, read_file\n"
    "try:\n    doc = read_file(sys.argv[1], exec_config=True)\nexcept NetcError as e:\n    print(e)\n"
    "else:\n    print({k: v for k, v in doc.values.items() if k != 'wrap'}, type(doc.values['wrap']).__name__)\n")


def run_exec_config(path: Path, pythonpath: Path | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    result = subprocess.run([sys.executable, "-c", READ_IN_SUBPROCESS, str(path)], capture_output=True, text=True,
                            env=env, timeout=120, check=True)
    return result.stdout


def test_exec_config_resolves_legacy_modules_through_returnn(tmp_path: Path) -> None:
    for name, text in STUB_RETURNN.items():
        (tmp_path / "stub" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "stub" / name).write_text(text)
    path = write(tmp_path, "legacy.config", LEGACY_CONFIG)
    out = run_exec_config(path, tmp_path / "stub")
    assert "'user': 'stub-user', 'same': True" in out and "Opaque" in out, out


def test_exec_config_without_returnn_names_the_import(tmp_path: Path) -> None:
    path = write(tmp_path, "legacy.config", LEGACY_CONFIG)
    out = run_exec_config(path, None)
    assert f"{path}:2" in out and "importing Util needs RETURNN, which is not installed" in out, out


@pytest.mark.parametrize("text, message", [
    ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
    ("x = 1\ny = {}['k']\n", "KeyError: 'k'"),
    ("import tensorflow_not_installed_here\n", "imports 'tensorflow_not_installed_here', which is not installed"),
])
def test_exec_config_failures_are_located(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "c.py", text)
    with pytest.raises(NetcError, match=message) as error:
        read_file(path, exec_config=True)
    assert error.value.where.line == text.count("\n")
    assert "without --exec-config netc reads the config without running it" in error.value.hint


def test_exec_config_that_never_ends_is_a_located_error(tmp_path: Path) -> None:
    from netc.ir.exec_config import exec_python_config

    text = "x = 1\nwhile True:\n    try:\n        x += 1\n    except Exception:\n        pass\n"
    with pytest.raises(NetcError, match="takes longer than 0.2 s") as error:
        exec_python_config(str(write(tmp_path, "c.py", text)), text, seconds=0.2)
    assert error.value.where.line in (2, 3, 4, 5, 6)


def test_an_override_replaces_an_opaque_value_and_its_warning() -> None:
    path = Path(__file__).parents[2] / "examples" / "real" / "demo_style.config"
    assert "model (line 34" in read_file(path).warnings()[0]
    assert read_file(path, overrides={"model": "/tmp/m/model"}).warnings() == ()


def test_a_byte_order_mark_other_encodings_and_empty_files_are_located(tmp_path: Path) -> None:
    net = tmp_path / "n.json"
    net.write_bytes(b"\xef\xbb\xbf" + b'{"output": {"class": "softmax", "n_out": 3}}')
    with pytest.raises(NetcError, match="BYTE ORDER MARK") as error:
        read_file(net)
    assert "without a byte-order mark" in error.value.hint
    latin = tmp_path / "l.config"
    latin.write_bytes(b"#!rnn.py\n# -*- coding: latin-1 -*-\nname = 'J\xfcrgen'\n")
    with pytest.raises(NetcError, match="not UTF-8 text") as error:
        read_file(latin)
    assert error.value.hint.startswith("save it as UTF-8")
    (tmp_path / "e.config").write_text("\n  \n")
    with pytest.raises(NetcError, match="the file is empty"):
        read_file(tmp_path / "e.config")


@pytest.mark.parametrize(("line", "fix"), [
    ("exec code", "write exec(code),"),
    ('exec "x = 1"  # a comment', "write exec(...),"),
])
def test_python2_exec_statements_say_returnn_cannot_read_them_either(line: str, fix: str) -> None:
    with pytest.raises(NetcError, match="Missing parentheses") as e:
        read_python_config("old.config", f"#!rnn.py\n{line}\nnetwork = {{}}\n")
    assert e.value.where.line == 2
    assert "Python 2" in (e.value.hint or "") and "RETURNN under Python 3 cannot read" in (e.value.hint or "")
    assert fix in (e.value.hint or "")


@pytest.mark.parametrize("statement", [
    'print "x = %d" % x',
    'print "no newline",',
    "print 'x'  # a comment",
    'print "%s %s" % (x,\n       x)  # continued',
    'if x: print "y"',
    'x = 2; print x; y = x',
])
@pytest.mark.parametrize("exec_config", [False, True])
def test_python2_print_statements_are_read_as_no_ops_with_a_located_warning(
        tmp_path: Path, statement: str, exec_config: bool) -> None:
    path = write(tmp_path, "old.config", f'#!rnn.py\nx = 1\n{statement}\nnetwork = {{"out": {{"class": "copy"}}}}\n')
    doc = read_file(path, exec_config=exec_config)
    assert doc.values["network"] == {"out": {"class": "copy"}}
    assert doc.where("network").line == 4 + statement.count("\n"), "lines after the statement keep their number"
    assert doc.notes == (f"{path}:3: a Python 2 print statement, read as a no-op: it sets no config key; RETURNN, "
                         "which runs configs under Python 3, refuses the file: write print(...)",)


def test_python2_print_statements_keep_the_columns_of_their_line_and_are_all_listed(tmp_path: Path) -> None:
    text = '#!rnn.py\nx = 3; print "a"; y = {"k": x}\nprint "b"\n'
    doc = read_python_config("old.config", text)
    assert doc.values == {"x": 3, "y": {"k": 3}}
    same = read_python_config("new.config", text.replace('print "a"', "pass     ").replace('print "b"', "pass"))
    assert (doc.where("y").line, doc.where("y").col) == (same.where("y").line, same.where("y").col) == (2, 19)
    assert "old.config:2: a Python 2 print statement (and on line 3), read as a no-op" in doc.notes[0]


def test_a_value_given_on_the_command_line_is_blamed_on_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"network": {"output": {"class": "softmax"}}, "num_outputs": 2}')
    doc = read_file(path, overrides={"num_outputs": "abc"})
    assert (doc.where("num_outputs").file, doc.where("num_outputs").line) == ("++num_outputs", None)
    assert (doc.where("network").file, doc.where("network").line) == (str(path), 1)
