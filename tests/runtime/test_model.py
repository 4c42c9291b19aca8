"""Model: parity with unbatched onnxruntime runs and the numpy reference, order, threads, plain ONNX models."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnx
import pytest
from netc.runtime import Model

from tests.helpers import ragged_batch, session

from .conftest import F, sequences
from .reference import forward

LENGTHS = [7, 1, 13, 4, 13, 2, 9, 30, 5, 11]


def unbatched(path: str, seqs: list[np.ndarray], targets: list[int] | None = None) -> list[np.ndarray]:
    """Each sequence alone through a plain strict onnxruntime session."""
    sess = session(path)
    outs = []
    for i, x in enumerate(seqs):
        feeds = {"data": x[None], "data:size1": np.array([len(x)], np.int32)}
        if targets is not None:
            feeds["classes:size1"] = np.array([targets[i]], np.int32)
        outs.append(sess.run(["output"], feeds)[0][0])
    return outs


@pytest.mark.parametrize("name", ["blstm", "uni"])
@pytest.mark.parametrize("batch_frames", [1, 40, 100000])
def test_matches_unbatched_runs_and_reference(models, name, batch_frames):
    built = models[name]
    seqs = sequences(1, LENGTHS)
    outs = Model(built.path, threads=1, batch_frames=batch_frames)(seqs)
    assert [o.shape for o in outs] == [(n, 7) for n in LENGTHS]
    for out, alone, x in zip(outs, unbatched(str(built.path), seqs), seqs):
        np.testing.assert_allclose(out, alone, atol=1e-5)
        np.testing.assert_allclose(out, forward(built.graph, built.params, x), atol=1e-5)


def test_encoder_decoder_matches_reference(models):
    built = models["seq2seq"]
    seqs, targets = sequences(2, [6, 3, 9, 1]), [4, 8, 1, 5]
    outs = Model(built.path, threads=1, batch_frames=20)(seqs, target_lengths=targets)
    assert [len(o) for o in outs] == targets
    for out, alone, x, n in zip(outs, unbatched(str(built.path), seqs, targets), seqs, targets):
        np.testing.assert_allclose(out, alone[:n], atol=1e-5)
        np.testing.assert_allclose(out, forward(built.graph, built.params, x, n), atol=1e-5)


def test_results_come_back_in_input_order(models):
    # Each sequence is constant with its own value: a mix-up would show as another sequence's output.
    model = Model(models["uni"].path, threads=1, batch_frames=16)
    lengths = [5, 3, 8, 1, 8, 2, 6, 4, 7, 1, 3, 5]
    seqs = [np.full((n, F), v, np.float32) for v, n in zip(np.linspace(-2, 2, len(lengths)), lengths)]
    outs = model(seqs)
    for out, x in zip(outs, seqs):
        np.testing.assert_allclose(out, model([x])[0], atol=1e-6)
    assert [len(o) for o in outs] == [len(x) for x in seqs]


def test_run_padded_batch_ignores_garbage(models):
    built = models["blstm"]
    x, lens = ragged_batch(np.random.default_rng(3), [4, 9, 1], F)
    out, out_lens = Model(built.path, threads=1).run(x, lens)
    assert out.shape == (3, 9, 7) and out_lens.tolist() == [4, 9, 1]
    for b, n in enumerate(lens):
        np.testing.assert_allclose(out[b, :n], forward(built.graph, built.params, x[b, :n]), atol=1e-5)
        assert not out[b, n:].any()


def test_one_model_from_many_threads_gives_identical_results(models):
    model = Model(models["blstm"].path, threads=1, batch_frames=30)
    jobs = [sequences(seed, [3 + seed % 5, 11, 1 + seed]) for seed in range(16)]
    expected = [model(seqs) for seqs in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            got = list(pool.map(model, jobs))
            for want, have in zip(expected, got):
                for a, b in zip(want, have):
                    np.testing.assert_array_equal(a, b)


def test_plain_onnx_model_without_metadata_still_runs(models, tmp_path):
    proto = onnx.load(models["blstm"].path)
    del proto.metadata_props[:]
    path = tmp_path / "plain.onnx"
    onnx.save(proto, path)
    model = Model(path, threads=1)
    assert not model.info.is_netc and model.info.num_inputs == F
    seqs = sequences(4, [3, 8])
    for a, b in zip(model(seqs), Model(models["blstm"].path, threads=1)(seqs)):
        np.testing.assert_array_equal(a, b)


def test_info_reads_metadata(models):
    info = Model(models["seq2seq"].path).info
    assert (info.num_inputs, info.num_outputs, info.encoder_decoder, info.streaming) == (F, 7, True, False)
    assert info.metadata["netc.output_kind"] == "probs"


def test_share_and_threads_options_run(models):
    seqs = sequences(5, [4, 6])
    shared = Model(models["uni"].path, threads=2, share=True)(seqs)
    for a, b in zip(shared, Model(models["uni"].path, threads=1)(seqs)):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_importing_the_runtime_imports_neither_torch_nor_the_compiler():
    code = ("import sys, netc.runtime, netc.runtime.hdf; "
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith(('netc.compiler', 'netc.trainer'))]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_session_options():
    from netc.runtime.session import session_options

    shared, own = session_options(2, share=True), session_options(None, share=False)
    assert shared.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    with pytest.raises(RuntimeError, match="does not have configuration"):  # onnxruntime's default: spinning
        own.get_session_config_entry("session.intra_op.allow_spinning")
    assert shared.intra_op_num_threads == 2 and shared.graph_optimization_level.name == "ORT_ENABLE_ALL"
