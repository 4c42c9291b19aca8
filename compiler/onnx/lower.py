"""Typed IR -> ONNX ModelProto, per onnx-contract.md. One lowering rule per layer class."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from netc.ir import Act, Graph, NetcError, Node, TimeAxis, canonical_json, output_batch_norm
from netc.ir.build import check_model_output
from netc.ir.layers import (
    Activation,
    BatchNorm,
    Combine,
    Constant,
    Conv,
    Copy,
    Dot,
    Downsample,
    Dropout,
    Eval,
    ExpandDims,
    Gather,
    GatherNd,
    Gating,
    Layer,
    LayerNorm,
    Length,
    Linear,
    MergeDims,
    Norm,
    Pad,
    Pool,
    PositionalEncoding,
    Rec,
    Reduce,
    ReinterpretData,
    RelativePositionalEncoding,
    SelfAttention,
    Slice,
    Softmax,
    SplitDims,
    Squeeze,
    Subnetwork,
    SwapAxes,
    Switch,
    TimeChunking,
    TimeUnChunking,
    TransposedConv,
    Upsample,
    Variable,
    Window,
)
from netc.ir.types import Loss
from onnx import helper

import netc

from .builder import FLOAT, INT32, OnnxBuilder, tensor_info
from .chunking import lower_time_chunking, lower_time_unchunking
from .context import DATA, LowerContext
from .conv import lower_conv, lower_pool, lower_transposed_conv
from .dot import lower_dot
from .elementwise import lower_combine, lower_constant, lower_eval, lower_gating, lower_length, lower_reduce
from .linear import lower_linear, lower_softmax
from .norm import lower_batch_norm, lower_layer_norm, lower_norm
from .prior import SCALED_LOG_LIKELIHOODS, Prior, subtract_prior
from .rec import lower_rec
from .rec_loop import UNIT_LOWER
from .reshape import (
    lower_expand_dims,
    lower_merge_dims,
    lower_pad,
    lower_reinterpret_data,
    lower_slice,
    lower_split_dims,
    lower_squeeze,
    lower_swap_axes,
)
from .sampling import lower_downsample, lower_upsample
from .select import lower_gather, lower_switch
from .self_attention import lower_positional_encoding, lower_relative_positional_encoding, lower_self_attention
from .simple import lower_activation, lower_identity
from .streaming import check_streaming
from .variable import lower_variable
from .window import lower_window

LOWER: dict[type[Layer], Callable[[Node, Any, LowerContext], str]] = {
    Linear: lower_linear,
    Softmax: lower_softmax,
    Rec: lower_rec,
    Copy: lower_identity,
    Dropout: lower_identity,
    Activation: lower_activation,
    SplitDims: lower_split_dims,
    MergeDims: lower_merge_dims,
    SwapAxes: lower_swap_axes,
    ExpandDims: lower_expand_dims,
    Squeeze: lower_squeeze,
    Slice: lower_slice,
    Pad: lower_pad,
    Combine: lower_combine,
    Eval: lower_eval,
    Gating: lower_gating,
    Constant: lower_constant,
    Reduce: lower_reduce,
    Length: lower_length,
    LayerNorm: lower_layer_norm,
    Norm: lower_norm,
    BatchNorm: lower_batch_norm,
    Window: lower_window,
    Conv: lower_conv,
    Pool: lower_pool,
    Subnetwork: lower_identity,
    ReinterpretData: lower_reinterpret_data,
    Downsample: lower_downsample,
    Upsample: lower_upsample,
    Variable: lower_variable,
    Dot: lower_dot,
    TransposedConv: lower_transposed_conv,
    TimeChunking: lower_time_chunking,
    TimeUnChunking: lower_time_unchunking,
    SelfAttention: lower_self_attention,
    PositionalEncoding: lower_positional_encoding,
    RelativePositionalEncoding: lower_relative_positional_encoding,
    Switch: lower_switch,
    Gather: lower_gather,
    GatherNd: lower_gather,
} | UNIT_LOWER  # compare, reduce_out (rec_loop.py), softmax_over_spatial, generic_attention (attention.py): any dims

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

    output_kind: str | None = None  # None: log-probs for a CTC output layer, else probs
    opset: int = DEFAULT_OPSET
    streaming: bool = False  # rec states as graph inputs and outputs (streaming.py)
    quantize: str | None = None  # "int8": dynamic quantization of the weights (quantize.py)
    prior: Prior | None = None  # output kind scaled-log-likelihoods: log softmax - scale * log prior (prior.py)


def output_kind(graph: Graph, options: CompileOptions) -> str:
    """The chosen output kind; by default log-probs for a CTC output layer (what CTC decoders read), else probs."""
    if options.output_kind is not None:
        return options.output_kind
    layer = graph.output.layer
    return "log-probs" if layer.loss is Loss.CTC and isinstance(layer, Softmax) else "probs"


def ctc_blank(graph: Graph) -> int | None:
    """The blank's index among the outputs of a CTC output layer (the last, unless use_native sets one)."""
    layer = graph.output.layer
    if layer.loss is not Loss.CTC:
        return None
    index = layer.loss_opts.ctc_opts.blank_index
    classes = graph.output.out_type.feature
    if index is not None and not -classes <= index < classes:
        raise NetcError(f"blank_index {index} is outside the layer's {classes} outputs",
                        graph.output.at("loss_opts"), f"use 0..{classes - 1}, or -1 for the last")
    return classes - 1 if index is None else index % classes


def output_activation(graph: Graph, kind: str) -> Act | None:
    """The output layer's final activation for an output kind (None: keep the layer's own)."""
    if kind not in OUTPUT_KINDS:
        raise NetcError(f"unknown output kind {kind!r}", hint=f"use one of {', '.join(OUTPUT_KINDS)}")
    if graph.output.layer.batch_norm is not None:  # RETURNN's post_init normalizes the probabilities
        if kind != "probs":
            raise NetcError(f"output kind {kind}: the output layer's batch_norm option normalizes its "
                            "activations (RETURNN's LayerBase.post_init, after the softmax), which are then no "
                            "probabilities to take the log of", graph.output.at("batch_norm"),
                            "pass --output-kind probs (the normalized output, as RETURNN computes it), or move "
                            "the batch_norm option to the layer before the output")
        return None  # the layer's own activation, then the normalization (whose activation stays identity)
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
    check_model_output(graph)
    if options.streaming:
        check_streaming(graph)
    check_prior(graph, options)
    b = OnnxBuilder()
    time_major = any(isinstance(n.layer, Rec) for n in graph.nodes)
    encoders = frozenset(e for n in graph.nodes if isinstance(n.layer, Rec) for e in n.layer.encoder or ())
    ctx = LowerContext(graph, params, b, time_major, encoders=encoders,
                       output_act=output_activation(graph, output_kind(graph, options)), opset=options.opset,
                       streaming=options.streaming)
    inputs = declare_inputs(graph, ctx)
    for name in OUTPUT_NAMES:
        b.reserve(name)
    lower_nodes(graph, ctx)
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


def lower_nodes(graph: Graph, ctx: LowerContext) -> None:
    """One lowering per node, in graph order, each with its batch_norm option."""
    for node in graph.nodes:
        if type(node.layer) not in LOWER:  # a rec unit that is not the network's output (rec_loop.py)
            raise NetcError(f"a {node.layer.class_name} layer with a unit dict is compiled only as the network's "
                            "output (a decoder searched by its choice)", node.where,
                            "name that rec layer 'output'; netc compiles it to an encoder and a decoder step")
        ctx.values[node.name] = LOWER[type(node.layer)](node, node.layer, ctx)
        normalized = output_batch_norm(node)  # the layer's batch_norm option, on its output
        if normalized is not None:
            ctx.values[node.name] = LOWER[type(normalized.layer)](normalized, normalized.layer, ctx)


def declare_inputs(graph: Graph, ctx: LowerContext) -> list[onnx.ValueInfoProto]:
    """`data` (float `[batch, time, F]`, or int32 `[batch, time]` class indices) and the lengths."""
    b, t = ctx.builder, graph.input_type
    data = (tensor_info(b.reserve(DATA), INT32, ["batch", "time"]) if t.sparse
            else tensor_info(b.reserve(DATA), FLOAT, ["batch", "time", t.feature]))
    inputs = [data, tensor_info(b.reserve(LENGTH_INPUTS[TimeAxis.DATA]), INT32, ["batch"])]
    ctx.lengths[TimeAxis.DATA] = LENGTH_INPUTS[TimeAxis.DATA]
    if graph.is_encoder_decoder:
        inputs.append(tensor_info(b.reserve(LENGTH_INPUTS[TimeAxis.CLASSES]), INT32, ["batch"]))
        ctx.lengths[TimeAxis.CLASSES] = LENGTH_INPUTS[TimeAxis.CLASSES]
    # NOTE: padded class indices may be anything (-1 is common); 0 keeps every embedding lookup in range
    value = ctx.mask(t, DATA, "data/padding", stored=False) if t.sparse else DATA
    ctx.values[DATA] = ctx.stored(value, t, "data")
    return inputs


def declare_outputs(graph: Graph, ctx: LowerContext) -> list[onnx.ValueInfoProto]:
    """`output` batch-major with padded frames set to 0, and `output:size1`, the output's own lengths (the
    output's type checked by `check_model_output`)."""
    b, out = ctx.builder, graph.output
    t = out.out_type
    y = ctx.batch_major(ctx.values[out.name], t, "output")
    ctx.mask(t, y, "output", stored=False, exact=True)
    b.op("Identity", ctx.length_value(t.time), name="output:size1", exact=True)
    static = [d.size for d in t.dims[2:]]
    return [tensor_info("output", FLOAT, ["batch", "out_time", *static]),
            tensor_info("output:size1", INT32, ["batch"])]


def metadata(graph: Graph, options: CompileOptions) -> dict[str, str]:
    """What the runtime and `netc info` read back."""
    blank = ctc_blank(graph)
    return {
        "netc.version": netc.__version__,
        "netc.net": canonical_json(graph),
        "netc.num_inputs": str(graph.input_type.feature),
        "netc.sparse_input": str(graph.input_type.sparse).lower(),  # data: int32 [batch, time] class indices
        "netc.num_outputs": str(graph.output.out_type.feature),
        "netc.output_kind": output_kind(graph, options),
        "netc.opset": str(options.opset),
        "netc.encoder_decoder": str(graph.is_encoder_decoder).lower(),
        "netc.output_time": graph.output.out_type.time.value,  # data, classes, or a derived axis (data/2)
        "netc.streaming": str(options.streaming).lower(),
        "netc.quantize": options.quantize or "none",
    } | ({} if blank is None else {"netc.ctc_blank": str(blank)}) | prior_metadata(options.prior)


def prior_metadata(prior: Prior | None) -> dict[str, str]:
    """Where the baked prior came from and its scale (the values are the `output/scaled_log_prior` initializer)."""
    if prior is None:
        return {}
    return {"netc.prior_scale": repr(prior.scale), "netc.prior_file": prior.file}

