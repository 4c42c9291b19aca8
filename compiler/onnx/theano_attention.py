"""ONNX lowering of RETURNN Theano's decoder LSTM with `"recurrent_transform": "attention_list"`: one `Loop` over
the decoder steps (the native LSTM op cannot add an attention to its gates). docs/netdict.md, "Theano attention:
recurrent_transform attention_list", lists each formula with its source line in RETURNN 1.20190515's
`RecurrentTransform.py` (RT) and `NetworkRecurrentLayer.py` (NRL).

Outside the loop: each base's frames `B [B, T, F]` and template vectors `C [B, T, K]` batch-major with padded frames
0, its valid frames `[B, T]` and lengths. The loop body (state h, c `[B, n]`) computes the attention and one LSTM
step in netc's gate order j, i, f, o; a sequence past its own length keeps its state. The loop's scan output is
`[S, B, n]` in step order; a backward decoder's step k is frame len - 1 - k of its sequence, put back in place by
one GatherElements.
"""

from __future__ import annotations

import numpy as np
import onnx
from netc.ir import Direction, Node
from netc.ir.layers import Rec
from netc.ir.layers.theano_attention import SUFFIX, Distance, Norm, TheanoAttention
from onnx import TensorProto, helper

from .builder import FLOAT, INT32, OnnxBuilder
from .context import LowerContext

INT64 = TensorProto.INT64


class BodyBuilder(OnnxBuilder):
    """Builds a subgraph: names unique across the whole model; constants and weights live in the outer graph,
    which the body reads by name (ONNX outer-scope values)."""

    def __init__(self, outer: OnnxBuilder) -> None:
        super().__init__()
        self.outer, self.used_names = outer, outer.used_names

    def const(self, value: np.ndarray | list[int] | int | float, dtype: type = np.int64) -> str:
        return self.outer.const(value, dtype)

    def initializer(self, name: str, value: np.ndarray) -> str:
        return self.outer.initializer(name, value)


class Lowering:
    """One attention decoder: the builder in use (outer, then the loop body) and the node's names."""

    def __init__(self, node: Node, att: TheanoAttention, ctx: LowerContext) -> None:
        self.node, self.att, self.ctx, self.b = node, att, ctx, ctx.builder
        self.n = node.out_type.feature

    def op(self, op_type: str, *inputs: str, **attrs: object) -> str:
        """One node in the builder in use, named `NODE/op_type` (made unique by the builder)."""
        return self.b.op(op_type, *inputs, name=f"{self.node.name}/{op_type.lower()}", **attrs)

    def param(self, suffix: str) -> str:
        """The layer's parameter `suffix` (e.g. `rec/W_re`) as an initializer of the outer graph."""
        return self.ctx.builder.initializer(f"{self.node.name}/{suffix}", self.ctx.param(self.node, suffix))

    def scalar(self, value: float) -> str:
        """A float32 scalar constant."""
        return self.b.const(value, np.float32)

    def reduce(self, op: str, x: str, axis: int, keepdims: bool = False) -> str:
        """A Reduce* over one axis (axes an input from opset 18, ReduceSum from 13)."""
        if op == "ReduceSum" or self.ctx.opset >= 18:
            return self.op(op, x, self.b.const([axis]), keepdims=int(keepdims))
        return self.op(op, x, axes=[axis], keepdims=int(keepdims))

    def where(self, valid: str, x: str, fill: float = 0.0) -> str:
        """`x` on valid frames, `fill` on padded ones."""
        return self.op("Where", valid, x, self.scalar(fill))


def lower_attention_decoder(node: Node, layer: Rec, ctx: LowerContext) -> str:
    """The decoder's output `[S, B, n]` (time-major, padded frames 0)."""
    att = layer.theano_attention
    assert att is not None
    low = Lowering(node, att, ctx)
    bases = [base_values(low, name, i) for i, name in enumerate(att.base)]
    h0, c0 = (low.op("Concat", *[ctx.final_states[e][k] for e in layer.encoder or ()], axis=2) for k in (0, 1))
    h0, c0 = (low.op("Squeeze", s, ctx.builder.const([0])) for s in (h0, c0))  # [1, B, n] -> [B, n]
    lengths = low.op("Cast", ctx.length_value(node.out_type.time), to=INT64)
    steps = low.op("ReduceMax", lengths, keepdims=0)  # no axes: over all (every opset)
    body = loop_body(low, bases, lengths)
    outputs = ctx.builder.op_multi("Loop", steps, ctx.builder.const(True, np.bool_), h0, c0,
                                   name=f"{node.name}/loop", outputs=3, body=body)
    y = outputs[2]  # [S, B, n], step order
    if layer.direction is Direction.BACKWARD:
        y = frames_in_place(low, y, lengths)
    return ctx.mask(node.out_type, y, f"{node.name}/output")


def base_values(low: Lowering, name: str, i: int) -> tuple[str, str, str, str]:
    """(B, C, valid, lengths) of base `i`: B `[B, T, F]` and C `[B, T, K]` with padded frames 0 (RT lines 486-506:
    C = B where its dim is the template, else `tanh(B W_att_bs + b_att_bs)` minus its mean over the sequence's
    frames, RT lines 496, 501), valid `[B, T, 1]` bool, lengths `[B, 1]` float."""
    ctx, t = low.ctx, low.ctx.type_of(name)
    frames = ctx.batch_major(ctx.values[name], t, f"{low.node.name}/base{i}")
    lengths = ctx.length_value(t.time)
    steps = low.op("Cast", low.op("Gather", low.op("Shape", frames), ctx.builder.const(1), axis=0), to=INT32)
    index = low.op("Range", ctx.builder.const(0, np.int32), steps, ctx.builder.const(1, np.int32))
    valid = low.op("Less", low.op("Unsqueeze", index, ctx.builder.const([0])),
                   low.op("Unsqueeze", lengths, ctx.builder.const([1])))
    valid = low.op("Unsqueeze", valid, ctx.builder.const([2]))  # [B, T, 1]
    count = low.op("Cast", low.op("Unsqueeze", lengths, ctx.builder.const([1])), to=FLOAT)  # [B, 1]
    B = low.where(valid, frames)
    if t.feature == low.att.template:
        return B, B, valid, count
    h_att = low.op("Tanh", low.op("Add", low.op("MatMul", B, low.param(f"W_att_bs_{i}{SUFFIX}")),
                                  low.param(f"b_att_bs_{i}{SUFFIX}")))
    return B, low.where(valid, low.op("Sub", h_att, sequence_mean(low, h_att, valid, count))), valid, count


def sequence_mean(low: Lowering, x: str, valid: str, count: str) -> str:
    """`[B, 1, F]`: the mean of `x` `[B, T, F]` over each sequence's valid frames (`count` `[B, 1]` of them; a
    sequence without frames divides by 1)."""
    total = low.reduce("ReduceSum", low.where(valid, x), 1, keepdims=True)
    return low.op("Div", total, low.op("Unsqueeze", low.op("Max", count, low.scalar(1.0)), low.b.const([2])))


def loop_body(low: Lowering, bases: list[tuple[str, str, str, str]], lengths: str) -> onnx.GraphProto:
    """The Loop body: (iteration, cond, h, c) -> (cond, h', c', y_k) with y_k the step's h before masking."""
    outer = low.b
    low.b = body = BodyBuilder(outer)
    name, n = low.node.name, low.n
    k, cond, h, c = (body.fresh(f"{name}/body/{v}") for v in ("k", "cond", "h", "c"))
    gates = low.op("Add", low.op("Add", attend(low, h, bases), low.op("MatMul", h, low.param("rec/W_re"))),
                   low.param("rec/b"))  # NRL lines 156, 159
    j, i, f, o = (low.op("Slice", gates, body.const([g * n]), body.const([(g + 1) * n]), body.const([1]))
                  for g in range(4))
    c_new = low.op("Add", low.op("Mul", low.op("Sigmoid", f), c),
                   low.op("Mul", low.op("Sigmoid", i), low.op("Tanh", j)))  # NRL line 165
    h_new = low.op("Mul", low.op("Sigmoid", o), low.op("Tanh", c_new))  # NRL line 166
    active = low.op("Unsqueeze", low.op("Less", k, lengths), body.const([1]))  # [B, 1]
    outputs = [low.op("Identity", cond), low.op("Where", active, h_new, h), low.op("Where", active, c_new, c),
               low.op("Identity", h_new)]
    low.b = outer
    graph = body.graph
    graph.name = f"{name}/step"
    graph.input.extend([helper.make_tensor_value_info(k, INT64, []),
                        helper.make_tensor_value_info(cond, TensorProto.BOOL, []),
                        helper.make_tensor_value_info(h, FLOAT, [None, n]),
                        helper.make_tensor_value_info(c, FLOAT, [None, n])])
    graph.output.extend([helper.make_tensor_value_info(outputs[0], TensorProto.BOOL, []),
                         helper.make_tensor_value_info(outputs[1], FLOAT, [None, n]),
                         helper.make_tensor_value_info(outputs[2], FLOAT, [None, n]),
                         helper.make_tensor_value_info(outputs[3], FLOAT, [None, n])])
    return graph


def attend(low: Lowering, h: str, bases: list[tuple[str, str, str, str]]) -> str:
    """RT AttentionList.attend (lines 575-627): `[B, 4n]`, the sum over bases of `z W_att_in + b_att_in`."""
    att, inp = low.att, None
    for i, (B, C, valid, count) in enumerate(bases):
        glimpse = None
        for _ in range(att.glimpses):  # RT line 578
            z_p = h
            if att.template != low.n:  # RT lines 557-560
                z_p = low.op("Add", low.op("MatMul", h, low.param(f"W_att_re_{i}{SUFFIX}")),
                             low.param(f"b_att_re_{i}{SUFFIX}"))
            if glimpse is not None:
                z_p = low.op("Add", z_p, glimpse)  # RT line 571
            H = low.op("Unsqueeze", low.op("Tanh", z_p), low.b.const([1]))  # RT line 572, [B, 1, K]
            w = weights(low, distance(low, C, H), valid, count)  # RT lines 580-581, [B, T, 1]
            glimpse = low.reduce("ReduceSum", low.op("Mul", C, w), 1)  # RT line 598
        if att.nbest == 1:
            z = best_frame(low, B, w, valid)  # RT line 620
        else:
            z = low.reduce("ReduceSum", low.op("Mul", B, w), 1)  # RT line 622
        term = low.op("Add", low.op("MatMul", z, low.param(f"W_att_in_{i}{SUFFIX}")),
                      low.param(f"b_att_in_{i}{SUFFIX}"))
        inp = term if inp is None else low.op("Add", inp, term)  # RT line 625
    assert inp is not None
    return inp


def distance(low: Lowering, C: str, H: str) -> str:
    """RT AttentionBase.distance (lines 331-357): `[B, T, 1]` from C `[B, T, K]` and H `[B, 1, K]`."""
    kind = low.att.distance
    if kind in (Distance.L2, Distance.SQR):
        d = low.op("Sub", C, H)
        squares = low.op("Mul", d, d)
        if kind is Distance.SQR:
            return low.reduce("ReduceMean", squares, 2, keepdims=True)  # RT line 341
        return low.op("Sqrt", low.reduce("ReduceSum", squares, 2, keepdims=True))  # RT line 337
    if kind is Distance.LOGL2:  # RT line 339
        half = low.scalar(0.5)
        log_c = low.op("Log", low.op("Mul", low.op("Add", C, low.scalar(1.0)), half))
        log_h = low.op("Log", low.op("Mul", low.op("Add", H, low.scalar(1.0)), half))
        d = low.op("Sub", log_c, log_h)
        return low.op("Sqrt", low.reduce("ReduceSum", low.op("Mul", d, d), 2, keepdims=True))
    if kind is Distance.DOT:
        return low.reduce("ReduceSum", low.op("Mul", C, H), 2, keepdims=True)  # RT line 343
    if kind is Distance.L1:
        return low.reduce("ReduceSum", low.op("Abs", low.op("Sub", C, H)), 2, keepdims=True)  # RT line 345
    if kind is Distance.COS:  # RT lines 347-349
        J, K = (low.op("Div", v, low.op("Add", low.op("Sqrt", low.reduce("ReduceSum", low.op("Mul", v, v), 2,
                                                                          keepdims=True)), low.scalar(1e-5)))
                for v in (H, C))
        return low.reduce("ReduceSum", low.op("Mul", K, J), 2, keepdims=True)
    tanh = low.op("Tanh", low.op("Add", C, H))  # transpose, RT line 354
    return low.reduce("ReduceSum", low.op("Mul", tanh, low.param(f"W_T{SUFFIX}")), 2, keepdims=True)


def weights(low: Lowering, D: str, valid: str, count: str) -> str:
    """RT AttentionBase.softmax (lines 390-421) over each sequence's valid frames: `[B, T, 1]`, 0 on padded."""
    att = low.att
    D = low.op("Mul", D, low.scalar(att.sharpening))  # RT line 391
    if att.norm is Norm.EXP:  # RT lines 393-395
        mean = sequence_mean(low, D, valid, count)
        E = low.where(valid, low.op("Exp", low.op("Neg", low.op("Sub", D, mean))))
        E = low.op("Div", E, low.op("Max", low.reduce("ReduceSum", E, 1, keepdims=True), low.scalar(1e-20)))
    elif att.norm is Norm.LINEAR:  # RT lines 397-398
        E = low.where(valid, D)
        share = low.op("Div", E, low.op("Max", low.reduce("ReduceSum", E, 1, keepdims=True), low.scalar(1e-20)))
        E = low.where(valid, low.op("Sub", low.scalar(1.0), share))
    else:  # sigmoid, RT line 400
        tanh = low.op("Tanh", D)
        E = low.where(valid, low.op("Sub", low.scalar(1.0), low.op("Mul", tanh, tanh)))
    if att.nbest > 1:
        E = keep_nbest(low, E, valid, count)
    return E


def keep_nbest(low: Lowering, E: str, valid: str, count: str) -> str:
    """RT lines 417-420: weights below the min(nbest, T)-th largest of the sequence's set to 0."""
    b = low.b
    ranked = low.where(valid, E, -np.inf)
    frames = low.op("Gather", low.op("Shape", ranked), b.const([1]), axis=0)
    k = low.op("Min", frames, b.const([low.att.nbest]))
    top = b.op_multi("TopK", ranked, k, name=f"{low.node.name}/topk", outputs=2, axis=1)[0]  # [B, k, 1], descending
    index = low.op("Cast", low.op("Min", count, low.scalar(float(low.att.nbest))), to=INT64)
    index = low.op("Unsqueeze", low.op("Max", low.op("Sub", index, b.const(1)), b.const(0)), b.const([2]))
    score = low.op("GatherElements", top, index, axis=1)  # [B, 1, 1]
    return low.op("Where", low.op("Less", E, score), low.scalar(0.0), E)


def best_frame(low: Lowering, B: str, w: str, valid: str) -> str:
    """`[B, F]`: the frame of B with the largest weight (RT line 620); Theano scans a backward decoder's base
    reversed (RT line 486), so there `T.argmax` finds the last of equal maxima (ArgMax select_last_index)."""
    b = low.b
    scores = low.where(valid, w, -np.inf)
    last = int(low.node.layer.direction is Direction.BACKWARD)
    best = low.op("ArgMax", scores, axis=1, keepdims=1, select_last_index=last)  # [B, 1, 1]
    index = low.op("Expand", best, low.op("Concat", b.const([1, 1]), low.op("Gather", low.op("Shape", B),
                                                                            b.const([2]), axis=0), axis=0))
    picked = low.op("GatherElements", B, index, axis=1)  # [B, 1, F]
    return low.op("Squeeze", picked, b.const([1]))


def frames_in_place(low: Lowering, y: str, lengths: str) -> str:
    """A backward decoder's `[S, B, n]` from step order to frame order: frame t of sequence b is step
    `len_b - 1 - t` (clamped at 0; those frames are padded and masked after)."""
    b = low.b
    steps = low.op("Gather", low.op("Shape", y), b.const(0), axis=0)
    t = low.op("Unsqueeze", low.op("Range", b.const(0), steps, b.const(1)), b.const([1]))  # [S, 1]
    index = low.op("Sub", low.op("Sub", low.op("Unsqueeze", lengths, b.const([0])), b.const(1)), t)  # [S, B]
    index = low.op("Unsqueeze", low.op("Max", index, b.const(0)), b.const([2]))
    index = low.op("Expand", index, low.op("Shape", y))
    return low.op("GatherElements", y, index, axis=0)
