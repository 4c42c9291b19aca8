"""Typed IR -> ONNX ModelProto, per onnx-contract.md. One lowering rule per layer class."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from netc.ir import Act, Graph, NetcError, Node, TimeAxis, canonical_json
from netc.ir.layers import Activation, Copy, Dropout, Layer, Linear, Rec, Softmax
from onnx import helper

import netc

from .builder import FLOAT, INT32, OnnxBuilder, tensor_info
from .context import DATA, LowerContext
from .linear import lower_linear, lower_softmax
from .prior import SCALED_LOG_LIKELIHOODS, Prior, subtract_prior
from .rec import lower_rec
from .simple import lower_activation, lower_identity
from .streaming import check_streaming

LOWER: dict[type[Layer], Callable[[Node, Any, LowerContext], str]] = {
    Linear: lower_linear,
    Softmax: lower_softmax,
    Rec: lower_rec,
    Copy: lower_identity,
    Dropout: lower_identity,
    Activation: lower_activation,
}

# The IR version each opset needs; never onnx's newest defaults (onnxruntime refuses them).
IR_VERSION = {14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}
DEFAULT_OPSET = 17
OUTPUT_KINDS: dict[str, Act] = {"probs": Act.SOFTMAX, "log-probs": Act.LOG_SOFTMAX, "logits": Act.IDENTITY,
                                 SCALED_LOG_LIKELIHOODS: Act.LOG_SOFTMAX}  # minus the scaled log prior (prior.py)
OUTPUT_NAMES = ("output", "output:size1")
LENGTH_INPUTS = {TimeAxis.DATA: "data:size1", TimeAxis.CLASSES: "classes:size1"}


@dataclass(frozen=True)
class CompileOptions:
    """What `netc compile` may change about the model; the defaults are the contract's."""

    output_kind: str = "probs"
    opset: int = DEFAULT_OPSET
    streaming: bool = False  # rec states as graph inputs and outputs (streaming.py)
    quantize: str | None = None  # "int8": dynamic quantization of the weights (quantize.py)
    prior: Prior | None = None  # output kind scaled-log-likelihoods: log softmax - scale * log prior (prior.py)


def output_activation(graph: Graph, kind: str) -> Act | None:
    """The output layer's final activation for an output kind (None: keep the layer's own)."""
    if kind not in OUTPUT_KINDS:
        raise NetcError(f"unknown output kind {kind!r}", hint=f"use one of {', '.join(OUTPUT_KINDS)}")
    if isinstance(graph.output.layer, Softmax):
        return OUTPUT_KINDS[kind]
    if kind != "probs":
        raise NetcError(f"--output-kind {kind} needs a softmax output layer", graph.output.where,
                        "the output layer's own activation is used as it is; drop --output-kind")
    return None


def check_prior(graph: Graph, options: CompileOptions) -> None:
    """A prior exactly with output kind scaled-log-likelihoods, one value per output class."""
    if (options.prior is None) != (options.output_kind != SCALED_LOG_LIKELIHOODS):
        raise NetcError(f"output kind {SCALED_LOG_LIKELIHOODS} goes with a prior, and a prior with it",
                        hint="give --prior PRIOR.txt [--prior-scale a] and no other --output-kind")
    if options.prior is not None:
        options.prior.check_classes(graph.output.out_type.feature)


def lower_graph(graph: Graph, params: dict[str, np.ndarray], options: CompileOptions = CompileOptions()
                ) -> onnx.ModelProto:
    """Build the whole model: inputs, one lowering per node, the masked output, metadata."""
    if options.opset not in IR_VERSION:
        raise NetcError(f"opset {options.opset} is not supported",
                        hint=f"use one of {min(IR_VERSION)}..{max(IR_VERSION)} (default {DEFAULT_OPSET})")
    if options.streaming:
        check_streaming(graph)
    check_prior(graph, options)
    b = OnnxBuilder()
    time_major = any(isinstance(n.layer, Rec) for n in graph.nodes)
    encoders = frozenset(e for n in graph.nodes if isinstance(n.layer, Rec) for e in n.layer.encoder or ())
    ctx = LowerContext(graph, params, b, time_major, encoders=encoders,
                       output_act=output_activation(graph, options.output_kind), opset=options.opset,
                       streaming=options.streaming)
    inputs = declare_inputs(graph, ctx)
    for name in OUTPUT_NAMES:
        b.reserve(name)
    for node in graph.nodes:
        ctx.values[node.name] = LOWER[type(node.layer)](node, node.layer, ctx)
    if options.prior is not None:
        ctx.values[graph.output.name] = subtract_prior(b, ctx.values[graph.output.name], options.prior)
    outputs = declare_outputs(graph, ctx)
    model = b.model
    model.graph.name = "netc"
    model.graph.input.extend(inputs + ctx.state_inputs)
    model.graph.output.extend(outputs + ctx.state_outputs)
    model.ir_version = IR_VERSION[options.opset]
    model.producer_name, model.producer_version = "netc", netc.__version__
    model.opset_import.append(helper.make_opsetid("", options.opset))
    helper.set_model_props(model, metadata(graph, options))
    return model


def declare_inputs(graph: Graph, ctx: LowerContext) -> list[onnx.ValueInfoProto]:
    b = ctx.builder
    inputs = [tensor_info(b.reserve(DATA), FLOAT, ["batch", "time", graph.input_type.feature]),
              tensor_info(b.reserve(LENGTH_INPUTS[TimeAxis.DATA]), INT32, ["batch"])]
    ctx.lengths[TimeAxis.DATA] = LENGTH_INPUTS[TimeAxis.DATA]
    if graph.is_encoder_decoder:
        inputs.append(tensor_info(b.reserve(LENGTH_INPUTS[TimeAxis.CLASSES]), INT32, ["batch"]))
        ctx.lengths[TimeAxis.CLASSES] = LENGTH_INPUTS[TimeAxis.CLASSES]
    ctx.values[DATA] = b.op("Transpose", DATA, name="data/time_major", perm=[1, 0, 2]) if ctx.time_major else DATA
    return inputs


def declare_outputs(graph: Graph, ctx: LowerContext) -> list[onnx.ValueInfoProto]:
    """`output` batch-major with padded frames set to 0, and `output:size1`."""
    b, out = ctx.builder, graph.output
    y = ctx.values[out.name]
    if ctx.time_major:
        y = b.op("Transpose", y, name="output/batch_major", perm=[1, 0, 2])
    lengths = ctx.lengths[out.out_type.time]
    steps = b.op("Gather", b.op("Shape", y, name="output/shape"), b.const(1), name="output/steps", axis=0)
    frames = b.op("Range", b.const(0, np.int32), b.op("Cast", steps, name="output/steps32", to=INT32),
                  b.const(1, np.int32), name="output/frames")
    valid = b.op("Less", b.op("Unsqueeze", frames, b.const([0]), name="output/frames_row"),
                 b.op("Unsqueeze", lengths, b.const([1]), name="output/lengths_col"), name="output/valid")
    # NOTE: Where, not Mul by a 0/1 mask: padded garbage may become inf (exp, square) and inf * 0 is NaN.
    valid3 = b.op("Unsqueeze", valid, b.const([2]), name="output/valid3")
    b.op("Where", valid3, y, b.const(np.float32(0), np.float32), name="output", exact=True)
    b.op("Identity", lengths, name="output:size1", exact=True)
    return [tensor_info("output", FLOAT, ["batch", "out_time", out.out_type.feature]),
            tensor_info("output:size1", INT32, ["batch"])]


def metadata(graph: Graph, options: CompileOptions) -> dict[str, str]:
    """What the runtime and `netc info` read back."""
    return {
        "netc.version": netc.__version__,
        "netc.net": canonical_json(graph),
        "netc.num_inputs": str(graph.input_type.feature),
        "netc.num_outputs": str(graph.output.out_type.feature),
        "netc.output_kind": options.output_kind,
        "netc.opset": str(options.opset),
        "netc.encoder_decoder": str(graph.is_encoder_decoder).lower(),
        "netc.output_time": graph.output.out_type.time.value,
        "netc.streaming": str(options.streaming).lower(),
        "netc.quantize": options.quantize or "none",
    } | prior_metadata(options.prior)


def prior_metadata(prior: Prior | None) -> dict[str, str]:
    """Where the baked prior came from and its scale (the values are the `output/scaled_log_prior` initializer)."""
    if prior is None:
        return {}
    return {"netc.prior_scale": repr(prior.scale), "netc.prior_file": prior.file}

