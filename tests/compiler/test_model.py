"""The compiled model obeys the ONNX contract: I/O, native LSTMs, opset/IR, metadata, validity, determinism."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from netc.compiler import compile_graph
from netc.compiler.onnx import LOWER, CompileOptions
from netc.ir import NetcError, load_graph
from netc.ir.layers import LAYER_TYPES

from tests.helpers import EXAMPLES, ragged_batch, session

EXAMPLE_NETS = sorted(p.name for p in EXAMPLES.glob("*.json"))


def compiled(name: str, **options: object) -> onnx.ModelProto:
    graph = load_graph(EXAMPLES / name, 40, 1000)
    return compile_graph(graph, options=CompileOptions(**options))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", EXAMPLE_NETS)
def test_examples_pass_full_check_strict_inference_and_strict_ort(name: str) -> None:
    model = compiled(name)
    onnx.checker.check_model(model, full_check=True)
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    x, lens = ragged_batch(np.random.default_rng(0), [5, 1, 3], 40)
    feeds = {"data": x, "data:size1": lens}
    if name == "seq2seq.json":
        feeds["classes:size1"] = np.array([2, 4, 1], np.int32)
    out, out_lens = session(model).run(None, feeds)
    expected_lens = feeds.get("classes:size1", lens)
    assert out.shape == (3, expected_lens.max(), 1000)
    np.testing.assert_array_equal(out_lens, expected_lens)
    for b, n in enumerate(expected_lens):
        np.testing.assert_allclose(out[b, :n].sum(-1), 1.0, atol=1e-5)
        assert not out[b, n:].any(), "padded output frames are 0"


def io_signature(model: onnx.ModelProto) -> list[tuple[str, int, list[str | int]]]:
    def sig(v: onnx.ValueInfoProto) -> tuple[str, int, list[str | int]]:
        t = v.type.tensor_type
        return v.name, t.elem_type, [d.dim_param or d.dim_value for d in t.shape.dim]

    return [sig(v) for v in (*model.graph.input, *model.graph.output)]


def test_io_of_the_contract() -> None:
    f, i = onnx.TensorProto.FLOAT, onnx.TensorProto.INT32
    assert io_signature(compiled("blstm3.json")) == [
        ("data", f, ["batch", "time", 40]), ("data:size1", i, ["batch"]),
        ("output", f, ["batch", "out_time", 1000]), ("output:size1", i, ["batch"])]
    assert io_signature(compiled("seq2seq.json"))[2] == ("classes:size1", i, ["batch"])


def test_one_native_lstm_per_rec_layer_with_weights_as_initializers() -> None:
    model = compiled("blstm3.json")
    lstms = [n for n in model.graph.node if n.op_type == "LSTM"]
    assert len(lstms) == 6
    inits = {t.name for t in model.graph.initializer}
    for node in lstms:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attrs["hidden_size"] == 500
        assert attrs.get("layout", 0) == 0 and "clip" not in attrs and "activations" not in attrs
        assert attrs["direction"] in (b"forward", b"reverse")
        assert node.input[1] in inits and node.input[2] in inits and node.input[3] in inits
        assert node.input[4] == "data:size1"
    assert sum(n.op_type == "Transpose" for n in model.graph.node) == 2, "time-major between LSTMs"


def test_decoder_starts_from_encoder_final_states() -> None:
    model = compiled("seq2seq.json")
    lstms = {n.output[0]: n for n in model.graph.node if n.op_type == "LSTM"}
    producers = {out: n for n in model.graph.node for out in n.output}
    for decoder in ("fw_1", "bw_1"):
        node = lstms[decoder]
        assert node.input[4] == "classes:size1"
        for k in (5, 6):
            concat = producers[node.input[k]]
            assert concat.op_type == "Concat"
            sources = [producers[x] for x in concat.input]
            assert [s.output[0] for s in sources] == ["fw_0", "bw_0"]
            assert list(concat.input) == [s.output[k - 4] for s in sources], "Y_h / Y_c, not Y"


def test_opset_and_ir_version_are_pinned() -> None:
    model = compiled("ff2.json")
    assert (model.opset_import[0].version, model.ir_version) == (17, 8)
    assert compiled("ff2.json", opset=21).ir_version == 10
    with pytest.raises(NetcError, match="opset 99 is not supported"):
        compiled("ff2.json", opset=99)


def test_metadata_carries_the_canonical_net() -> None:
    model = compiled("lstm2.json", output_kind="log-probs")
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["netc.num_inputs"] == "40" and meta["netc.num_outputs"] == "1000"
    assert meta["netc.output_kind"] == "log-probs" and meta["netc.encoder_decoder"] == "false"
    net = json.loads(meta["netc.net"])
    assert net["lstm1"]["unit"] == "lstm" and net["output"]["from"] == ["lstm2"] and net["output"]["n_out"] is None


def test_log_probs_use_log_softmax() -> None:
    ops = [n.op_type for n in compiled("ff2.json", output_kind="log-probs").graph.node]
    assert "LogSoftmax" in ops and "Log" not in ops and "Softmax" not in ops


def test_compile_is_byte_identical(tmp_path: Path) -> None:
    outputs = []
    for i in range(2):
        out = tmp_path / f"m{i}.onnx"
        subprocess.run([sys.executable, "-m", "netc", "compile", str(EXAMPLES / "seq2seq.json"), "-o", str(out),
                        "--num-inputs", "40", "--num-outputs", "1000"], check=True)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_npz_params_end_up_in_the_model(tmp_path: Path) -> None:
    graph = load_graph(EXAMPLES / "ff2.json", 40, 1000)
    rng = np.random.default_rng(3)
    params = {"fw1/W": rng.standard_normal((40, 500)), "fw1/b": rng.standard_normal(500),
              "fw2/W": rng.standard_normal((500, 500)), "fw2/b": rng.standard_normal(500),
              "output/W": rng.standard_normal((500, 1000)), "output/b": rng.standard_normal(1000)}
    np.savez(tmp_path / "p.npz", **params)
    out = tmp_path / "m.onnx"
    subprocess.run([sys.executable, "-m", "netc", "compile", str(EXAMPLES / "ff2.json"), "-o", str(out),
                    "--num-inputs", "40", "--num-outputs", "1000", "--params", str(tmp_path / "p.npz")], check=True)
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(out).graph.initializer}
    np.testing.assert_array_equal(inits["fw2/W"], params["fw2/W"].astype(np.float32))
    assert graph.output.out_type.feature == 1000


def test_compile_and_check_do_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from netc.cli import main\n"
        f"main(['compile', {str(EXAMPLES / 'blstm3.json')!r}, '-o', {str(tmp_path / 'm.onnx')!r},"
        " '--num-inputs', '40', '--num-outputs', '1000'], standalone_mode=False)\n"
        "main(['check', " + repr(str(EXAMPLES / "ff2.json")) + ", '--num-inputs', '4', '--num-outputs', '5'],"
        " standalone_mode=False)\n"
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'netc.trainer'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_every_layer_class_has_an_onnx_lowering() -> None:
    assert set(LOWER) == set(LAYER_TYPES)
