"""Bad inputs give NetcErrors that say what is wrong."""

from __future__ import annotations

import numpy as np
import pytest
from netc.ir import NetcError
from netc.runtime import Model

from .conftest import F, sequences


@pytest.fixture(scope="module")
def blstm(models):
    return Model(models["blstm"].path, threads=1)


@pytest.mark.parametrize(("seqs", "message"), [
    ([np.zeros((4, F + 1), np.float32)], "sequence 0 has 6 features, the model expects 5"),
    ([np.zeros((4, F), np.float32), np.zeros((3, F), np.int64)], "sequence 1 has dtype int64, expected float32"),
    ([np.zeros((2, 4, F), np.float32)], "sequence 0 has shape (2, 4, 5), expected rank 2"),
    (np.zeros((2, 4, F), np.float32), "got one array"),
    ([np.zeros((4, F), np.float32), np.full((3, F), np.nan, np.float32)],
     "sequence 1 has a non-finite feature (NaN or inf) in frame 0"),
])
def test_bad_sequences(blstm, seqs, message):
    with pytest.raises(NetcError) as e:
        blstm(seqs)
    assert message in str(e.value)


@pytest.mark.parametrize(("lens", "message"), [
    ([3, 5], "lens[1] = 5 is out of range: must be in 0..4"),
    ([-1, 2], "lens[0] = -1 is out of range"),
    ([3], "lens has shape (1,), expected (2,)"),
    ([1.0, 2.0], "lens has dtype float64, expected integers"),
])
def test_bad_lengths(blstm, lens, message):
    with pytest.raises(NetcError) as e:
        blstm.run(np.zeros((2, 4, F), np.float32), np.array(lens))
    assert message in str(e.value)


def test_float64_features_are_accepted(blstm):
    x = sequences(0, [3])[0]
    np.testing.assert_allclose(blstm([x.astype(np.float64)])[0], blstm([x])[0], atol=1e-7)


def test_encoder_decoder_without_target_lengths(models):
    model = Model(models["seq2seq"].path)
    with pytest.raises(NetcError, match="needs target lengths"):
        model(sequences(0, [3]))
    with pytest.raises(NetcError, match=r"target_lengths\[0\] = -1 is out of range: must be in >= 0"):
        model(sequences(0, [3]), target_lengths=[-1])


def test_target_lengths_for_a_plain_model(blstm):
    with pytest.raises(NetcError, match="not an encoder-decoder model"):
        blstm(sequences(0, [3]), target_lengths=[2])


def test_truncated_model_file(models, tmp_path):
    path = tmp_path / "cut.onnx"
    path.write_bytes(models["blstm"].path.read_bytes()[:300])
    with pytest.raises(NetcError) as e:
        Model(path)
    assert str(e.value).startswith(f"{path}: not a loadable ONNX model")


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("hello")
    with pytest.raises(NetcError, match="not a loadable ONNX model"):
        Model(path)
    with pytest.raises(NetcError, match="no such model file"):
        Model(tmp_path / "missing.onnx")


def test_onnx_model_with_other_io_names(tmp_path):
    from onnx import TensorProto, helper, save

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), tmp_path / "m.onnx")
    with pytest.raises(NetcError) as e:
        Model(tmp_path / "m.onnx")
    assert "not a netc model: no 'data', 'data:size1', 'output'" in str(e.value)


def test_unknown_device(models):
    with pytest.raises(NetcError, match="unknown device 'tpu'"):
        Model(models["blstm"].path, device="tpu")
