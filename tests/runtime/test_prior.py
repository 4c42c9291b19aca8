"""`netc prior` (RETURNN's compute_priors) and `netc compile --prior` (output kind scaled-log-likelihoods)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from netc.compiler import compile_graph, save_model
from netc.compiler.onnx import CompileOptions
from netc.compiler.onnx.prior import read_prior
from netc.data import HdfReader, HdfSeq, write_hdf
from netc.runtime import Model
from netc.runtime.prior import compute_prior

from netc.cli import main

from .conftest import C, F, sequences
from .reference import forward

LENGTHS = [7, 0, 12, 1, 30, 4, 9]


def write_features(path, targets=None):
    seqs = [HdfSeq(f"corpus/{i}", x, {} if targets is None else {"classes": np.zeros(targets[i], np.int32)})
            for i, x in enumerate(sequences(30, LENGTHS))]
    write_hdf(path, seqs, F, None if targets is None else {"classes": C})


def numpy_prior(built, targets=None):
    """The float64 average over all frames of the numpy reference's posteriors."""
    outs = [forward(built.graph, built.params, x, None if targets is None else targets[i])
            for i, x in enumerate(sequences(30, LENGTHS)) if len(x)]
    return np.concatenate(outs).astype(np.float64).mean(axis=0)


def prior_command(model, data, out, *extra):
    return CliRunner().invoke(main, ["prior", str(model), "--data", str(data), "-o", str(out), "--threads", "1",
                                     *extra])


def test_prior_is_the_numpy_average_written_as_returnn_writes_it(models, tmp_path):
    write_features(tmp_path / "train.hdf")
    result = prior_command(models["blstm"].path, tmp_path / "train.hdf", tmp_path / "prior.txt", "--batch-size", "20")
    assert result.exit_code == 0, result.output
    assert f"{sum(LENGTHS)} frames" in result.output
    text = (tmp_path / "prior.txt").read_text()
    written = np.loadtxt(tmp_path / "prior.txt")
    np.testing.assert_allclose(written, np.log(numpy_prior(models["blstm"])), atol=1e-6)
    with open(tmp_path / "returnn.txt", "w") as f:  # returnn/tf/engine.py compute_priors, verbatim
        np.savetxt(f, written, delimiter=" ")
    assert text == (tmp_path / "returnn.txt").read_text() and len(text.splitlines()) == C


@pytest.mark.parametrize("kind", ["log-probs", "logits"])
def test_every_output_kind_gives_the_posterior_prior(models, tmp_path, kind):
    built = models["uni"]
    save_model(compile_graph(built.graph, built.params, options=CompileOptions(kind)), tmp_path / "m.onnx")
    write_features(tmp_path / "train.hdf")
    average, frames = compute_prior(Model(tmp_path / "m.onnx", threads=1), tmp_path / "train.hdf",
                                    tmp_path / "prior.txt")
    assert frames == sum(LENGTHS)
    np.testing.assert_allclose(average, numpy_prior(built), atol=1e-6)
    assert abs(average.sum() - 1) < 1e-6


def test_encoder_decoder_averages_over_decoder_frames(models, tmp_path):
    targets = [3, 0, 0, 5, 1, 4, 6]  # corpus/1 has no frames, corpus/2 an empty transcription
    write_features(tmp_path / "train.hdf", targets)
    seen = []
    average, frames = compute_prior(Model(models["seq2seq"].path, threads=1), tmp_path / "train.hdf",
                                    tmp_path / "prior.txt", seen.append)
    assert frames == sum(targets) and sum(seen) == sum(LENGTHS)
    np.testing.assert_allclose(average, numpy_prior(models["seq2seq"], targets), atol=1e-6)


def write_prior_file(path, values):
    with open(path, "w") as f:
        np.savetxt(f, values, delimiter=" ")


@pytest.mark.parametrize("scale", [1.0, 0.7, 0.0])
def test_baked_prior_is_log_probs_minus_the_scaled_prior(models, tmp_path, scale):
    built = models["blstm"]
    log_prior = np.log(np.random.default_rng(31).dirichlet(np.ones(C)))
    write_prior_file(tmp_path / "prior.txt", log_prior)
    prior = read_prior(tmp_path / "prior.txt", scale)
    for name, options in (("lp", CompileOptions("log-probs")),
                          ("sll", CompileOptions("scaled-log-likelihoods", prior=prior))):
        save_model(compile_graph(built.graph, built.params, options=options), tmp_path / f"{name}.onnx")
    seqs = sequences(32, [6, 1, 11, 0])
    log_probs = Model(tmp_path / "lp.onnx", threads=1)(seqs)
    baked = Model(tmp_path / "sll.onnx", threads=1)(seqs)
    for lp, out, x in zip(log_probs, baked, seqs):
        np.testing.assert_allclose(out, lp - scale * log_prior, atol=1e-5)
        if len(x):
            np.testing.assert_allclose(out, np.log(forward(built.graph, built.params, x)) - scale * log_prior,
                                       atol=1e-5)


def compile_args(tmp_path, *extra):
    net = tmp_path / "net.json"
    net.write_text('{"fw": {"class": "rec", "n_out": 4}, "output": {"class": "softmax", "from": "fw"}}')
    return ["compile", str(net), "--num-inputs", str(F), "--num-outputs", str(C), "-o", str(tmp_path / "m.onnx"),
            *extra]


def test_compile_prior_is_recorded_and_netc_info_shows_it(tmp_path):
    write_prior_file(tmp_path / "prior.txt", np.log(np.full(C, 1 / C)))
    result = CliRunner().invoke(main, compile_args(tmp_path, "--prior", str(tmp_path / "prior.txt"),
                                                   "--prior-scale", "0.3"))
    assert result.exit_code == 0, result.output
    info = CliRunner().invoke(main, ["info", str(tmp_path / "m.onnx")]).output
    assert "netc.output_kind: scaled-log-likelihoods" in info and "netc.prior_scale: 0.3" in info
    assert f"netc.prior_file: {tmp_path / 'prior.txt'}" in info
    write_features(tmp_path / "train.hdf")
    result = prior_command(tmp_path / "m.onnx", tmp_path / "train.hdf", tmp_path / "again.txt")
    assert result.exit_code == 2 and "the model's outputs are scaled-log-likelihoods, not posteriors" in result.output
    assert not (tmp_path / "again.txt").exists()


@pytest.mark.parametrize(("content", "extra", "message"), [
    ("-1.5\n-2.0\n", [], "{p}: the prior file has 2 values, the network has 7 output classes"),
    ("-1.0\n-2.0\n  nan\n", [], "{p}:3:3: 'nan' is not a finite number"),
    ("-1.0\n-inf\n", [], "{p}:2:1: '-inf' is not a finite number"),
    ("-1.0 x\n", [], "{p}:1:6: 'x' is not a finite number"),
    ("0.5\n0.5\n", [], "{p}: the prior holds a positive value (0.5); a log prior's values are <= 0"),
    ("", [], "{p}: the prior file holds no values"),
    (None, [], "{p}: cannot read the prior file: No such file or directory"),
    ("-1.0\n", ["--output-kind", "probs"], "--prior makes the output scaled-log-likelihoods, not probs"),
])
def test_bad_prior_files_exit_2_and_write_nothing(tmp_path, content, extra, message):
    path = tmp_path / "prior.txt"
    if content is not None:
        path.write_text(content)
    result = CliRunner().invoke(main, compile_args(tmp_path, "--prior", str(path), *extra))
    assert result.exit_code == 2
    assert message.format(p=path) in result.output
    assert not (tmp_path / "m.onnx").exists()


def test_prior_options_need_each_other(tmp_path):
    for extra, message in ((["--prior-scale", "0.5"], "--prior-scale needs --prior"),
                           (["--output-kind", "scaled-log-likelihoods"], "goes with a prior")):
        result = CliRunner().invoke(main, compile_args(tmp_path, *extra))
        assert result.exit_code == 2 and message in result.output, result.output


def test_prior_of_an_empty_file_is_an_error(models, tmp_path):
    write_hdf(tmp_path / "empty.hdf", [HdfSeq("a", np.zeros((0, F), np.float32))], F)
    result = prior_command(models["blstm"].path, tmp_path / "empty.hdf", tmp_path / "prior.txt")
    assert result.exit_code == 2 and "has no frames to average over" in result.output
    assert HdfReader(tmp_path / "empty.hdf").input_lengths.tolist() == [0]
    assert not (tmp_path / "prior.txt").exists()


def test_xml_output_is_rasrs_vector_and_compile_reads_it(models, tmp_path):
    write_features(tmp_path / "train.hdf")
    for name in ("prior.txt", "prior.xml"):
        assert prior_command(models["blstm"].path, tmp_path / "train.hdf", tmp_path / name).exit_code == 0
    lines = (tmp_path / "prior.xml").read_text().splitlines()
    assert lines[:2] == ['<?xml version="1.0" encoding="UTF-8"?>', f'<vector-f32 size="{C}">'] and lines[3:] == [
        "</vector-f32>"]
    text, xml = (read_prior(tmp_path / name, 1.0).log_prior for name in ("prior.txt", "prior.xml"))
    np.testing.assert_allclose(xml, text, rtol=1e-15)
    (tmp_path / "cut.xml").write_text("\n".join(lines[:2] + [" ".join(lines[2].split()[:-1])] + lines[3:]))
    result = CliRunner().invoke(main, compile_args(tmp_path, "--prior", str(tmp_path / "cut.xml")))
    assert result.exit_code == 2 and f'{tmp_path / "cut.xml"}: <vector-f32 size="7"> holds 6 values' in result.output


def test_progress_bar_on_a_terminal(models, tmp_path, monkeypatch):
    import io
    import sys

    from netc.cli import with_progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    write_features(tmp_path / "train.hdf")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    model = Model(models["blstm"].path, threads=1, batch_frames=2)  # several windows: several updates
    average, frames = with_progress(str(tmp_path / "train.hdf"), lambda progress: compute_prior(
        model, tmp_path / "train.hdf", tmp_path / "prior.txt", progress))
    assert frames == sum(LENGTHS) and "frames" in terminal.getvalue() and "100%" in terminal.getvalue()
