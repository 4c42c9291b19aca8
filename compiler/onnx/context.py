"""What a layer lowering may use: the builder, parameters, and the values of other layers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from netc.ir import Act, Graph, Node, TimeAxis, param_name
from netc.ir.types import DimKind, Lengths, TensorType
from onnx import numpy_helper

from .builder import INT32, OnnxBuilder

DATA = "data"


@dataclass
class LowerContext:
    """Lowering state of one graph.

    A value's layout is its type's dims in order, except that a `[B, T, ...]` type is stored `[T, B, ...]`
    when `time_major` (a graph with an LSTM: one transpose at the input and output instead of two per LSTM).
    """

    graph: Graph
    params: dict[str, np.ndarray]
    builder: OnnxBuilder
    time_major: bool
    values: dict[str, str] = field(default_factory=dict)  # layer (or "data") -> ONNX value
    lengths: dict[Lengths, str] = field(default_factory=dict)  # time axis -> int32 [B] lengths
    final_states: dict[str, tuple[str, str]] = field(default_factory=dict)  # rec layer -> (Y_h, Y_c)
    zero_inputs: dict[TimeAxis, str] = field(default_factory=dict)
    encoders: frozenset[str] = frozenset()  # rec layers whose final states a decoder reads
    output_act: Act | None = None  # replaces the output layer's activation (--output-kind)
    opset: int = 17
    streaming: bool = False  # rec states are graph inputs and outputs (streaming.py)
    state_inputs: list[onnx.ValueInfoProto] = field(default_factory=list)
    state_outputs: list[onnx.ValueInfoProto] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.builder.share(list(self.params.values()))

    def activation(self, node: Node, act: Act) -> Act:
        """The activation a layer applies: its own, except where --output-kind changes the output's."""
        return self.output_act if node.name == "output" and self.output_act is not None else act

    def param(self, node: Node, suffix: str) -> np.ndarray:
        return self.params[param_name(node, suffix)]

    def source(self, node: Node) -> str:
        """The node's input: its sources concatenated on the feature axis."""
        inputs = [self.values[s] for s in node.sources]
        if len(inputs) == 1:
            return inputs[0]
        rank = len(self.graph.type_of(node.sources[0]).dims)
        return self.builder.op("Concat", *inputs, name=f"{node.name}/concat", axis=rank - 1)

    def type_of(self, name: str) -> TensorType:
        return self.graph.type_of(name)

    def swapped(self, t: TensorType) -> bool:
        """Whether values of type `t` are stored with batch and time swapped (`[T, B, ...]`)."""
        return self.time_major and t.is_packable

    def batch_major(self, value: str, t: TensorType, name: str) -> str:
        """A value of type `t` in the type's own dim order."""
        if not self.swapped(t):
            return value
        return self.builder.op("Transpose", value, name=f"{name}/batch_major", perm=swap_perm(len(t.dims)))

    def stored(self, value: str, t: TensorType, name: str) -> str:
        """A value in its type's dim order -> the stored layout of type `t`."""
        if not self.swapped(t):
            return value
        return self.builder.op("Transpose", value, name=f"{name}/time_major", perm=swap_perm(len(t.dims)))

    def source_batch_major(self, node: Node) -> tuple[str, TensorType]:
        """The node's concatenated input in its type's dim order, with that type."""
        t = self.graph.input_type_of(node)
        return self.batch_major(self.source(node), t, node.name), t

    def reduce(self, op: str, x: str, axes: list[int], name: str, keepdims: bool = False) -> str:
        """A Reduce* op over `axes`: axes are an input from opset 18 on (ReduceSum: from 13), an attribute before."""
        b = self.builder
        if op == "ReduceSum" or self.opset >= 18:
            return b.op(op, x, b.const(axes), name=name, keepdims=int(keepdims))
        return b.op(op, x, name=name, axes=axes, keepdims=int(keepdims))

    def length_value(self, axis: Lengths) -> str:
        """The int32 `[B]` lengths of a time axis; a derived axis's are computed once, by its rule."""
        if axis not in self.lengths:
            assert not isinstance(axis, TimeAxis), f"no lengths input for {axis}"
            b, rule, name = self.builder, axis.rule, f"lengths/{axis}"
            x = self.length_value(axis.parent)
            if rule.factor != 1:
                x = b.op("Mul", x, b.const(rule.factor, np.int32), name=name)
            if rule.add:
                x = b.op("Add", x, b.const(rule.add, np.int32), name=name)
            x = b.op("Max", x, b.const(0, np.int32), name=name)
            if rule.stride != 1:
                x = b.op("Add", x, b.const(rule.stride - 1, np.int32), name=name)
                x = b.op("Div", x, b.const(rule.stride, np.int32), name=name)  # floor: x >= 0
            self.lengths[axis] = x
        return self.lengths[axis]

    def mask(self, t: TensorType, value: str, name: str, stored: bool = True, exact: bool = False,
             fill: float = 0.0) -> str:
        """A value of type `t` (in its stored layout, or its dim order if not `stored`) with every frame beyond
        its sequence's length set to `fill` (0). Where, not Mul by a 0/1 mask: padded garbage may be inf, and inf * 0 is
        NaN. With `exact`, the result is the value named `name` (reserved before)."""
        b = self.builder
        index, swapped = t.time_index, stored and self.swapped(t)
        # batch first; time anywhere after it ([B, F, T] after a swap_axes) unless stored time-major
        assert index is not None and t.dims[0].kind is DimKind.BATCH and (t.is_packable or not swapped)
        index = 0 if swapped else index
        steps = b.op("Gather", b.op("Shape", value, name=f"{name}/shape"), b.const(index), name=f"{name}/steps",
                     axis=0)
        frames = b.op("Range", b.const(0, np.int32), b.op("Cast", steps, name=f"{name}/steps32", to=INT32),
                      b.const(1, np.int32), name=f"{name}/frames")
        frame_axis, batch_axis = (1, 0) if swapped else (0, 1)
        valid = b.op("Less", b.op("Unsqueeze", frames, b.const([frame_axis]), name=f"{name}/frames_b"),
                     b.op("Unsqueeze", self.length_value(t.time), b.const([batch_axis]), name=f"{name}/lengths_b"),
                     name=f"{name}/valid")
        if len(t.dims) > 2:  # [B, T] (or [T, B]) placed at the value's batch and time axes
            kept = (0, 1) if swapped else (0, index)
            valid = b.op("Unsqueeze", valid, b.const([k for k in range(len(t.dims)) if k not in kept]),
                         name=f"{name}/valid_nd")
        out = name if exact else f"{name}/masked"
        return b.op("Where", valid, value, b.const(np.dtype(t.dtype).type(fill), np.dtype(t.dtype)), name=out,
                    exact=exact)

    def zero_input(self, time: TimeAxis) -> str:
        """A `[T, B, 1]` zero tensor on a time axis (T = longest length): a decoder's input."""
        if time not in self.zero_inputs:
            b = self.builder
            steps = b.op("ReduceMax", self.length_value(time), name="decoder/steps", keepdims=1)
            batch = b.op("Shape", self.length_value(time), name="decoder/batch")
            shape = b.op("Concat", b.op("Cast", steps, to=7), batch, b.const([1]), name="decoder/shape", axis=0)
            zero = numpy_helper.from_array(np.zeros(1, np.float32))
            self.zero_inputs[time] = b.op("ConstantOfShape", shape, name="decoder/x", value=zero)
        return self.zero_inputs[time]


def swap_perm(rank: int) -> list[int]:
    """Swap the first two axes (batch and time)."""
    return [1, 0, *range(2, rank)]
