"""What a layer lowering may use: the builder, parameters, and the values of other layers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from netc.ir import Act, Graph, Node, TimeAxis
from onnx import numpy_helper

from .builder import OnnxBuilder

DATA = "data"


@dataclass
class LowerContext:
    """Lowering state of one graph. Tensors between layers are `[T, B, F]` when `time_major`."""

    graph: Graph
    params: dict[str, np.ndarray]
    builder: OnnxBuilder
    time_major: bool
    values: dict[str, str] = field(default_factory=dict)  # layer (or "data") -> ONNX value
    lengths: dict[TimeAxis, str] = field(default_factory=dict)  # time axis -> int32 [B] lengths
    final_states: dict[str, tuple[str, str]] = field(default_factory=dict)  # rec layer -> (Y_h, Y_c)
    zero_inputs: dict[TimeAxis, str] = field(default_factory=dict)
    encoders: frozenset[str] = frozenset()  # rec layers whose final states a decoder reads
    output_act: Act | None = None  # replaces the output layer's activation (--output-kind)
    opset: int = 17
    streaming: bool = False  # rec states are graph inputs and outputs (streaming.py)
    state_inputs: list[onnx.ValueInfoProto] = field(default_factory=list)
    state_outputs: list[onnx.ValueInfoProto] = field(default_factory=list)

    def activation(self, node: Node, act: Act) -> Act:
        """The activation a layer applies: its own, except where --output-kind changes the output's."""
        return self.output_act if node.name == "output" and self.output_act is not None else act

    def param(self, node: Node, suffix: str) -> np.ndarray:
        return self.params[f"{node.name}/{suffix}"]

    def source(self, node: Node) -> str:
        """The node's input: its sources concatenated on the feature axis."""
        inputs = [self.values[s] for s in node.sources]
        if len(inputs) == 1:
            return inputs[0]
        return self.builder.op("Concat", *inputs, name=f"{node.name}/concat", axis=2)

    def zero_input(self, time: TimeAxis) -> str:
        """A `[T, B, 1]` zero tensor on a time axis (T = longest length): a decoder's input."""
        if time not in self.zero_inputs:
            b = self.builder
            steps = b.op("ReduceMax", self.lengths[time], name="decoder/steps", keepdims=1)
            batch = b.op("Shape", self.lengths[time], name="decoder/batch")
            shape = b.op("Concat", b.op("Cast", steps, to=7), batch, b.const([1]), name="decoder/shape", axis=0)
            zero = numpy_helper.from_array(np.zeros(1, np.float32))
            self.zero_inputs[time] = b.op("ConstantOfShape", shape, name="decoder/x", value=zero)
        return self.zero_inputs[time]
