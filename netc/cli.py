"""The `netc` command line: thin wrappers that print NetcError and exit 2."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from netc.ir import NetcError, Where
from netc.ir.files import refuse_overwriting_inputs

if TYPE_CHECKING:
    from netc.ir import Graph


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print a NetcError as `file:line:col: layer, key: message` + hint, exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NetcError as e:
            click.echo(f"netc: error: {e}", err=True)
            sys.exit(2)

    return wrapper


def require_torch(purpose: str) -> None:
    """torch is an optional dependency (the `train` extra); say how to get it instead of a traceback."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise NetcError(f"{purpose} needs PyTorch, which is not installed",
                        hint='pip install torch==2.13.0 (or pip install "netc[train]")')


def warn(message: str) -> None:
    click.echo(f"netc: warning: {message}", err=True)


dims_options = [
    click.option("--num-inputs", type=click.IntRange(1), help="input feature dim (else from the config)"),
    click.option("--num-outputs", type=click.IntRange(1), help="number of target classes (else from the config)"),
    click.option("--exec-config", is_flag=True, help="run a trusted Python config instead of reading literals"),
]


def with_dims(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(dims_options):
        command = option(command)
    return command


@click.group()
@click.version_option(package_name="netc")
def main() -> None:
    """netc: RETURNN network dicts -> ONNX with native LSTMs; PyTorch training; onnxruntime serving."""


OVERRIDES = {"ignore_unknown_options": True}  # `++key -1`: a value that looks like an option is an override


@main.command(context_settings=OVERRIDES)
@click.argument("net", type=click.Path(dir_okay=False))
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
@with_dims
@reports_errors
def check(net: str, overrides: tuple[str, ...], num_inputs: int | None, num_outputs: int | None,
          exec_config: bool) -> None:
    """Validate NET and print its typed IR as a table (and the pretrain schedule of a config with `pretrain`);
    `++key value` pairs override config keys."""
    from netc.ir import format_table
    from netc.ir.build import check_model_output
    from netc.ir.keys import opaque_parts
    from netc.ir.pretrain import read_pretrain

    doc = read_network(net, overrides, exec_config)
    graph = graph_with_warnings(doc, num_inputs, num_outputs)
    check_model_output(graph)  # what netc compile refuses about the output, refused here alike
    warn_unsearchable(graph)
    lines = [format_table(graph)]
    if any(opaque_parts(doc.values.get("pretrain"), ("pretrain",))):  # e.g. a construction_algo function
        warn("the pretrain schedule is not shown: netc train needs 'pretrain' computed (++pretrain or --exec-config)")
    else:
        pretrain = read_pretrain(doc)
        lines += pretrain.schedule() if pretrain else []
    click.echo("\n".join(lines))


def warn_unsearchable(graph: Any) -> None:
    """check: a rec unit as the output that netc train trains (RETURNN does) but whose encoder + decoder-step
    models `netc compile` refuses (no `end`, no `max_seq_len`, no choice, ...): compiler/onnx/rec_loop.py
    `plan_decoder`'s located error, as a warning (check still exits 0)."""
    from netc.ir.loop import RecLoop

    if not isinstance(graph.output.layer, RecLoop):  # compiler/onnx/rec_loop.py is_decoder, without importing onnx
        return
    from netc.compiler.onnx.rec_loop import plan_decoder

    try:
        plan_decoder(graph)
    except NetcError as e:
        warn(f"netc train trains this network, but netc compile cannot make a search model of it: {e}")


def read_network(net: str, overrides: tuple[str, ...], exec_config: bool) -> Any:
    """check/compile: read NET with `++key value` overrides."""
    from netc.ir import read_file
    from netc.ir.keys import parse_overrides

    return read_file(net, exec_config, parse_overrides(overrides))


def graph_with_warnings(doc: Any, num_inputs: int | None, num_outputs: int | None) -> Any:
    """The typed graph of a read config; its keys are accounted for and the warnings printed."""
    graph, warnings = network_of(doc, num_inputs, num_outputs)
    for warning in warnings:
        warn(warning)
    return graph


def network_of(doc: Any, num_inputs: int | None, num_outputs: int | None) -> tuple[Any, list[str]]:
    """Only the network and its dims are read; the other keys are accounted for as warnings (ir/keys.py)."""
    from netc.data.datasets import network_dims
    from netc.ir import graph_from_document
    from netc.ir.build import network_of as net_dict_of
    from netc.ir.keys import CHECK, account

    warnings = account(doc, CHECK).warnings()
    net_dict_of(doc)  # a config without a network says so before its dims are read
    graph = graph_from_document(doc, num_inputs, num_outputs, network_dims(doc, num_inputs, num_outputs))
    return graph, [*warnings, *graph.warnings]


@main.command("compile", context_settings=OVERRIDES)
@click.argument("net", type=click.Path(dir_okay=False))
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
@click.option("-o", "--output", "output", required=True, type=click.Path(),
              help="the .onnx file (an encoder-decoder with a choice: a folder, docs/onnx-contract.md)")
@with_dims
@click.option("--params", type=click.Path(dir_okay=False), help="parameters: .npz, a netc checkpoint .pt, "
              "or a RETURNN checkpoint prefix model.NNN")
@click.option("--output-kind", type=click.Choice(["probs", "log-probs", "logits", "scaled-log-likelihoods"]),
              help="default: log-probs for a CTC output layer, else probs; scaled-log-likelihoods with --prior")
@click.option("--prior", type=click.Path(dir_okay=False),
              help="log prior (netc prior / RETURNN compute_priors): output log softmax - a * log prior")
@click.option("--prior-scale", type=float, help="a, the prior's scale (default 1.0; needs --prior)")
@click.option("--opset", type=int, default=17, show_default=True)
@click.option("--seed", type=click.IntRange(0), default=42, show_default=True, help="seed of the initial parameters")
@click.option("--streaming", is_flag=True, help="rec states as inputs <layer>:h0/:c0 and outputs <layer>:h/:c")
@click.option("--quantize", type=click.Choice(["int8"]), help="dynamic int8 quantization of LSTM and MatMul weights")
@reports_errors
def compile_command(net: str, overrides: tuple[str, ...], output: str, num_inputs: int | None,
                    num_outputs: int | None, exec_config: bool, params: str | None, output_kind: str | None,
                    prior: str | None, prior_scale: float | None, opset: int, seed: int, streaming: bool,
                    quantize: str | None) -> None:
    """Compile NET to an ONNX model; `++key value` pairs override config keys."""
    refuse_overwriting_inputs(output, net, params, prior)
    import onnx

    from netc.compiler import compile_graph, save_model
    from netc.compiler.onnx import CompileOptions

    graph = graph_with_warnings(read_network(net, overrides, exec_config), num_inputs, num_outputs)
    values = load_params(params, graph) if params else None
    options = CompileOptions(prior_output_kind(output_kind, prior, prior_scale), opset, streaming, quantize,
                             load_prior(prior, prior_scale))
    model = compile_graph(graph, values, seed, options, params or "<params>")
    if not isinstance(model, onnx.ModelProto) and Path(output).suffix.lower() == ".onnx":
        raise NetcError("this net is an encoder-decoder (a rec unit with a choice): netc writes it as a folder "
                        "(decoder.json, encoder.onnx, decoder_step.onnx), not one .onnx file", Where(output),
                        f"-o {Path(output).with_suffix('')}")
    save_model(model, output)
    weights = f"parameters from {params}" if params else f"random initial parameters (--seed {seed}; " \
        "--params gives trained ones)"
    written = Path(output)
    size = sum(f.stat().st_size for f in written.iterdir()) if written.is_dir() else written.stat().st_size
    click.echo(f"netc: wrote {output}: {size / 1e6:.1f} MB, opset {opset}, {weights}", err=True)


def prior_output_kind(output_kind: str | None, prior: str | None, prior_scale: float | None) -> str:
    """--prior makes the output kind scaled-log-likelihoods; any other --output-kind with it is an error."""
    if prior_scale is not None and prior is None:
        raise NetcError("--prior-scale needs --prior", hint="give --prior PRIOR.txt (written by netc prior)")
    if prior is None:
        return output_kind
    if output_kind not in (None, "scaled-log-likelihoods"):
        raise NetcError(f"--prior makes the output scaled-log-likelihoods, not {output_kind}",
                        hint="drop --output-kind, or drop --prior")
    return "scaled-log-likelihoods"


def load_prior(path: str | None, scale: float | None) -> Any:
    """The prior file read and checked, or None."""
    if path is None:
        return None
    from netc.compiler.onnx.prior import read_prior

    return read_prior(path, 1.0 if scale is None else scale)


def load_params(path: str, graph: Graph) -> dict[str, Any]:
    """A .npz file, a RETURNN TensorFlow checkpoint prefix, or a trainer checkpoint (needs torch, loaded only then)."""
    if path.endswith(".pt"):
        require_torch("reading a .pt checkpoint")
        from netc.trainer.checkpoint import load_params as load_checkpoint_params

        return load_checkpoint_params(path)
    from netc.data.tf_checkpoint import load_arrays
    from netc.ir.params import param_specs

    return load_arrays(path, {spec.name for spec in param_specs(graph)})


runtime_options = [
    click.option("--batch-size", type=click.IntRange(1), default=20000, show_default=True,
                 help="padded frames (longest x count) per batch"),
    click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True),
    click.option("--threads", type=click.IntRange(1), help="onnxruntime threads (default: all cores)"),
]


def with_runtime_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(runtime_options):
        command = option(command)
    return command


def open_model(model: str, batch_size: int, device: str, threads: int | None) -> Any:
    """A runtime Model; onnxruntime's warnings (CUDA fallback) printed as netc warnings."""
    import warnings

    from netc.runtime import Model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner = Model(model, device, threads, batch_frames=batch_size)
    for w in caught:
        warn(str(w.message))
    return runner


def with_progress(data: str, work: Callable[[Callable[[int], None] | None], Any]) -> Any:
    """`work(progress)`, with a progress bar over the frames of `data` when stderr is a terminal."""
    from contextlib import closing

    from netc.data import HdfReader

    if not sys.stderr.isatty():
        return work(None)
    with closing(HdfReader(data)) as reader:
        total = int(reader.input_lengths.sum())
    with click.progressbar(length=total, label="frames", file=sys.stderr) as bar:
        return work(bar.update)


@main.command("run")
@click.argument("model", type=click.Path())
@click.option("--data", "data", required=True, type=click.Path(dir_okay=False), help="features: a RETURNN HDF file")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="posteriors: an HDF file with the same sequence tags")
@with_runtime_options
@click.option("--ctc-greedy", is_flag=True, help="write a CTC model's best-path labels (sparse HDF), not posteriors")
@click.option("--search", is_flag=True, help="beam search of an encoder-decoder folder: write its hypotheses (JSON)")
@click.option("--beam-size", type=click.IntRange(1), help="with --search (default: the config's beam_size)")
@reports_errors
def run_command(model: str, data: str, output: str, batch_size: int, device: str, threads: int | None,
                ctc_greedy: bool, search: bool, beam_size: int | None) -> None:
    """Run MODEL on every sequence of an HDF file; write its outputs per frame to another HDF file (--search: the
    hypotheses of an encoder-decoder, a JSON file)."""
    refuse_overwriting_inputs(output, model, data)
    from netc.runtime.ctc import run_hdf_ctc_greedy
    from netc.runtime.hdf import run_hdf
    from netc.runtime.search import run_hdf_search

    if beam_size is not None and not search:
        raise NetcError("--beam-size goes with --search", hint="add --search, or drop --beam-size")
    if search and ctc_greedy:
        raise NetcError("--search and --ctc-greedy exclude each other", hint="give one of them")
    write = run_hdf_ctc_greedy if ctc_greedy else run_hdf  # labels instead of posteriors, same interface
    if search:
        write = functools.partial(run_hdf_search, beam_size=beam_size)
    runner = open_model(model, batch_size, device, threads)
    if runner.decoder is not None and not search:
        raise NetcError("an encoder-decoder folder is run with --search (its hypotheses)", Where(model),
                        "add --search [--beam-size N]")
    count = with_progress(data, lambda progress: write(runner, data, output, progress))
    click.echo(f"{count} sequences -> {output}", err=True)


@main.command("prior")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--data", "data", required=True, type=click.Path(dir_okay=False),
              help="features: a RETURNN HDF file (the training data)")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="the log prior: one value per line, as RETURNN's compute_priors writes it")
@with_runtime_options
@reports_errors
def prior_command(model: str, data: str, output: str, batch_size: int, device: str, threads: int | None) -> None:
    """Average MODEL's posterior over every frame of an HDF file; write its log (a hybrid decoder's prior)."""
    refuse_overwriting_inputs(output, model, data)
    from netc.runtime.prior import compute_prior

    runner = open_model(model, batch_size, device, threads)
    average, frames = with_progress(data, lambda progress: compute_prior(runner, data, output, progress))
    click.echo(f"{frames} frames, prior sum {average.sum():.6f} (should be close to 1) -> {output}", err=True)


@main.command()
@click.argument("model", type=click.Path())
@reports_errors
def info(model: str) -> None:
    """Print the netc metadata of a compiled MODEL: an .onnx file, or an encoder-decoder folder (its decoder.json,
    then each of its two models' metadata, as netc run and Model(FOLDER) load it)."""
    import json

    if not Path(model).is_dir():
        for key, value in onnx_metadata(model):
            click.echo(f"{key}: {shortened(value)}")
        return
    from netc.runtime.search import SPEC_FILE, read_spec

    spec = read_spec(Path(model))
    click.echo(f"{SPEC_FILE}:")
    for key, value in spec.items():
        click.echo(f"  {key}: {shortened(value if isinstance(value, str) else json.dumps(value))}")
    for part in ("encoder", "decoder_step"):
        click.echo(f"{spec[part]}:")
        for key, value in onnx_metadata(str(Path(model) / spec[part])):
            click.echo(f"  {key}: {shortened(value)}")


def shortened(value: str) -> str:
    return value if len(value) < 200 else value[:200] + "..."


def onnx_metadata(model: str) -> list[tuple[str, str]]:
    """The metadata of a model netc compiled; a NetcError for an unreadable or foreign file."""
    import onnx

    try:  # protobuf whatever the file's name (onnx would read a .json or .txt name as its text formats)
        proto = onnx.load(model, format="protobuf", load_external_data=False)
    except Exception as e:  # noqa: BLE001 - onnx raises several types for unreadable files
        raise NetcError(f"not a readable ONNX model: {e}", Where(model)) from None
    if not any(prop.key.startswith("netc.") for prop in proto.metadata_props):
        raise NetcError("not a model compiled by netc: it has no netc metadata", Where(model),
                        "an empty or foreign file; compile one with netc compile")
    return [(prop.key, prop.value) for prop in proto.metadata_props]


@main.command(context_settings=OVERRIDES)
@click.argument("config", type=click.Path(dir_okay=False))
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
@click.option("--exec-config", is_flag=True, help="run a trusted Python config instead of reading literals")
@reports_errors
def train(config: str, overrides: tuple[str, ...], exec_config: bool) -> None:
    """Train the network of CONFIG with PyTorch; `++key value` pairs override config keys."""
    from netc.trainer.setup import LogFiles, check_device, prepare

    setup = prepare(config, overrides, exec_config)
    require_torch("netc train")
    # NOTE: idle OpenMP threads sleep instead of spinning (read when torch loads OpenMP, so before
    # check_device imports it). On a busy CPU the spinning threads took the cores the working ones needed:
    # 2-3x slower steps (docs/training.md, Benchmark).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    check_device(setup)
    from netc.trainer.loop import Trainer  # imports torch, only for training

    files = LogFiles(setup.config)

    def log(line: str) -> None:
        click.echo(line)
        files.write(line)

    try:
        trainer = Trainer(setup, log=log)
        if trainer.ranks.is_main:
            for warning in (*setup.warnings, *trainer.graph.warnings):
                warn(warning)
                files.write(f"netc: warning: {warning}")
        trainer.run()
    finally:
        files.close()


@main.command("dump-dataset", context_settings=OVERRIDES)
@click.argument("config", type=click.Path(dir_okay=False))
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
@click.option("--dataset", "role", type=click.Choice(["train", "dev", "eval"]), default="train", show_default=True)
@click.option("--epoch", type=click.IntRange(1), default=1, show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="the .hdf file to write")
@click.option("--exec-config", is_flag=True, help="run a trusted Python config instead of reading literals")
@reports_errors
def dump_dataset(config: str, overrides: tuple[str, ...], role: str, epoch: int, output: str,
                 exec_config: bool) -> None:
    """Write the sequences the trainer reads in EPOCH, in its order, as a RETURNN HDF file."""
    refuse_overwriting_inputs(output, config)
    from netc.data import write_hdf
    from netc.ir.keys import DUMP
    from netc.trainer.setup import prepare

    setup = prepare(config, overrides, exec_config, DUMP, (role,))
    for warning in setup.warnings:
        warn(warning)
    if role not in setup.datasets:
        raise NetcError(f"the config has no {role!r} dataset", Where(config))
    corpus, _, order, skipped = setup.epoch(role, epoch)
    dataset = setup.datasets[role]
    count = write_hdf(output, (corpus[int(i)] for i in order), dataset.num_inputs, dataset.target_dims)
    click.echo(f"wrote {count} sequences to {output}" + (f" ({skipped} skipped by max_seq_length)" if skipped else ""))


if __name__ == "__main__":
    main()
