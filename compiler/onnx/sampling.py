"""ONNX lowering of downsample and upsample (ir/layers/sampling.py), on batch-major `[B, T, F]` values."""

from __future__ import annotations

import numpy as np
from netc.ir import Node
from netc.ir.layers import Downsample, Upsample
from netc.ir.layers.sampling import DownsampleMethod

from .context import LowerContext

REDUCE = {DownsampleMethod.AVERAGE: "ReduceMean", DownsampleMethod.MAX: "ReduceMax", DownsampleMethod.MIN: "ReduceMin"}


def lower_downsample(node: Node, layer: Downsample, ctx: LowerContext) -> str:
    b, name, f = ctx.builder, node.name, layer.factors
    x, t = ctx.source_batch_major(node)
    op = REDUCE[layer.method]
    if f.get(0, 1) > 1:  # [B, T, F] -> [B, T//f, f, F] (frames past the last whole group dropped) -> reduce
        k = f[0]
        shape = b.op("Shape", x, name=f"{name}/shape")
        groups = b.op("Div", b.op("Slice", shape, b.const([1]), b.const([2]), name=f"{name}/steps"), b.const([k]),
                      name=f"{name}/groups")
        x = b.op("Slice", x, b.const([0]), b.op("Mul", groups, b.const([k]), name=f"{name}/whole"), b.const([1]),
                 name=f"{name}/cut")
        x = b.op("Reshape", x, b.op("Concat", b.op("Slice", shape, b.const([0]), b.const([1]), name=f"{name}/batch"),
                                    groups, b.const([k, t.feature]), name=f"{name}/grouped_shape", axis=0),
                 name=f"{name}/grouped")
        x = ctx.reduce(op, x, [2], f"{name}/time")
    if f.get(2, 1) > 1:  # [B, T, F] -> [B, T, F//f, f] -> reduce
        x = b.op("Reshape", x, b.const([0, 0, t.feature // f[2], f[2]]), name=f"{name}/feature_groups")
        x = ctx.reduce(op, x, [3], f"{name}/feature")
    return ctx.stored(x, node.out_type, name)


def lower_upsample(node: Node, layer: Upsample, ctx: LowerContext) -> str:
    """Time: frame t of sequence b is x[b, min(t // f, len_b - 1)], t over the last source's padded frames."""
    b, name, f = ctx.builder, node.name, layer.factors
    parts = [ctx.batch_major(ctx.values[s], ctx.type_of(s), f"{name}/in{i}") for i, s in enumerate(layer.values)]
    x = parts[0] if len(parts) == 1 else b.op("Concat", *parts, name=f"{name}/concat", axis=2)
    if f.get(2, 1) > 1:
        x = b.op("Unsqueeze", x, b.const([3]), name=f"{name}/feature_axis")
        x = b.op("Tile", x, b.const([1, 1, 1, f[2]]), name=f"{name}/repeat_features")
        x = b.op("Reshape", x, b.const([0, 0, node.out_type.feature]), name=f"{name}/features")
    if f.get(0, 1) > 1 or (layer.time_like_last_source and 0 in f):
        base_type = ctx.type_of(layer.sources[-1])
        base = ctx.batch_major(ctx.values[layer.sources[-1]], base_type, f"{name}/base")
        steps = b.op("Gather", b.op("Shape", base, name=f"{name}/base_shape"), b.const(base_type.time_index or 1),
                     name=f"{name}/steps", axis=0)
        frames = b.op("Range", b.const(0), steps, b.const(1), name=f"{name}/frames")
        source_frame = b.op("Div", frames, b.const(f.get(0, 1)), name=f"{name}/source_frame")  # [T']
        src_type = ctx.type_of(layer.values[0])
        last = b.op("Sub", b.op("Cast", ctx.length_value(src_type.time), name=f"{name}/len64", to=7), b.const(1),
                    name=f"{name}/last")
        index = b.op("Min", b.op("Unsqueeze", source_frame, b.const([0]), name=f"{name}/row"),
                     b.op("Unsqueeze", b.op("Max", last, b.const(0), name=f"{name}/last0"), b.const([1]),
                          name=f"{name}/col"), name=f"{name}/index")  # [B, T']
        index = b.op("Unsqueeze", index, b.const([2]), name=f"{name}/index3")
        # one extra zero frame: frame 0 exists even when every source sequence is empty
        x = b.op("Pad", x, b.const([0, 0, 0, 0, 1, 0]), name=f"{name}/one_frame", mode="constant")
        target = b.op("Concat", b.op("Slice", b.op("Shape", index, name=f"{name}/index_shape"), b.const([0]),
                                     b.const([2]), name=f"{name}/bt"),
                      b.op("Slice", b.op("Shape", x, name=f"{name}/x_shape"), b.const([2]), b.const([3]),
                           name=f"{name}/feat"), name=f"{name}/target", axis=0)
        x = b.op("GatherElements", x, b.op("Expand", index, target, name=f"{name}/index_full"), name=f"{name}/pick",
                 axis=1)
        # a sequence whose source is empty has no frame to repeat: zeros (Theano's value is undefined there)
        empty = b.op("Unsqueeze", b.op("Less", last, b.const(0), name=f"{name}/empty"), b.const([1, 2]),
                     name=f"{name}/empty3")
        x = b.op("Where", empty, b.const(np.float32(0), np.float32), x, name=f"{name}/zeros")
    return ctx.stored(x, node.out_type, name)

