"""`netc run`: HDF in, HDF out with the same tags and one output frame per input frame; errors exit 2."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner
from netc.data import HdfReader, HdfSeq, write_hdf
from netc.runtime import Model

from netc.cli import main

from .conftest import C, F, sequences

TAGS = ["corpus/a/1", "corpus/b/2", "corpus/c/3", "corpus/d/4", "corpus/e/5"]
LENGTHS = [12, 3, 30, 1, 7]


def write_features(path, num_inputs=F, targets=None):
    seqs = [HdfSeq(t, x, {} if targets is None else {"classes": np.zeros(n, np.int32)})
            for t, x, n in zip(TAGS, sequences(12, LENGTHS), targets or LENGTHS)]
    if num_inputs != F:
        seqs = [HdfSeq(s.tag, np.zeros((len(s.features), num_inputs), np.float32)) for s in seqs]
    write_hdf(path, seqs, num_inputs, {"classes": C} if targets else None)


def test_round_trip_keeps_tags_and_matches_the_model(models, tmp_path):
    write_features(tmp_path / "in.hdf")
    result = CliRunner().invoke(main, ["run", str(models["blstm"].path), "--data", str(tmp_path / "in.hdf"),
                                       "-o", str(tmp_path / "out.hdf"), "--batch-size", "40", "--threads", "1"])
    assert result.exit_code == 0, result.output
    out = HdfReader(tmp_path / "out.hdf")
    assert out.tags == TAGS and out.input_lengths.tolist() == LENGTHS and out.num_inputs == C
    expected = Model(models["blstm"].path, threads=1)(sequences(12, LENGTHS))
    for i, want in enumerate(expected):
        np.testing.assert_allclose(out[i].features, want, atol=1e-6)


def test_encoder_decoder_reads_target_lengths_from_the_file(models, tmp_path):
    targets = [2, 5, 1, 4, 3]
    write_features(tmp_path / "in.hdf", targets=targets)
    result = CliRunner().invoke(main, ["run", str(models["seq2seq"].path), "--data", str(tmp_path / "in.hdf"),
                                       "-o", str(tmp_path / "out.hdf")])
    assert result.exit_code == 0, result.output
    assert HdfReader(tmp_path / "out.hdf").input_lengths.tolist() == targets


def test_wrong_feature_dim_exits_2_and_writes_nothing(models, tmp_path):
    write_features(tmp_path / "in.hdf", num_inputs=3)
    result = CliRunner().invoke(main, ["run", str(models["blstm"].path), "--data", str(tmp_path / "in.hdf"),
                                       "-o", str(tmp_path / "out.hdf")])
    assert result.exit_code == 2
    assert "has 3 features per frame, the model expects 5" in result.output
    assert not (tmp_path / "out.hdf").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in.hdf"]


def test_missing_inputs_exit_2(models, tmp_path):
    cases = [[str(tmp_path / "none.onnx"), "--data", str(tmp_path / "x.hdf")],
             [str(models["blstm"].path), "--data", str(tmp_path / "missing.hdf")]]
    for args in cases:
        result = CliRunner().invoke(main, ["run", *args, "-o", str(tmp_path / "out.hdf")])
        assert result.exit_code == 2 and "netc: error:" in result.output, result.output


def test_encoder_decoder_without_targets_in_the_file(models, tmp_path):
    write_features(tmp_path / "in.hdf")
    result = CliRunner().invoke(main, ["run", str(models["seq2seq"].path), "--data", str(tmp_path / "in.hdf"),
                                       "-o", str(tmp_path / "out.hdf")])
    assert result.exit_code == 2 and "has no 'classes' targets" in result.output


def test_progress_reports_every_frame_once(models, tmp_path):
    from netc.runtime.hdf import run_hdf

    write_features(tmp_path / "in.hdf")
    seen: list[int] = []
    model = Model(models["blstm"].path, threads=1, batch_frames=2)  # windows of 32 frames
    assert run_hdf(model, tmp_path / "in.hdf", tmp_path / "out.hdf", seen.append) == len(TAGS)
    assert sum(seen) == sum(LENGTHS) and len(seen) > 1


def test_unwritable_output_exits_2_before_any_work(models, tmp_path):
    write_features(tmp_path / "in.hdf")
    result = CliRunner().invoke(main, ["run", str(models["blstm"].path), "--data", str(tmp_path / "in.hdf"),
                                       "-o", str(tmp_path / "no" / "such" / "out.hdf")])
    assert result.exit_code == 2 and "cannot write the output here" in result.output
