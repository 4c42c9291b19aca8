"""Empty segments (0 frames) and empty transcriptions (target length 0): `(0, C)` outputs in input order, the
other sequences unchanged; errors about one sequence of an HDF file name its file index, tag and the file."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from netc.data import HdfReader, HdfSeq, write_hdf
from netc.runtime import Model

from netc.cli import main
from tests.helpers import ragged_batch
from tests.reference import reference_output

from .conftest import NETS, C, F, sequences

LENGTHS = [5, 0, 3, 0, 1, 8]


def test_empty_sequences_get_empty_outputs_in_order(models):
    model = Model(models["blstm"].path, threads=1, batch_frames=12)
    seqs = sequences(20, LENGTHS)
    outs = model(seqs)
    assert [o.shape for o in outs] == [(n, C) for n in LENGTHS]
    alone = model([s for s in seqs if len(s)])
    for out, want in zip([o for o in outs if len(o)], alone):
        np.testing.assert_array_equal(out, want)


def test_only_empty_sequences_never_reach_onnxruntime(models, monkeypatch):
    model = Model(models["uni"].path, threads=1)
    monkeypatch.setattr(model, "execute", lambda feeds: pytest.fail("onnxruntime called"))
    outs = model([np.zeros((0, F), np.float32)] * 3)
    assert [o.shape for o in outs] == [(0, C)] * 3 and all(o.dtype == np.float32 for o in outs)


def test_padded_batch_with_zero_lengths(models):
    model = Model(models["blstm"].path, threads=1)
    x, lens = ragged_batch(np.random.default_rng(5), [4, 1, 9, 1], F)
    lens[1] = lens[3] = 0  # their frames are garbage only
    out, out_lens = model.run(x, lens)
    assert out.shape == (4, 9, C) and out_lens.tolist() == [4, 0, 9, 0]
    assert not out[1].any() and not out[3].any()
    full, _ = model.run(x[[0, 2]], lens[[0, 2]])
    np.testing.assert_array_equal(out[[0, 2]], full)
    out, out_lens = model.run(x, np.zeros(4, np.int32))
    assert out.shape == (4, 9, C) and not out.any() and not out_lens.any()


def test_encoder_decoder_empty_transcriptions(models):
    model = Model(models["seq2seq"].path, threads=1)
    seqs, targets = sequences(21, [6, 3, 0, 4]), [4, 0, 0, 2]
    outs = model(seqs, target_lengths=targets)
    assert [o.shape for o in outs] == [(n, C) for n in targets]
    for out, want in zip([outs[0], outs[3]], model([seqs[0], seqs[3]], target_lengths=[4, 2])):
        np.testing.assert_array_equal(out, want)
    out, out_lens = model.run(np.zeros((2, 3, F), np.float32), np.array([3, 2]), np.array([0, 0]))
    assert out.shape == (2, 0, C) and out_lens.tolist() == [0, 0]


def test_encoder_decoder_without_input_frames_decodes_from_zero_states(models):
    """0 input frames but target frames: the decoder starts from the encoders' zero initial states, as the
    reference (and netc train) computes it, alone or beside other sequences."""
    built = models["seq2seq"]
    model = Model(built.path, threads=1)
    seqs, targets = sequences(22, [4, 0, 0]), [2, 3, 1]
    outs = model(seqs, target_lengths=targets)
    assert [o.shape for o in outs] == [(n, C) for n in targets]
    want, _ = reference_output(NETS["seq2seq"], built.params, np.zeros((2, 0, F), np.float32), np.array([0, 0]),
                               np.array([3, 1]))
    for out, expected, n in zip(outs[1:], want, targets[1:]):
        np.testing.assert_allclose(out, expected[:n], atol=1e-5, rtol=0)
    assert np.abs(outs[1][0] - outs[1][1]).max() > 1e-3  # not a constant: the decoder's steps differ
    alone = model(seqs[1:2], target_lengths=[3])
    np.testing.assert_array_equal(alone[0], outs[1])



def write_corpus(path, lengths, targets=None):
    """30-utterance corpus `corpus/utt-I` with the given frame (and `classes`) lengths."""
    rng = np.random.default_rng(23)
    seqs = [HdfSeq(f"corpus/utt-{i}", rng.standard_normal((n, F)).astype(np.float32),
                   {} if targets is None else {"classes": np.zeros(targets[i], np.int32)})
            for i, n in enumerate(lengths)]
    write_hdf(path, seqs, F, None if targets is None else {"classes": C})


def run(model, data, out, *extra):
    return CliRunner().invoke(main, ["run", str(model), "--data", str(data), "-o", str(out), "--threads", "1",
                                     *extra])


def test_netc_run_writes_empty_outputs_for_empty_segments(models, tmp_path):
    lengths = [3 + i % 4 for i in range(30)]
    lengths[25] = lengths[7] = 0
    write_corpus(tmp_path / "in.hdf", lengths)
    result = run(models["blstm"].path, tmp_path / "in.hdf", tmp_path / "out.hdf", "--batch-size", "10")
    assert result.exit_code == 0, result.output
    out = HdfReader(tmp_path / "out.hdf")
    assert out.tags == [f"corpus/utt-{i}" for i in range(30)] and out.input_lengths.tolist() == lengths
    assert out[25].features.shape == (0, C)
    np.testing.assert_allclose(out[26].features, Model(models["blstm"].path, threads=1)(
        [HdfReader(tmp_path / "in.hdf")[26].features])[0], atol=1e-6)


def test_netc_run_decodes_an_empty_segment_with_a_transcription(models, tmp_path):
    lengths, targets = [4] * 30, [2] * 30
    lengths[25], targets[3] = 0, 0  # utt-25: no frames, 2 targets; utt-3: an empty transcription
    write_corpus(tmp_path / "in.hdf", lengths, targets)
    result = run(models["seq2seq"].path, tmp_path / "in.hdf", tmp_path / "out.hdf", "--batch-size", "10")
    assert result.exit_code == 0, result.output
    out = HdfReader(tmp_path / "out.hdf")
    assert out[25].features.shape == (2, C) and out[3].features.shape == (0, C)
    assert HdfReader(tmp_path / "out.hdf").input_lengths.tolist() == targets


def test_netc_run_names_a_bad_sequence_by_file_index_tag_and_file(models, tmp_path):
    seqs = [HdfSeq(f"corpus/utt-{i}", np.ones((4, F), np.float32)) for i in range(30)]
    seqs[25].features[2, 1] = np.nan
    write_hdf(tmp_path / "in.hdf", seqs, F)
    result = run(models["blstm"].path, tmp_path / "in.hdf", tmp_path / "out.hdf", "--batch-size", "10")
    assert result.exit_code == 2
    assert (f"netc: error: {tmp_path / 'in.hdf'}: sequence 25 (tag 'corpus/utt-25') has a non-finite feature "
            "(NaN or inf) in frame 2") in result.output
    assert not (tmp_path / "out.hdf").exists()
