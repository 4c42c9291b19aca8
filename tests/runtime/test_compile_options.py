"""--streaming and --quantize keep the contract's determinism: the same inputs give the same bytes."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from netc.compiler import compile_graph
from netc.compiler.onnx import CompileOptions

from netc.cli import main


@pytest.mark.parametrize("options", [CompileOptions(streaming=True), CompileOptions(quantize="int8")])
def test_same_inputs_same_bytes(models, options):
    built = models["uni"]
    first, second = (compile_graph(built.graph, built.params, options=options) for _ in range(2))
    assert first.SerializeToString(deterministic=True) == second.SerializeToString(deterministic=True)


def test_cli_flags(models, tmp_path):
    net = tmp_path / "uni.json"
    net.write_text(models["uni"].path.with_suffix(".json").read_text())
    args = ["compile", str(net), "--num-inputs", "5", "--num-outputs", "7", "-o", str(tmp_path / "m.onnx")]
    assert CliRunner().invoke(main, [*args, "--streaming", "--quantize", "int8"]).exit_code == 0
    info = CliRunner().invoke(main, ["info", str(tmp_path / "m.onnx")]).output
    assert "netc.streaming: true" in info and "netc.quantize: int8" in info
    result = CliRunner().invoke(main, [*args, "--quantize", "int4"])
    assert result.exit_code == 2 and "Invalid value for '--quantize'" in result.output
