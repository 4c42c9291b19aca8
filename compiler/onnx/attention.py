"""ONNX lowering of `softmax_over_spatial` and `generic_attention` (ir/layers/attention.py; RETURNN
SoftmaxOverSpatialLayer, GenericAttentionLayer) on any dims: whole sequences outside rec units, one step's values
inside a decoder step (rec_loop.py); trainer/rec_loop.py has their torch form."""

from __future__ import annotations

import numpy as np
from netc.ir import Node
from netc.ir.layers import GenericAttention, SoftmaxOverSpatial
from netc.ir.types import TensorType

from .builder import FLOAT
from .context import LowerContext


def lower_softmax_over_spatial(node: Node, layer: SoftmaxOverSpatial, ctx: LowerContext) -> str:
    """Energies masked to -inf past each length (when the axis is a time axis), scaled by `energy_factor`, softmax
    (log softmax with `log_space`) over the axis (RETURNN SoftmaxOverSpatialLayer)."""
    b = ctx.builder
    x, t = ctx.source_batch_major(node)
    axis = layer.softmax_axis(t)
    if axis == t.time_index:
        x = ctx.mask(t, x, f"{node.name}/mask", stored=False, fill=float("-inf"))
    if layer.window_start is not None:
        x = b.op("Where", in_window(layer, t, x, ctx, f"{node.name}/window"), x,
                 b.const(np.float32(float("-inf")), np.float32), name=f"{node.name}/windowed")
    if layer.energy_factor:
        x = b.op("Mul", x, b.const(np.float32(layer.energy_factor), np.float32), name=f"{node.name}/scaled")
    y = b.op("LogSoftmax" if layer.log_space else "Softmax", x, name=node.name, axis=axis)
    return ctx.stored(y, node.out_type, node.name)


def in_window(layer: SoftmaxOverSpatial, t: TensorType, x: str, ctx: LowerContext, name: str) -> str:
    """RETURNN `SeqLenMaskLayer.build_mask`'s window as a bool mask broadcastable to the batch-major energies `x`:
    frames `start <= t < start + window_size`, compared in float32 (exact for frame numbers below 2^24)."""
    assert layer.window_start is not None and layer.window_size is not None and t.time_index is not None
    b = ctx.builder
    start = ctx.values[layer.window_start]
    if ctx.type_of(layer.window_start).dtype != "float32":
        start = b.op("Cast", start, name=f"{name}/start_float", to=FLOAT)
    after = len(t.dims) - 1 - t.time_index  # axes after time (heads): size 1 in the mask
    start = b.op("Reshape", start, b.const([-1] + [1] * (len(t.dims) - 1)), name=f"{name}/start")
    steps = b.op("Gather", b.op("Shape", x, name=f"{name}/shape"), b.const(t.time_index), name=f"{name}/steps", axis=0)
    frames = b.op("Cast", b.op("Range", b.const(0, np.int64), steps, b.const(1, np.int64), name=f"{name}/range"),
                  name=f"{name}/frames_float", to=FLOAT)
    frames = b.op("Reshape", frames, b.const([-1] + [1] * after), name=f"{name}/frames")
    end = b.op("Add", start, b.const(np.float32(layer.window_size), np.float32), name=f"{name}/end")
    return b.op("And", b.op("GreaterOrEqual", frames, start, name=f"{name}/from_start"),
                b.op("Less", frames, end, name=f"{name}/before_end"), name=f"{name}/in_window")


def lower_generic_attention(node: Node, layer: GenericAttention, ctx: LowerContext) -> str:
    """sum over T of weights times base, as one Einsum over the axes `GenericAttention.axes` matches."""
    assert layer.weights is not None and layer.base is not None
    w_t, base_t = ctx.type_of(layer.weights), ctx.type_of(layer.base)
    kept, _, common = layer.axes(w_t, base_t)
    letters = iter("cdeghijklmnopqrsuvwxyz")
    w_axes = {i: next(letters) for i in range(len(w_t.dims))}
    assert w_t.time_index is not None and base_t.time_index is not None and base_t.feature_index is not None
    w_axes[0], w_axes[w_t.time_index] = "b", "t"
    base_axes = {0: "b", base_t.time_index: "t", base_t.feature_index: "f"}
    base_axes |= {j: w_axes[i] for i, j in common}
    out = "b" + "".join(base_axes[j] for _, j in sorted(common, key=lambda p: p[1]))
    out += "".join(w_axes[i] for i in kept) + "f"
    equation = (f"{''.join(w_axes[i] for i in range(len(w_t.dims)))},"
                f"{''.join(base_axes[j] for j in range(len(base_t.dims)))}->{out}")
    w = ctx.batch_major(ctx.values[layer.weights], w_t, f"{node.name}/weights")
    v = ctx.batch_major(ctx.values[layer.base], base_t, f"{node.name}/base")
    y = ctx.builder.op("Einsum", w, v, name=node.name, equation=equation)
    return ctx.stored(y, node.out_type, node.name)
