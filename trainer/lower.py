"""Typed IR -> torch computation, one lowering rule per layer class (mirrors compiler/onnx/lower.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from netc.ir import Act, Direction, Node
from netc.ir.layers import Activation, Affine, Copy, Dropout, Layer, Linear, PassThrough, Rec, Softmax, Subnetwork
from netc.ir.types import DropoutNoise, Unit

from . import (
    conv,
    dot,
    elementwise,
    norm,
    rec_loop,
    rec_units,
    reshape,
    sampling,
    select,
    self_attention,
    time_chunking,
    variable,
    window,
)
from .constraints import filter_grad
from .context import RunContext
from .lstm import lstm_forward
from .theano_attention import lower_attention_decoder

ACTIVATIONS: dict[Act, Callable[[torch.Tensor], torch.Tensor]] = {
    Act.IDENTITY: lambda x: x,
    Act.RELU: torch.relu,
    Act.TANH: torch.tanh,
    Act.SIGMOID: torch.sigmoid,
    Act.SOFTMAX: lambda x: torch.softmax(x, dim=-1),
    Act.LOG_SOFTMAX: lambda x: torch.log_softmax(x, dim=-1),
    Act.ELU: F.elu,
    Act.SELU: F.selu,
    Act.GELU: F.gelu,
    Act.SOFTPLUS: F.softplus,
    Act.SWISH: F.silu,
    Act.ABS: torch.abs,
    Act.EXP: torch.exp,
    Act.SQUARE: torch.square,
    Act.RELU6: F.relu6,
    Act.LEAKY_RELU: lambda x: F.leaky_relu(x, 0.2),
    Act.SOFTSIGN: F.softsign,
    Act.LOG_SIGMOID: F.logsigmoid,
    Act.SQRT: torch.sqrt,
    Act.LOG: torch.log,
    Act.NEGATIVE: torch.neg,
    Act.SIN: torch.sin,
    Act.COS: torch.cos,
}


def affine(node: Node, layer: Affine, ctx: RunContext) -> torch.Tensor:
    """x W + b, as one fused matrix multiply-add (W is `(n_in, n_out)`: a transposed view, no copy); on class
    indices an embedding lookup."""
    bias = ctx.param(node, "b") if layer.with_bias else None
    W = ctx.param(node, "W")  # (n_in, n_out), or (n_out, n_in) with use_transposed_weights
    if ctx.graph.type_of(node.sources[0]).sparse:
        y = F.embedding(ctx.source(node), W.t() if layer.use_transposed_weights else W)
        return y if bias is None else y + bias
    return F.linear(ctx.source(node), W if layer.use_transposed_weights else W.t(), bias)


def lower_linear(node: Node, layer: Linear, ctx: RunContext) -> torch.Tensor:
    y = filter_grad(node, affine(node, layer, ctx), ctx)
    if layer.darc1:
        ctx.before_activation[node.name] = y
    if layer.activation in (Act.SOFTMAX, Act.LOG_SOFTMAX):
        ctx.logits[node.name] = y
    return ACTIVATIONS[layer.activation](y)


def lower_softmax(node: Node, layer: Softmax, ctx: RunContext) -> torch.Tensor:
    ctx.logits[node.name] = ctx.before_activation[node.name] = filter_grad(node, affine(node, layer, ctx), ctx)
    return torch.softmax(ctx.logits[node.name], dim=-1)


def lower_rec(node: Node, layer: Rec, ctx: RunContext) -> torch.Tensor:
    """An LSTM; a decoder runs on the classes axis from its encoders' final states, with no input."""
    if layer.theano_attention is not None:
        return lower_attention_decoder(node, layer, ctx)
    if layer.unit is Unit.GRU:
        return rec_units.lower_gru(node, layer, ctx)
    if layer.unit is not Unit.LSTM:
        return rec_units.lower_converted_lstm(node, layer, ctx)
    params = (ctx.param(node, "rec/W"), rec_weights(node, layer, ctx), ctx.param(node, "rec/b"))
    packing = ctx.packing(node.out_type.time)
    if layer.is_decoder:
        encoders = layer.encoder or ()
        initial = tuple(torch.cat([ctx.final_states[e][k] for e in encoders], dim=1) for k in (0, 1))
        x = params[2].new_zeros(packing.frames, 0)
    else:
        initial, x = None, ctx.source(node)
    y, ctx.final_states[node.name] = lstm_forward(x, packing, params, layer.direction is Direction.BACKWARD, initial)
    return y


def rec_weights(node: Node, layer: Rec, ctx: RunContext) -> torch.Tensor:
    """`rec/W_re`, in training with NativeLstm2's `rec_weight_dropout` (inverted dropout per entry)."""
    W_re = ctx.param(node, "rec/W_re")
    p = layer.unit_opts.rec_weight_dropout
    return W_re * ctx.dropout_mask(W_re, p, DropoutNoise.PER_ELEMENT) if ctx.training and p else W_re


def lower_identity(node: Node, layer: PassThrough, ctx: RunContext) -> torch.Tensor:
    """copy, and dropout (its dropout applies to the input, in training only)."""
    return ctx.source(node)


def lower_activation(node: Node, layer: Activation, ctx: RunContext) -> torch.Tensor:
    return ACTIVATIONS[layer.activation or Act.IDENTITY](ctx.source(node))


LOWER: dict[type[Layer], Callable[[Node, Any, RunContext], torch.Tensor]] = {
    Linear: lower_linear,
    Softmax: lower_softmax,
    Rec: lower_rec,
    Copy: lower_identity,
    Dropout: lower_identity,
    Activation: lower_activation,
    reshape.SplitDims: reshape.lower_split_dims,
    reshape.MergeDims: reshape.lower_merge_dims,
    reshape.SwapAxes: reshape.lower_swap_axes,
    reshape.ExpandDims: reshape.lower_expand_dims,
    reshape.Squeeze: reshape.lower_squeeze,
    reshape.Slice: reshape.lower_slice,
    reshape.Pad: reshape.lower_pad,
    reshape.ReinterpretData: reshape.lower_reinterpret_data,
    elementwise.Combine: elementwise.lower_combine,
    elementwise.Eval: elementwise.lower_eval,
    elementwise.Gating: elementwise.lower_gating,
    elementwise.Constant: elementwise.lower_constant,
    elementwise.Reduce: elementwise.lower_reduce,
    elementwise.Length: elementwise.lower_length,
    norm.LayerNorm: norm.lower_layer_norm,
    norm.Norm: norm.lower_norm,
    norm.BatchNorm: norm.lower_batch_norm,
    window.Window: window.lower_window,
    conv.Conv: conv.lower_conv,
    conv.Pool: conv.lower_pool,
    Subnetwork: lower_identity,
    sampling.Downsample: sampling.lower_downsample,
    sampling.Upsample: sampling.lower_upsample,
    variable.Variable: variable.lower_variable,
    dot.Dot: dot.lower_dot,
    conv.TransposedConv: conv.lower_transposed_conv,
    time_chunking.TimeChunking: time_chunking.lower_time_chunking,
    time_chunking.TimeUnChunking: time_chunking.lower_time_unchunking,
    self_attention.SelfAttention: self_attention.lower_self_attention,
    self_attention.PositionalEncoding: self_attention.lower_positional_encoding,
    self_attention.RelativePositionalEncoding: self_attention.lower_relative_positional_encoding,
    **rec_loop.unit_lowerings(),
    **select.SELECT_LOWER,
}
