"""Streaming models (`netc compile --streaming`): each rec layer's state enters and leaves the graph.

Per rec layer `L` of size n: inputs `L:h0`, `L:c0` `[batch, n]` (the state before the chunk) and outputs
`L:h`, `L:c` `[batch, n]` (the state after each sequence's last valid frame). Feeding a chunk's outputs
as the next chunk's inputs gives the outputs of the whole sequence; zeros start a sequence.
"""

from __future__ import annotations

from netc.ir import Direction, Graph, NetcError, Node
from netc.ir.layers import (
    Conv,
    Downsample,
    MergeDims,
    Norm,
    Pad,
    Pool,
    Rec,
    Reduce,
    Slice,
    SplitDims,
    TimeChunking,
    TimeUnChunking,
    TransposedConv,
    Upsample,
    Window,
)
from netc.ir.types import Unit

from .builder import FLOAT, tensor_info
from .context import LowerContext

STATE_INPUTS = (":h0", ":c0")
STATE_OUTPUTS = (":h", ":c")
# Layers that may read other frames than the one they compute (windows, filters, pooling, time slices and
# reductions): in chunks their output would differ from the whole sequence's, so --streaming refuses them.
TIME_CONTEXT = (Window, Conv, Pool, TransposedConv, Downsample, Upsample, Slice, Pad, Reduce, Norm, TimeChunking,
                TimeUnChunking)


def check_streaming(graph: Graph) -> None:
    """Only forward LSTMs can carry state from one chunk to the next, and every other layer must compute each
    frame from that frame alone."""
    for node in graph.nodes:
        layer = node.layer
        if isinstance(layer, TIME_CONTEXT) or reshapes_time(graph, node):
            raise NetcError(f"--streaming needs layers that compute each frame from that frame alone; a "
                            f"{layer.class_name} layer may read other frames, so chunks would change its output",
                            node.where, "compile without --streaming")
        if isinstance(layer, Rec) and layer.is_decoder:
            raise NetcError("--streaming needs a model without decoders; this rec layer is a decoder",
                            node.at("encoder"), "stream only acoustic models whose rec layers are all forward")
        if isinstance(layer, Rec) and layer.unit is not Unit.LSTM:
            raise NetcError(f"--streaming supports the native LSTM only, this rec layer is {layer.unit.value}",
                            node.at("unit"), "compile without --streaming")
        if isinstance(layer, Rec) and layer.direction is not Direction.FORWARD:
            raise NetcError("--streaming needs all rec layers forward; this one runs backward",
                            node.at("direction"), "a backward LSTM needs the whole sequence; compile without "
                            "--streaming, or use a unidirectional net")


def reshapes_time(graph: Graph, node: Node) -> bool:
    """split_dims or merge_dims on the time axis: blocks of frames would straddle the chunks."""
    if not isinstance(node.layer, (SplitDims, MergeDims)):
        return False
    t = graph.input_type_of(node)
    return t is not None and t.has_time and node.out_type.has_time and node.out_type.time != t.time


def initial_states(node: Node, ctx: LowerContext) -> list[str]:
    """Declare `L:h0`, `L:c0` as graph inputs; return them shaped `[1, batch, n]` for the LSTM."""
    b, n = ctx.builder, node.out_type.feature
    states = []
    for suffix in STATE_INPUTS:
        name = b.reserve(node.name + suffix)
        ctx.state_inputs.append(tensor_info(name, FLOAT, ["batch", n]))
        states.append(b.op("Unsqueeze", name, b.const([0]), name=f"{node.name}/initial{suffix[1]}"))
    return states


def final_states(node: Node, ctx: LowerContext, y_h: str, y_c: str) -> None:
    """Expose the LSTM's `Y_h`, `Y_c` `[1, batch, n]` as graph outputs `L:h`, `L:c` `[batch, n]`."""
    b, n = ctx.builder, node.out_type.feature
    for value, suffix in zip((y_h, y_c), STATE_OUTPUTS):
        name = b.reserve(node.name + suffix)
        b.op("Squeeze", value, b.const([0]), name=name, exact=True)
        ctx.state_outputs.append(tensor_info(name, FLOAT, ["batch", n]))
