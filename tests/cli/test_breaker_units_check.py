"""`netc check` of decoder units (breaker13): what `netc compile` refuses of a trainable unit is a located warning,
and the layer count includes the unit's layers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from netc.cli import main
from tests.ir.test_rec_loop import attention_net


def unit_with(change: dict, drop: str | None = None) -> dict:
    net = attention_net()
    net["output"].update(change.pop("<rec>", {}))
    unit = net["output"]["unit"]
    for name, options in change.items():
        unit[name] = {**unit[name], **options}
    if drop:
        unit.pop(drop)
    if net["output"].get("max_seq_len") is None:
        net["output"].pop("max_seq_len", None)
    return net


def check(tmp_path: Path, net: dict, command: str = "check", *args: str) -> tuple[int, str, str]:
    """`netc COMMAND net.json` of a written net in-process: exit code, stdout, stderr."""
    (tmp_path / "net.json").write_text(json.dumps(net))
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(main, [command, "net.json", *args, "--num-inputs", "3", "--num-outputs", "7"])
    finally:
        os.chdir(old)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


WARNING = "netc: warning: netc train trains this network, but netc compile cannot make a search model of it: "


@pytest.mark.parametrize("net, words", [
    (unit_with({}, drop="end"), "layer 'output/output': a decoder unit needs an 'end' layer"),
    (unit_with({"end": {"value": 99}}), "layer 'output/end', key 'value': the end label 99 is not one of the 7"),
    (unit_with({"end": {"kind": "not_equal"}}), "layer 'output/end', key 'class': netc's search reads 'end' as"),
    (unit_with({"<rec>": {"max_seq_len": None}}), "layer 'output', key 'max_seq_len': a decoder searched by netc "
                                                 "needs max_seq_len"),
    (unit_with({"att": {"initial_output": "apply(0)"}}), "layer 'output/att', key 'initial_output': initial_output "
                                                         "'apply(0)' is not implemented by netc's decoder step"),
])
def test_check_warns_what_compile_refuses_of_a_trainable_unit(tmp_path: Path, net: dict, words: str) -> None:
    """breaker13 cases/mut: check rc 0 and silent, compile rc 2. RETURNN trains these nets, so check passes."""
    code, _, stderr = check(tmp_path, net)
    assert code == 0 and re.search(re.escape(WARNING) + r"net\.json:\d+:\d+, " + re.escape(words), stderr), stderr
    code, _, compiled = check(tmp_path, net, "compile", "-o", "m")
    assert code == 2 and words in compiled, compiled


def test_check_of_a_searchable_decoder_warns_nothing_and_counts_unit_layers(tmp_path: Path) -> None:
    """The total counted the 6 outer layers while the table listed the unit's 16 too."""
    code, out, stderr = check(tmp_path, attention_net())
    assert code == 0 and "warning" not in stderr, stderr
    assert "total: 22 layers (16 in rec units), " in out, out


def test_check_of_a_net_without_a_rec_unit_does_not_import_onnx() -> None:
    """The unit warning's compiler import (onnx) is paid only by nets whose output is a rec unit."""
    net = Path(__file__).parents[2] / "examples" / "ff2.json"
    code = ("import sys\nfrom netc.cli import main\n"
            f"main(['check', {str(net)!r}, '--num-inputs', '4', '--num-outputs', '5'], standalone_mode=False)\n"
            "bad = [m for m in sys.modules if m in ('onnx', 'torch') or m.startswith(('netc.compiler', 'torch.'))]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@pytest.mark.parametrize("change, words", [
    ({"<rec>": {"n_out": 99}}, "layer 'output', key 'n_out': n_out is 99, but the dim of the unit's output is 7"),
    ({"state": {"class": "get_last_hidden_state", "from": "s", "key": "c", "n_out": 3, "is_output_layer": True}},
     "layer 'output/state', key 'n_out': n_out is 3, but the dim of state 'c' is 10"),
])
def test_check_refuses_an_n_out_the_unit_contradicts(tmp_path: Path, change: dict, words: str) -> None:
    net = attention_net()
    net["output"].update(change.pop("<rec>", {}))
    net["output"]["unit"].update(change)
    code, _, stderr = check(tmp_path, net)
    assert code == 2 and words in stderr and "set n_out to" in stderr, stderr
