"""Attention encoder-decoders (a rec layer with a unit dict and a `choice`) -> an encoder model and a decoder-step
model, the form a decoding pipeline runs (docs/onnx-contract.md, "Encoder-decoders with search").

The unit's layers split at the choice (RETURNN's `output`, the label chosen at step k):

- *step layers* do not depend on this step's choice: the choice's source (the label scores) and what it reads.
  The step model computes them for step k from the state of step k-1;
- *label layers* read this step's choice (`target_embed`: a linear of `output`; `end`). They are computed at the
  next call, from the label input `prev:output`: at call k they give `prev:LAYER` (their value at step k-1),
  or their `initial_output` where `first` is true (step 0). A step layer X they read (the local-attention
  Switchboard configs' `s` reads `att`) is carried: its value of step k-1 is the state `prev:X` (carried_layers).

Step model inputs: `prev:output` int32 `[N]` (the previous label; the choice's initial_output at step 0), `first`
bool `[N]`, `prev:X` for each step layer X the unit reads through `prev:`, `C:h0`/`C:c0` for each rnn_cell C (the
streaming names), `base:Y` (`[N, T, ...]`) for each encoder layer Y the unit reads with one `base:Y:size1` per
encoder time axis. Outputs: `log_probs` `[N, V]` (log of the choice's source), `X` and `C:h`/`C:c` (the state
after step k, fed back as the next call's `prev:X`, `C:h0`, `C:c0`). The encoder model (`data`, `data:size1` ->
`base:Y`, `base:Y:size1`) also gives the state before step 0 under the step model's input names.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
from netc.ir import Act, Graph, NetcError, Node, Where, canonical_json
from netc.ir.files import atomic_output
from netc.ir.layers import (
    Choice,
    Compare,
    Copy,
    Decide,
    GenericAttention,
    GetLastHiddenState,
    Layer,
    Linear,
    PositionalEncoding,
    Rec,
    ReduceOut,
    RnnCell,
    SelfAttention,
    Softmax,
    SoftmaxOverSpatial,
)
from netc.ir.layers.elementwise import CompareKind, ReduceOutMode
from netc.ir.layers.rec_cell import CellUnit
from netc.ir.layers.search import ChoiceInput
from netc.ir.loop import BASE, PREV, InitialOutput, RecLoop, unit_references
from netc.ir.types import DimKind, Lengths, TensorType
from onnx import helper

import netc

from .activations import apply_activation
from .attention import lower_generic_attention, lower_softmax_over_spatial
from .builder import FLOAT, INT32, OnnxBuilder, tensor_info
from .context import DATA, LowerContext
from .elementwise import BINARY_OPS, operand
from .linear import lower_linear
from .rec import cell_weights
from .self_attention import self_attention_step, signal

if TYPE_CHECKING:
    from .lower import CompileOptions  # lower.py imports this module

LABEL, FIRST, LOG_PROBS = "prev:output", "first", "log_probs"
ENCODER_FILE, STEP_FILE, SPEC_FILE = "encoder.onnx", "decoder_step.onnx", "decoder.json"
SPEC_FORMAT = "netc-decoder-1"
CELL_INPUTS, CELL_OUTPUTS = (":h0", ":c0"), (":h", ":c")  # the streaming names (streaming.py)
TF_COMPARE = {CompareKind.EQUAL: "equal", CompareKind.LESS: "less", CompareKind.LESS_EQUAL: "less_equal",
              CompareKind.GREATER: "greater", CompareKind.GREATER_EQUAL: "greater_equal"}
BOOL = onnx.TensorProto.BOOL


def is_decoder(graph: Graph) -> bool:
    """Whether the graph's output is a rec layer with a unit dict (compiled to encoder + decoder step)."""
    return isinstance(graph.output.layer, RecLoop)


@dataclass(frozen=True)
class DecoderPlan:
    """What the two models hold: the unit's layers split at the choice (module docstring)."""

    loop: Node
    choice: Node
    step_layers: tuple[Node, ...]  # in step order
    label_layers: tuple[Node, ...]  # in step order: computed from prev:output
    states: tuple[str, ...]  # step layers read through prev:
    cells: tuple[str, ...]  # rnn_cell step layers
    outer: tuple[str, ...]  # encoder layers the search reads: the unit's base: layers, max_seq_len, initial values
    read: tuple[str, ...]  # encoder layers the step model reads (base:)
    end_label: int
    accumulators: tuple[str, ...] = ()  # self_attention / positional_encoding step layers: states that grow or count
    carried: tuple[str, ...] = ()  # step layers label layers read: their previous step's value is a state

    @property
    def unit(self) -> RecLoop:
        assert isinstance(self.loop.layer, RecLoop)
        return self.loop.layer


def plan_decoder(graph: Graph) -> DecoderPlan:
    """Split the unit of the graph's output at its choice; located errors for units netc cannot step."""
    node = graph.output
    loop = node.layer
    assert isinstance(loop, RecLoop)
    unit = {n.name: n for n in loop.unit}
    choice = unit["output"]
    if not isinstance(choice.layer, Choice):
        raise NetcError(f"netc compiles a rec unit as a decoder searched by its choice, and the unit's 'output' is "
                        f"a {choice.layer.class_name} layer", choice.at("class"),
                        "make the unit's output a choice over the label scores")
    if loop.sources:
        raise NetcError("a decoder unit that also iterates over an input ('from') is not implemented by netc",
                        node.at("from"), 'a decoder reads its encoder through base:; give the rec layer "from": []')
    after = choice_dependent(unit)
    needed = scores_closure(unit, choice.sources[0])
    for name in needed:
        if name in after:
            check_label_layer(unit[name], unit, after)
    order = [n.name for n in loop.unit]
    steps = tuple(unit[n] for n in order if n in needed and n not in after)
    labels = tuple(unit[n] for n in order if n in needed and n in after)
    read_prev = {r[len(PREV):] for n in steps for r in unit_references(n) if r.startswith(PREV)}
    carried = carried_layers(labels, unit, after)
    outer = tuple(dict.fromkeys(r[len(BASE):] for n in steps + labels for r in step_references(n)
                                if r.startswith(BASE)))
    read = outer
    if loop.max_seq_len is None:
        raise NetcError("a decoder searched by netc needs max_seq_len", node.at("max_seq_len"),
                        "\"max_seq_len\": \"max_len_from('base:encoder')\"")
    extra = {loop.max_seq_len.layer, *(loop.initial_output(s).layer for s in read_prev | carried),
             *(x[len(BASE):] for n in steps + labels if isinstance(n.layer, RnnCell)
               for x in n.layer.initial_state.layers)}
    outer += tuple(x for x in loop.outer_layers if x not in outer and x in extra)
    for name in read_prev:
        if name in needed and name not in after and loop.initial_output(name).apply_zero:
            raise NetcError("initial_output 'apply(0)' is not implemented by netc's decoder step", unit[name].at(
                "initial_output"), "use initial_output 0 (zeros), a number, or base:LAYER")
    states = tuple(n.name for n in steps if n.name in read_prev | carried)
    cells = tuple(n.name for n in steps + labels if isinstance(n.layer, RnnCell))
    check_state_times(graph, unit, states + cells, outer)
    return DecoderPlan(node, choice, steps, labels, states, cells, outer, read, end_label(loop, unit),
                       accumulators(steps, labels), tuple(sorted(carried)))


def check_state_times(graph: Graph, unit: dict[str, Node], states: tuple[str, ...], outer: tuple[str, ...]) -> None:
    """Each state with a time axis has that axis' lengths in an encoder output (`encoder_output_with`); a located
    error for one whose axis the unit makes itself (a pool or slice of an encoder layer inside the unit)."""
    times = {graph.type_of(y).time for y in outer if graph.type_of(y).time_index is not None}
    for s in states:
        t = unit[s].out_type
        if t.time_index is not None and t.time not in times:
            raise NetcError(f"a decoder state (read through prev:) with a time axis the unit makes itself "
                            f"({t.time}) is not implemented by netc: no encoder output carries its lengths",
                            unit[s].where, "compute the layer outside the rec unit and read it through base:")


def scores_closure(unit: dict[str, Node], scores: str) -> dict[str, None]:
    """The unit layers the choice's scores `scores` read, directly, through `prev:` or through other layers,
    `scores` included and the choice itself excluded; an ordered set (dict keys) in first-reached order."""
    needed: dict[str, None] = {}
    todo = [scores]
    while todo:
        name = todo.pop()
        if name in needed or name == "output":
            continue
        needed[name] = None
        refs = [r[len(PREV):] if r.startswith(PREV) else r for r in unit_references(unit[name])]
        todo.extend(reversed([r for r in refs if r in unit]))
    return needed


def step_references(node: Node) -> tuple[str, ...]:
    """What a unit layer reads at each step: its references but an rnn_cell's initial_state (the state before
    step 0, which the encoder model gives)."""
    initial = node.layer.initial_state.layers if isinstance(node.layer, RnnCell) else ()
    return tuple(r for r in unit_references(node) if r not in initial)


def choice_dependent(unit: dict[str, Node]) -> set[str]:
    """The unit layers that read this step's choice, directly or through other layers of this step."""
    after = {"output"}
    changed = True
    while changed:
        changed = False
        for name, n in unit.items():
            if name not in after and any(r in after for r in unit_references(n)):
                after.add(name)
                changed = True
    return after


def check_label_layer(node: Node, unit: dict[str, Node], after: set[str]) -> None:
    """A label layer may read the choice, other label layers, encoder layers and layers of this step before the
    choice (carried_layers): the step model computes it at the next call from the previous label and those
    layers' previous values. It may not read `prev:` (the value two steps back)."""
    for ref in unit_references(node):
        if ref in after or ref.startswith(BASE) or ref in unit:
            continue
        raise NetcError(f"{node.name!r} reads this step's choice and {ref!r}; netc's decoder step computes the layers "
                        "that read the choice at the next step, where it has no value of two steps back",
                        node.at("from"), "read the choice ('output') in a layer of its own (target_embed), and "
                        "combine it with other layers in a layer that does not read the choice")


def carried_layers(labels: tuple[Node, ...], unit: dict[str, Node], after: set[str]) -> set[str]:
    """The layers before the choice that label layers read (the local-attention Switchboard configs' `s` reads
    this step's `att`). RETURNN computes them, chooses, then computes the label layers in the same step
    (returnn/tf/layers/rec.py `_SubnetworkRecCell`); netc's step model computes the label layers of step k-1 at
    call k, so it carries their values of step k-1 as states (input `prev:X`, output `X`, as for `prev:` reads)."""
    return {r for n in labels for r in step_references(n) if r in unit and r not in after}


def end_label(loop: RecLoop, unit: dict[str, Node]) -> int:
    """The label that ends a hypothesis: the unit's `end` must be `compare` equal of `output` with a value."""
    end = unit.get("end")
    if end is None:
        raise NetcError("a decoder unit needs an 'end' layer to stop the search", unit["output"].where,
                        '"end": {"class": "compare", "from": "output", "value": 0}')
    layer = end.layer
    if not isinstance(layer, Compare) or layer.kind is not CompareKind.EQUAL or layer.sources != ("output",) \
            or layer.value is None or float(layer.value) != int(layer.value):
        raise NetcError("netc's search reads 'end' as the choice of one end label", end.at("class"),
                        '"end": {"class": "compare", "from": "output", "value": 0}')
    classes = unit["output"].out_type.classes or 0
    if not 0 <= int(layer.value) < classes:
        raise NetcError(f"the end label {int(layer.value)} is not one of the {classes} labels", end.at("value"),
                        f"use a label in 0..{classes - 1}")
    return int(layer.value)


@dataclass(frozen=True)
class DecoderModels:
    """What `netc compile` writes for an encoder-decoder: two models and the search spec (SPEC_FILE)."""

    encoder: onnx.ModelProto
    step: onnx.ModelProto
    spec: dict[str, Any]


class StepContext(LowerContext):
    """The step model's lowering state: values are one step's, `[N, ...]` (no loop time axis)."""

    cell_states: dict[str, tuple[str, str]]  # rnn_cell -> (h, c) before the step (c "" for a GRU)
    cell_out: dict[str, tuple[str, str]]  # rnn_cell -> (h, c) after the step
    acc_states: dict[str, tuple[str, ...]]  # self_attention -> (k_left, v_left), positional_encoding -> (position,)
    acc_out: dict[str, tuple[str, ...]]  # the same after the step
    embeddings: dict[str, Embedding]  # prev:X -> X's embedding, for X a label layer folded into its readers


def pseudo(name: str, t: TensorType) -> Node:
    """A typed stand-in for a value the step graph receives (an input), so that lowerings can type it."""
    return Node(name, Copy(), t)


def lower_decoder(graph: Graph, params: dict[str, np.ndarray], options: CompileOptions) -> DecoderModels:
    """The encoder model, the decoder-step model and the search spec of a graph whose output is a decoder loop.

    Errors: NetcError for an unsupported opset, for options that do not apply to a decoder (--streaming,
    --quantize, --prior, --output-kind), and (plan_decoder) for units netc cannot step."""
    plan = plan_decoder(graph)
    from .lower import IR_VERSION

    if options.opset not in IR_VERSION:
        raise NetcError(f"opset {options.opset} is not supported",
                        hint=f"use one of {min(IR_VERSION)}..{max(IR_VERSION)}")
    if options.streaming or options.quantize or options.prior is not None or options.output_kind is not None:
        raise NetcError("an encoder-decoder compiles to an encoder and a decoder step giving log-probs; --streaming, "
                        "--quantize, --prior and --output-kind do not apply", hint="drop those options")
    encoder = encoder_model(graph, params, plan, options.opset)
    step, inputs = step_model(graph, params, plan, options.opset)
    return DecoderModels(encoder, step, search_spec(graph, plan, encoder, inputs))


def finish_model(b: OnnxBuilder, name: str, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
                 opset: int, graph: Graph, part: str) -> onnx.ModelProto:
    """Inputs, outputs, versions and netc metadata, pinned as lower_graph pins them."""
    from .lower import IR_VERSION

    model = b.model
    model.graph.name = name
    model.graph.input.extend(inputs)
    model.graph.output.extend(outputs)
    model.ir_version = IR_VERSION[opset]
    model.producer_name, model.producer_version = "netc", netc.__version__
    model.opset_import.append(helper.make_opsetid("", opset))
    helper.set_model_props(model, {"netc.version": netc.__version__, "netc.net": canonical_json(graph),
                                   "netc.opset": str(opset), "netc.decoder_part": part})
    return model


def encoder_layers(graph: Graph, names: Iterable[str]) -> tuple[Node, ...]:
    """The outer layers `names` and everything they read, in graph order."""
    wanted: set[str] = set()
    todo = [n for n in names if n != DATA]
    while todo:
        name = todo.pop()
        if name in wanted or name == DATA:
            continue
        wanted.add(name)
        todo.extend(graph[name].layer.dependencies)
    return tuple(n for n in graph.nodes if n.name in wanted)


def encoder_model(graph: Graph, params: dict[str, np.ndarray], plan: DecoderPlan, opset: int) -> onnx.ModelProto:
    """`data`, `data:size1` -> `base:Y` (batch-major, padded frames 0), `base:Y:size1`, and the state before step
    0 under the step model's input names."""
    from .lower import declare_inputs, lower_nodes

    nodes = encoder_layers(graph, plan.outer)
    sub = Graph(nodes, graph.dims, source_file=graph.source_file)
    b = OnnxBuilder()
    ctx = LowerContext(sub, params, b, any(isinstance(n.layer, Rec) for n in nodes), opset=opset)
    outputs_named = [BASE + y for y in plan.outer] + [BASE + y + ":size1" for y in plan.outer]
    outputs_named += [PREV + s for s in plan.states] + [c + s for c in plan.cells for s in cell_inputs(plan, c)]
    for name in outputs_named:
        b.reserve(name)
    inputs = declare_inputs(sub, ctx)
    lower_nodes(sub, ctx)
    outputs, batch_major = encoder_outputs(ctx, graph, plan)
    outputs += initial_states(ctx, plan, batch_major)
    return finish_model(b, "netc_encoder", inputs, outputs, opset, graph, "encoder")


def encoder_outputs(ctx: LowerContext, graph: Graph, plan: DecoderPlan
                    ) -> tuple[list[onnx.ValueInfoProto], dict[str, str]]:
    """`base:Y` (batch-major, padded frames 0) and `base:Y:size1` (its time axis' lengths, else the input's) of
    each encoder layer Y the search reads; also the batch-major value of each Y."""
    b = ctx.builder
    outputs, batch_major = [], {}
    for y in plan.outer:
        t = graph.type_of(y)
        value = ctx.batch_major(ctx.values[y], t, BASE + y)
        batch_major[y] = ctx.mask(t, value, BASE + y, stored=False, exact=True) if t.time_index is not None else \
            b.op("Identity", value, name=BASE + y, exact=True)
        outputs.append(value_info(BASE + y, t))
        lengths = ctx.length_value(t.time) if t.time_index is not None else ctx.length_value(graph.input_type.time)
        b.op("Identity", lengths, name=f"{BASE}{y}:size1", exact=True)
        outputs.append(tensor_info(f"{BASE}{y}:size1", INT32, ["batch"]))
    return outputs, batch_major


def initial_states(ctx: LowerContext, plan: DecoderPlan, batch_major: dict[str, str]) -> list[onnx.ValueInfoProto]:
    """The states before step 0 under the step model's input names: `prev:X` (X's initial_output; an rnn_cell's
    initial h), the cells' `C:h0`/`C:c0`, the accumulators' empty keys and values and position -1."""
    unit, outputs = plan.unit, []
    for s in plan.states:
        t = unit[s].out_type
        initial = unit.initial_output(s)
        if isinstance(unit[s].layer, RnnCell):
            initial = cell_initial(plan, s, "h")
        fill_state(ctx, PREV + s, t, initial, batch_major, plan)
        outputs.append(value_info(PREV + s, t))
    for c in plan.cells:
        t = unit[c].out_type
        for suffix in cell_inputs(plan, c):
            fill_state(ctx, c + suffix, t, cell_initial(plan, c, suffix[1]), batch_major, plan)
            outputs.append(value_info(c + suffix, t))
    return outputs + fill_accumulator_states(ctx, plan)


def plan_cell(plan: DecoderPlan, name: str) -> RnnCell:
    """The rnn_cell layer `name` of the plan's unit."""
    layer = plan.unit[name].layer
    assert isinstance(layer, RnnCell)
    return layer


def cell_inputs(plan: DecoderPlan, name: str) -> tuple[str, ...]:
    """The suffixes of the rnn_cell's state inputs: `:h0` (GRU), `:h0`, `:c0` (LSTM)."""
    return CELL_INPUTS[:1] if plan_cell(plan, name).unit is CellUnit.GRU else CELL_INPUTS


def cell_initial(plan: DecoderPlan, name: str, part: str) -> InitialOutput:
    """An rnn_cell's initial h or c (RETURNN `RnnCellLayer.get_rec_initial_state`): zeros or an encoder layer."""
    state = plan_cell(plan, name).initial_state
    layer = state.h if part == "h" else state.c
    if layer is None:
        return InitialOutput()
    if not layer.startswith(BASE):
        raise NetcError(f"initial_state {layer!r}: netc reads an rnn_cell's initial state from an encoder layer",
                        plan.unit[name].at("initial_state"), f"write base:{layer}")
    return InitialOutput(None, layer=layer[len(BASE):])


def fill_state(ctx: LowerContext, name: str, t: TensorType, initial: InitialOutput, encoder: dict[str, str],
               plan: DecoderPlan) -> None:
    """The encoder output `name`: a state before step 0 of type `t` (batch-major): a constant or an encoder layer."""
    b = ctx.builder
    if initial.layer is not None:
        source = encoder.get(initial.layer)
        if source is None:  # an initial value from a layer the unit does not read otherwise
            source = ctx.batch_major(ctx.values[initial.layer], ctx.type_of(initial.layer), name)
        b.op("Identity", source, name=name, exact=True)
        return
    pieces = []
    for dim in t.dims:
        if dim.size is not None:
            pieces.append(b.const([dim.size]))
        elif dim.kind is DimKind.BATCH:
            pieces.append(b.op("Shape", ctx.length_value(ctx.graph.input_type.time), name=f"{name}/batch"))
        else:
            y = encoder_output_with(ctx.graph, plan, t.time)
            pieces.append(b.op("Gather", b.op("Shape", encoder[y], name=f"{name}/enc_shape"),
                               b.const([ctx.graph.type_of(y).time_index]), name=f"{name}/steps", axis=0))
    shape = b.op("Concat", *pieces, name=f"{name}/shape", axis=0)
    value = b.const(np.float32(initial.constant or 0.0), np.float32)
    b.op("Expand", value, shape, name=name, exact=True)


def encoder_output_with(graph: Graph, plan: DecoderPlan, time: Lengths) -> str:
    """The first encoder output (`plan.outer`) with the time axis `time`: its lengths are that axis' lengths
    (one exists for every state's time axis: `check_state_times`)."""
    return next(y for y in plan.outer if graph.type_of(y).time_index is not None and graph.type_of(y).time == time)


def value_info(name: str, t: TensorType) -> onnx.ValueInfoProto:
    """A graph input/output of type `t` with named symbolic dims (batch, the time axis by its name)."""
    dims: list[str | int] = [d.size if d.size is not None else "batch" if d.kind is DimKind.BATCH
                             else f"time:{d.lengths}" for d in t.dims]
    elem = {"float32": FLOAT, "int32": INT32, "bool": BOOL}[t.dtype]
    return tensor_info(name, elem, dims)


def step_model(graph: Graph, params: dict[str, np.ndarray], plan: DecoderPlan, opset: int
               ) -> tuple[onnx.ModelProto, list[str]]:
    """The decoder-step model (module docstring); also the names of its inputs."""
    from .lower import LOWER

    ctx = step_context(graph, params, plan, opset)
    inputs = step_inputs(ctx, graph, plan)
    lower = LOWER | ACCUMULATING_LOWER | STEP_LOWER
    read_carried(ctx, plan)
    for q in plan.label_layers:
        lower_label_layer(lower, q, ctx, plan)
    for n in plan.step_layers:
        ctx.values[n.name] = lower_unit_node(lower, n, ctx)
    outputs = step_outputs(ctx, plan)
    drop_dead_nodes(ctx.builder.model.graph, [o.name for o in outputs])
    model = finish_model(ctx.builder, "netc_decoder_step", inputs, outputs, opset, graph, "decoder_step")
    return model, [i.name for i in inputs]


def state_names(plan: DecoderPlan) -> list[tuple[str, str]]:
    """(step model input, step model output) of each state: `prev:X`/`X`, the cells' `C:h0`/`C:h` (and `:c0`/
    `:c`), the accumulators' `A:k_left0`/`A:k_left`, ..., in this order (the spec's `states`)."""
    unit = plan.unit
    return ([(PREV + s, s) for s in plan.states]
            + [(c + i, c + o) for c in plan.cells for i, o in zip(cell_inputs(plan, c), cell_outputs(plan, c))]
            + [(a + part + "0", a + part) for a in plan.accumulators for part, _, _ in accumulator_parts(unit[a])])


def step_context(graph: Graph, params: dict[str, np.ndarray], plan: DecoderPlan, opset: int) -> StepContext:
    """The step model's lowering state over a graph of the unit's layers and stand-ins for its inputs, with the
    unit's parameters (`LOOP/rec/` stripped) and the output names reserved."""
    loop, unit = plan.loop, plan.unit
    label_type = plan.choice.out_type
    nodes = [pseudo(LABEL, label_type), pseudo("output", label_type)]
    nodes += [pseudo(PREV + s, unit[s].out_type) for s in plan.states]
    nodes += [pseudo(BASE + y, graph.type_of(y)) for y in plan.read]
    nodes += [pseudo(PREV + q.name, q.out_type) for q in plan.label_layers]
    nodes += [*plan.label_layers, *plan.step_layers]
    sub = Graph(tuple(nodes), graph.dims, source_file=graph.source_file)
    prefix = f"{loop.name}/rec/"
    step_params = {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
    b = OnnxBuilder()
    ctx = StepContext(sub, step_params, b, False, opset=opset)
    ctx.cell_states, ctx.cell_out = {}, {}
    ctx.acc_states, ctx.acc_out = {}, {}
    ctx.embeddings = {PREV + q.name: e for q in plan.label_layers if (e := embedding(q, unit, ctx)) is not None}
    for name in [LOG_PROBS, *(output for _, output in state_names(plan))]:
        b.reserve(name)
    return ctx


def step_inputs(ctx: StepContext, graph: Graph, plan: DecoderPlan) -> list[onnx.ValueInfoProto]:
    """The step model's inputs (module docstring), declared and bound to the values the lowerings read."""
    b, unit = ctx.builder, plan.unit
    inputs = [tensor_info(b.reserve(LABEL), INT32, ["batch"]), tensor_info(b.reserve(FIRST), BOOL, ["batch"])]
    ctx.values[LABEL] = ctx.values["output"] = LABEL
    for s in plan.states:
        inputs.append(value_info(b.reserve(PREV + s), unit[s].out_type))
        ctx.values[PREV + s] = PREV + s
    for c in plan.cells:
        names = [b.reserve(c + suffix) for suffix in cell_inputs(plan, c)]
        for name in names:
            inputs.append(value_info(name, unit[c].out_type))
        ctx.cell_states[c] = (names[0], names[1] if len(names) > 1 else "")
    for a in plan.accumulators:
        parts = accumulator_parts(unit[a])
        inputs += [tensor_info(b.reserve(a + part + "0"), elem, dims) for part, elem, dims in parts]
        ctx.acc_states[a] = tuple(a + part + "0" for part, _, _ in parts)
    for y in plan.read:
        t = graph.type_of(y)
        inputs.append(value_info(b.reserve(BASE + y), t))
        ctx.values[BASE + y] = BASE + y
        if t.time_index is not None and t.time not in ctx.lengths:
            ctx.lengths[t.time] = b.reserve(f"{BASE}{y}:size1")
            inputs.append(tensor_info(ctx.lengths[t.time], INT32, ["batch"]))
    return inputs


def step_outputs(ctx: StepContext, plan: DecoderPlan) -> list[onnx.ValueInfoProto]:
    """The step model's outputs: `log_probs` and the states after the step, under their reserved names."""
    b, unit = ctx.builder, plan.unit
    b.op("Identity", scores(ctx, plan), name=LOG_PROBS, exact=True)
    outputs = [tensor_info(LOG_PROBS, FLOAT, ["batch", plan.choice.out_type.classes or 0])]
    for s in plan.states:
        b.op("Identity", ctx.values[s], name=s, exact=True)
        outputs.append(value_info(s, unit[s].out_type))
    for c in plan.cells:
        for value, suffix in zip(ctx.cell_out[c], cell_outputs(plan, c)):
            b.op("Identity", value, name=c + suffix, exact=True)
            outputs.append(value_info(c + suffix, unit[c].out_type))
    for a in plan.accumulators:
        for value, (part, elem, dims) in zip(ctx.acc_out[a], accumulator_parts(unit[a])):
            b.op("Identity", value, name=a + part, exact=True)
            outputs.append(tensor_info(a + part, elem, dims))
    return outputs


def drop_dead_nodes(graph: onnx.GraphProto, outputs: list[str]) -> None:
    """Remove the nodes and initializers no output depends on (a label layer whose readers all fold it)."""
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in graph.node for a in n.attribute):
        return  # a subgraph reads values its node does not list
    needed, kept = set(outputs), []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            needed.update(node.input)
            kept.append(node)
    if len(kept) == len(graph.node):
        return
    del graph.node[:]
    graph.node.extend(reversed(kept))
    initializers = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)


def cell_outputs(plan: DecoderPlan, name: str) -> tuple[str, ...]:
    """The suffixes of the rnn_cell's state outputs: `:h` (GRU), `:h`, `:c` (LSTM)."""
    return CELL_OUTPUTS[:len(cell_inputs(plan, name))]


def lower_unit_node(lower: dict[type, Callable[..., str]], node: Node, ctx: LowerContext) -> str:
    """A unit layer by the table `lower`; a located error for a class the decoder step does not compile."""
    rule = lower.get(type(node.layer))
    if rule is None:
        raise NetcError(f"a {node.layer.class_name} layer inside a decoder unit is not implemented by netc's decoder "
                        "step", node.at("class"), "see docs/onnx-contract.md for the unit layers netc compiles")
    return rule(node, node.layer, ctx)


def first_or(ctx: LowerContext, node: Node, initial: InitialOutput) -> str:
    """`prev:X` of a label layer: its initial_output where `first`, else X of the previous label."""
    b, t = ctx.builder, node.out_type
    if initial.apply_zero:  # the layer applied to label 0 ... only the choice's initial output gives that
        return ctx.values[node.name]
    if initial.layer is not None:
        raise NetcError("initial_output base:LAYER of a layer that reads the choice is not implemented by netc",
                        node.at("initial_output"), "use initial_output 0")
    value = b.const(np.dtype(t.dtype).type(initial.constant or 0.0), np.dtype(t.dtype))
    return where_first(ctx, value, ctx.values[node.name], len(t.dims), f"prev:{node.name}/initial")


def where_first(ctx: LowerContext, at_first: str, otherwise: str, rank: int, name: str) -> str:
    """`at_first` in the rows where `first` (step 0), else `otherwise` (values of rank `rank`, batch first)."""
    b = ctx.builder
    first = FIRST if rank == 1 else b.op("Unsqueeze", FIRST, b.const(list(range(1, rank))), name=f"{name}/first")
    return b.op("Where", first, at_first, otherwise, name=name)


# --- label layers that read layers before the choice (DecoderPlan.carried) ------------------------------------

def read_carried(ctx: StepContext, plan: DecoderPlan) -> None:
    """While the label layers (those of step k-1 at call k) are lowered, a step layer X they read is `prev:X`,
    the state carried from the call before; the step layers' own lowering then gives X of this step. The rnn
    cells' state of the step before, for get_last_hidden_state of `prev:C`: a step cell's input state."""
    for x in plan.carried:
        ctx.values[x] = PREV + x
    for c in plan.cells:
        if c not in {q.name for q in plan.label_layers}:
            ctx.cell_out[PREV + c] = ctx.cell_states[c]


def lower_label_layer(lower: dict[type, Callable[..., str]], node: Node, ctx: StepContext, plan: DecoderPlan) -> None:
    """A label layer's value of step k-1 and its `prev:` (step_model). An rnn_cell among them (the local-attention
    Switchboard configs' `s` reads target_embed) keeps its input state where `first`: at call 0 there is no step
    -1, and `prev:C` is the h of its initial state (RETURNN `RnnCellLayer.get_rec_initial_output`); after call
    k its state is the one after step k-1, read by the step layers as `prev:C` and fed to call k+1."""
    value = lower_unit_node(lower, node, ctx)
    if not isinstance(node.layer, RnnCell):
        ctx.values[node.name] = value
        ctx.values[PREV + node.name] = first_or(ctx, node, plan.unit.initial_output(node.name))
        return
    rank = len(node.out_type.dims)
    kept = tuple(where_first(ctx, before, after, rank, f"{node.name}/kept{i}") if after else ""
                 for i, (before, after) in enumerate(zip(ctx.cell_states[node.name], ctx.cell_out[node.name])))
    ctx.cell_out[node.name] = ctx.cell_out[PREV + node.name] = kept
    ctx.values[node.name] = ctx.values[PREV + node.name] = kept[0]


def scores(ctx: LowerContext, plan: DecoderPlan) -> str:
    """The choice's scores: log of its source (RETURNN `ChoiceLayer._get_scores`: safe_log of the probabilities,
    i.e. log_softmax of a softmax's logits), or the source itself for input_type log_prob."""
    choice = plan.choice.layer
    assert isinstance(choice, Choice)
    source = plan.choice.sources[0]
    value = ctx.values[source]
    if choice.input_type is ChoiceInput.LOG_PROB:
        return value
    b = ctx.builder
    made = next((n for n in b.graph.node if value in n.output), None)
    if isinstance(plan.unit[source].layer, Softmax) and made is not None and made.op_type == "Softmax":
        log_probs = b.op("LogSoftmax", made.input[0], name=f"{source}/log", axis=-1)
        if not any(value in n.input for n in b.graph.node):  # the probabilities themselves feed nothing
            b.graph.node.remove(made)
        return log_probs
    tiny = b.const(np.float32(np.finfo(np.float32).tiny), np.float32)
    return b.op("Log", b.op("Max", value, tiny, name=f"{source}/at_least_tiny"), name=f"{source}/log")


# --- unit layer lowerings -------------------------------------------------------------------------------------

def lower_rnn_cell(node: Node, layer: RnnCell, ctx: LowerContext) -> str:
    """One step of the cell (the rec layer's weight conversions, rec.py): an LSTM as one MatMul of [x, h] with the
    ONNX-ordered W and R stacked (gates i, o, f, c), its bias (forget bias included) added, then the gates; a GRU as
    a one-frame ONNX GRU. Returns h; c and h go to `cell_out`."""
    assert isinstance(ctx, StepContext) and layer.n_out is not None
    b, n = ctx.builder, layer.n_out
    W, R, B = cell_weights(node, layer.as_rec(), ctx)
    h0, c0 = ctx.cell_states[node.name]
    if layer.unit is CellUnit.GRU:
        x = b.op("Unsqueeze", ctx.source(node), b.const([0]), name=f"{node.name}/x")
        weights = [b.initializer(f"{node.name}/{k}", v) for k, v in zip("WRB", (W, R, B))]
        state = b.op("Unsqueeze", h0, b.const([0]), name=f"{node.name}/state")
        _, h = b.op_multi("GRU", x, *weights, "", state, name=node.name, outputs=2, hidden_size=n,
                          linear_before_reset=0)
        h = b.op("Squeeze", h, b.const([0]), name=f"{node.name}/h")
        ctx.cell_out[node.name] = (h, "")
        return h
    kernel = np.ascontiguousarray(np.concatenate([W[0].T, R[0].T]))  # [n_in + n, 4n], gates i, o, f, c
    bias = B[0, :4 * n] + B[0, 4 * n:]
    parts = [(ctx.values[s], ctx.type_of(s).feature or 0, s) for s in node.sources] + [(h0, n, "")]
    z = b.op("Add", folded_matmul(ctx, node, parts, kernel, "xh", "kernel"),
             b.initializer(f"{node.name}/bias", bias), name=f"{node.name}/z")
    i, o, f, j = b.op_multi("Split", z, b.const([n] * 4), name=f"{node.name}/gates", outputs=4, axis=-1)
    sig = {g: b.op("Sigmoid", v, name=f"{node.name}/{g}") for g, v in (("i", i), ("o", o), ("f", f))}
    c = b.op("Add", b.op("Mul", sig["f"], c0, name=f"{node.name}/keep"),
             b.op("Mul", sig["i"], b.op("Tanh", j, name=f"{node.name}/j"), name=f"{node.name}/write"),
             name=f"{node.name}/c")
    h = b.op("Mul", sig["o"], b.op("Tanh", c, name=f"{node.name}/tanh_c"), name=f"{node.name}/h")
    ctx.cell_out[node.name] = (h, c)
    return h


@dataclass(frozen=True)
class Embedding:
    """A label layer X that is a `linear` of the choice without bias and activation: prev:X is row `prev:output`
    of `table` (`[V, d]`, X's W), or `initial` (X's initial_output constant) in every feature at step 0."""

    table: np.ndarray
    initial: float


def embedding(node: Node, unit: RecLoop, ctx: LowerContext) -> Embedding | None:
    """X's Embedding where X is such a label layer (its readers then gather E W instead of multiplying by E's rows)."""
    layer, initial = node.layer, unit.initial_output(node.name)
    if type(layer) is not Linear or layer.with_bias or layer.activation is not Act.IDENTITY \
            or layer.use_transposed_weights or node.sources != ("output",) or initial.constant is None:
        return None
    return Embedding(ctx.param(node, "W"), initial.constant)


def folded_matmul(ctx: StepContext, node: Node, parts: list[tuple[str, int, str]], kernel: np.ndarray, xs: str,
                  weights: str) -> str:
    """`[N, sum d] x [sum d, m]`: the concatenation of `parts` (value, feature size d, the source it is, "" for
    none) times `kernel`. The rows of a part that is a folded embedding prev:X (StepContext.embeddings) become a
    Gather of the table E W_rows (`[V, m]`) by `prev:output`, the initial_output's row where `first`: one row read
    instead of d multiply-adds per output (numbers as the product's, summed in another order)."""
    b = ctx.builder
    starts = np.cumsum([0] + [d for _, d, _ in parts])
    dense = [(value, starts[k], starts[k + 1]) for k, (value, _, ref) in enumerate(parts) if ref not in ctx.embeddings]
    folded = [(ctx.embeddings[ref], starts[k], starts[k + 1]) for k, (_, _, ref) in enumerate(parts)
              if ref in ctx.embeddings]
    y = ""
    if dense:
        values = [v for v, _, _ in dense]
        x = values[0] if len(values) == 1 else b.op("Concat", *values, name=f"{node.name}/{xs}", axis=-1)
        rows = kernel if not folded else np.concatenate([kernel[i:j] for _, i, j in dense])
        y = b.op("MatMul", x, b.initializer(f"{node.name}/{weights}", np.ascontiguousarray(rows)),
                 name=f"{node.name}/matmul")
    if not folded:
        return y
    table = sum(e.table.astype(np.float64) @ kernel[i:j].astype(np.float64) for e, i, j in folded)
    initial = sum(e.initial * kernel[i:j].astype(np.float64).sum(axis=0) for e, i, j in folded)
    gathered = b.op("Gather", b.initializer(f"{node.name}/label_table", table.astype(np.float32)), LABEL,
                    name=f"{node.name}/label_rows", axis=0)
    first = b.op("Unsqueeze", FIRST, b.const([1]), name=f"{node.name}/first")
    label = b.op("Where", first, b.const(initial, np.float32), gathered, name=f"{node.name}/label_part")
    return b.op("Add", y, label, name=f"{node.name}/with_label") if y else label


def lower_step_linear(node: Node, layer: Linear, ctx: LowerContext) -> str:
    """A linear in the step model: reading a folded embedding prev:X (`folded_matmul`); of one feature (exp3's
    weight_feedback of the accumulated attention weights, `[N, T, 1]`) a broadcast Mul by W's one row, the same
    numbers as the product with one term and ~2x faster than onnxruntime's MatMul with K = 1; else `lower_linear`."""
    sources = [ctx.type_of(s) for s in node.sources]
    if not isinstance(ctx, StepContext) or layer.use_transposed_weights or any(t.sparse for t in sources):
        return lower_linear(node, layer, ctx)
    b = ctx.builder
    if len(sources) == 1 and sources[0].feature == 1 and sources[0].feature_index == len(sources[0].dims) - 1:
        y = b.op("Mul", ctx.source(node), b.initializer(f"{node.name}/W", ctx.param(node, "W")[0]),
                 name=f"{node.name}/outer")
    elif any(s in ctx.embeddings for s in node.sources) and all(len(t.dims) == 2 for t in sources):
        parts = [(ctx.values[s], ctx.type_of(s).feature or 0, s) for s in node.sources]
        y = folded_matmul(ctx, node, parts, ctx.param(node, "W"), "concat", "W")
    else:
        return lower_linear(node, layer, ctx)
    if layer.with_bias:
        y = b.op("Add", y, b.initializer(f"{node.name}/b", ctx.param(node, "b")), name=f"{node.name}/add")
    return apply_activation(b, ctx.activation(node, layer.activation), y, node.name, ctx.opset)


def lower_last_hidden_state(node: Node, layer: GetLastHiddenState, ctx: LowerContext) -> str:
    """The cell's state after this step: c, h, or both concatenated (c, h)."""
    assert isinstance(ctx, StepContext)
    h, c = ctx.cell_out[node.sources[0]]  # of `prev:C`: read_carried, lower_label_layer
    if layer.key == "h" or not c:
        return h
    return c if layer.key == "c" else ctx.builder.op("Concat", c, h, name=node.name, axis=-1)


def lower_compare(node: Node, layer: Compare, ctx: LowerContext) -> str:
    """`kind` folded left over the sources, or of the one source and `value` (RETURNN CompareLayer): bool."""
    b, out = ctx.builder, node.out_type
    xs = [operand(ctx, s, out, f"{node.name}/in{i}") for i, s in enumerate(layer.sources)]
    if layer.value is not None:
        t = ctx.type_of(layer.sources[0])
        xs.append(b.const(np.dtype(t.dtype).type(layer.value), np.dtype(t.dtype)))
    op = BINARY_OPS[TF_COMPARE[layer.kind]] if layer.kind in TF_COMPARE else "Equal"
    results = [b.op(op, x, y, name=f"{node.name}/{layer.kind.value}") for x, y in zip(xs, xs[1:])]
    if layer.kind is CompareKind.NOT_EQUAL:
        results = [b.op("Not", r, name=f"{node.name}/not") for r in results]
    y = results[0]
    for r in results[1:]:
        y = b.op("And", y, r, name=f"{node.name}/and")
    return ctx.stored(y, out, node.name)


def lower_reduce_out(node: Node, layer: ReduceOut, ctx: LowerContext) -> str:
    """Reshape `[..., F] -> [..., F/n, n]`, reduce the last axis (max or sum; RETURNN ReduceOutLayer)."""
    b = ctx.builder
    x, t = ctx.source_batch_major(node)
    assert layer.num_pieces is not None and t.feature_index == len(t.dims) - 1
    shape = b.op("Concat", b.op("Slice", b.op("Shape", x, name=f"{node.name}/shape"), b.const([0]), b.const([-1]),
                                name=f"{node.name}/lead"),
                 b.const([t.feature // layer.num_pieces, layer.num_pieces]), name=f"{node.name}/pieces", axis=0)
    pieces = b.op("Reshape", x, shape, name=f"{node.name}/reshape")
    op = "ReduceMax" if layer.mode is ReduceOutMode.MAX else "ReduceSum"
    y = ctx.reduce(op, pieces, [len(t.dims)], f"{node.name}/{layer.mode.value if layer.mode else ''}")
    return ctx.stored(y, node.out_type, node.name)


def outside_a_decoder(node: Node, layer: Layer, ctx: LowerContext) -> str:
    """choice, decide, rnn_cell and get_last_hidden_state exist only in a decoder searched by its choice."""
    raise NetcError(f"a {layer.class_name} layer is compiled only inside a decoder unit whose 'output' is a choice, "
                    "with the rec layer as the network's output", node.where,
                    "name the rec layer with the choice 'output' (netc compiles it to an encoder and a decoder step)")


def in_a_step(rule: Callable[..., str]) -> Callable[..., str]:
    """A lowering that needs the step model's cell states: outside one, a located error."""
    def lower(node: Node, layer: Layer, ctx: LowerContext) -> str:
        return rule(node, layer, ctx) if isinstance(ctx, StepContext) else outside_a_decoder(node, layer, ctx)

    return lower


# compare, reduce_out, softmax_over_spatial and generic_attention work on any dims, inside a unit or not
UNIT_LOWER: dict[type, Callable[..., str]] = {Compare: lower_compare, ReduceOut: lower_reduce_out,
                                              SoftmaxOverSpatial: lower_softmax_over_spatial,
                                              GenericAttention: lower_generic_attention,
                                              RnnCell: in_a_step(lower_rnn_cell),
                                              GetLastHiddenState: in_a_step(lower_last_hidden_state),
                                              Choice: outside_a_decoder, Decide: outside_a_decoder}


# --- self_attention and positional_encoding per step: states that grow (keys, values) or count (position) ----

def accumulates(node: Node) -> bool:
    """A unit layer with a state of its own besides `prev:` (RETURNN's `rec_vars_outputs`): self_attention (its
    `k_left`/`v_left`), positional_encoding of the step index (its `position`)."""
    return isinstance(node.layer, SelfAttention) or (isinstance(node.layer, PositionalEncoding)
                                                     and node.layer.constant <= -1)


def accumulators(steps: tuple[Node, ...], labels: tuple[Node, ...]) -> tuple[str, ...]:
    """The step layers with a state; such a label layer (it reads this step's choice) is refused."""
    for n in labels:
        if accumulates(n):
            raise NetcError(f"a {n.layer.class_name} that reads this step's choice is not implemented by netc's "
                            "decoder step", n.at("from"), "read the choice as prev:output (target_embed of "
                            "prev:output), as the published transformer decoders do")
    return tuple(n.name for n in steps if accumulates(n))


def accumulator_parts(node: Node) -> tuple[tuple[str, int, list[str | int]], ...]:
    """(name suffix, element type, dims) of each state part of an accumulating layer: the step model's input is
    `LAYER + suffix + "0"`, its output `LAYER + suffix`. Keys `[N, H, steps, d_k]` and values `[N, H, steps, d_v]`
    grow by one frame per step (0 frames before step 0); the position `[N]` is -1 before step 0."""
    layer = node.layer
    if isinstance(layer, SelfAttention):
        return ((":k_left", FLOAT, ["batch", layer.heads, "steps", layer.key_dim // layer.heads]),
                (":v_left", FLOAT, ["batch", layer.heads, "steps", layer.value_dim // layer.heads]))
    return ((":position", INT32, ["batch"]),)


def fill_accumulator_states(ctx: LowerContext, plan: DecoderPlan) -> list[onnx.ValueInfoProto]:
    """The encoder outputs of the accumulating layers' states before step 0 (zero frames; position -1)."""
    b, outputs = ctx.builder, []
    for a in plan.accumulators:
        for part, elem, dims in accumulator_parts(plan.unit[a]):
            name = a + part + "0"
            batch = b.op("Shape", ctx.length_value(ctx.graph.input_type.time), name=f"{name}/batch")
            shape = b.op("Concat", batch, b.const([0 if d == "steps" else d for d in dims[1:]]), name=f"{name}/shape",
                         axis=0)
            value = b.const(np.float32(0), np.float32) if elem == FLOAT else b.const(np.int32(-1), np.int32)
            b.op("Expand", value, shape, name=name, exact=True)
            outputs.append(tensor_info(name, elem, dims))
    return outputs


def lower_step_self_attention(node: Node, layer: SelfAttention, ctx: LowerContext) -> str:
    """This step's keys and values appended to the state's (compiler/onnx/self_attention.py
    `self_attention_step`), attended by this step's query."""
    assert isinstance(ctx, StepContext)
    b = ctx.builder
    k_left, v_left = ctx.acc_states[node.name]
    qkv = b.initializer(f"{node.name}/QKV", ctx.param(node, "QKV"))
    y, k, v = self_attention_step(b, ctx.source(node), k_left, v_left, qkv, layer, node.name)
    ctx.acc_out[node.name] = (k, v)
    return y


def lower_step_positional_encoding(node: Node, layer: PositionalEncoding, ctx: LowerContext) -> str:
    """Position = the state's + 1 (the step index; `constant` if >= 0) plus `offset` `[N]`; the sinusoids `[N, n]`."""
    assert isinstance(ctx, StepContext)
    b, name = ctx.builder, node.name
    if layer.constant > -1:
        batch = b.op("Slice", b.op("Shape", ctx.source(node), name=f"{name}/shape"), b.const([0]), b.const([1]),
                     name=f"{name}/batch")  # Shape's `end` needs opset 15
        position = b.op("Expand", b.const(np.int32(layer.constant), np.int32), batch, name=f"{name}/constant")
    else:
        position = b.op("Add", ctx.acc_states[name][0], b.const(np.int32(1), np.int32), name=f"{name}/step")
        ctx.acc_out[name] = (position,)
    if layer.offset:
        position = b.op("Add", position, b.op("Cast", ctx.values[layer.offset], name=f"{name}/offset32", to=INT32),
                        name=f"{name}/offset_position")
    y = signal(b, b.op("Unsqueeze", position, b.const([1]), name=f"{name}/position_bt"), node.out_type.feature, name)
    y = b.op("Squeeze", y, b.const([1]), name=f"{name}/signal_step")
    return b.op("Add", ctx.source(node), y, name=f"{name}/add_to_input") if layer.add_to_input else y


ACCUMULATING_LOWER: dict[type, Callable[..., str]] = {SelfAttention: lower_step_self_attention,
                                                      PositionalEncoding: lower_step_positional_encoding}

# the step model's own lowerings: label embeddings folded into their readers, linears of one feature as a Mul
STEP_LOWER: dict[type, Callable[..., str]] = {Linear: lower_step_linear}


# --- the spec and the folder ----------------------------------------------------------------------------------

def search_spec(graph: Graph, plan: DecoderPlan, encoder: onnx.ModelProto, step_inputs: list[str]) -> dict[str, Any]:
    """What the runtime's search reads (SPEC_FILE): the choice's options, the end label, max_seq_len, the time axis
    of each tensor the runtime slices per sequence."""
    choice = plan.choice.layer
    assert isinstance(choice, Choice)
    unit = plan.unit
    max_len = unit.max_seq_len
    time_axes, lengths = spec_time_axes(graph, plan)
    return {
        "format": SPEC_FORMAT,
        "netc.version": netc.__version__,
        "encoder": ENCODER_FILE, "decoder_step": STEP_FILE,
        "num_inputs": graph.input_type.feature, "sparse_input": graph.input_type.sparse,
        "num_labels": plan.choice.out_type.classes,
        "end_label": plan.end_label,
        "initial_label": int(unit.initial_output("output").constant or 0),
        "beam_size": choice.beam_size,
        "length_normalization": choice.length_normalization,
        "length_normalization_exponent": choice.length_normalization_exponent,
        "prob_scale": choice.prob_scale,
        "base_beam_score_scale": choice.base_beam_score_scale,
        "max_seq_len": None if max_len is None else {"steps": max_len.steps, "layer": max_len.layer,
                                                     "factor": max_len.factor},
        "states": [{"input": i, "output": o} for i, o in state_names(plan)],
        "encoder_outputs": [o.name for o in encoder.graph.output],
        "step_inputs": step_inputs,
        "time_axes": time_axes,
        "lengths": lengths,  # the encoder output with each time axis' lengths
    }


def spec_time_axes(graph: Graph, plan: DecoderPlan) -> tuple[dict[str, int | None], dict[str, str]]:
    """The spec's `time_axes` (the time axis of each encoder output and step state, None for none) and `lengths`
    (for each of them with a time axis, the encoder output `base:Y:size1` with that axis' lengths)."""
    unit = plan.unit
    time_axes: dict[str, int | None] = {}
    lengths: dict[str, str] = {}
    for y in plan.outer:
        time_axes[BASE + y] = graph.type_of(y).time_index
    for s in plan.states:
        time_axes[PREV + s] = unit[s].out_type.time_index
    for name, axis in time_axes.items():
        if axis is not None:
            t = graph.type_of(name[len(BASE):]) if name.startswith(BASE) else unit[name[len(PREV):]].out_type
            lengths[name] = f"{BASE}{encoder_output_with(graph, plan, t.time)}:size1"
    for c in plan.cells:
        for suffix in cell_inputs(plan, c):
            time_axes[c + suffix] = None
    for a in plan.accumulators:  # the same number of frames in every row: nothing to cut or pad
        for part, _, _ in accumulator_parts(unit[a]):
            time_axes[a + part + "0"] = None
    return time_axes, lengths


def save_decoder(models: DecoderModels, path: str | Path) -> None:
    """Write the folder `path` (encoder.onnx, decoder_step.onnx, decoder.json) whole or not at all: a complete
    temporary folder renamed into place; an existing netc decoder folder is replaced, anything else refused."""
    path = Path(path)
    files = {ENCODER_FILE: models.encoder.SerializeToString(deterministic=True),
             STEP_FILE: models.step.SerializeToString(deterministic=True),
             SPEC_FILE: (json.dumps(models.spec, indent=1, sort_keys=True) + "\n").encode()}
    if path.exists() and not (path.is_dir() and set(os.listdir(path)) <= set(files)):
        raise NetcError("an encoder-decoder compiles to a folder, and this path is a file or a folder with other "
                        "files", Where(str(path)), "give a new path (netc writes encoder.onnx, decoder_step.onnx "
                        "and decoder.json into it)")
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        tmp.mkdir()
        for name, data in files.items():
            with atomic_output(tmp / name, "output") as part:
                part.write_bytes(data)
        old = None
        if path.exists():
            old = path.parent / f".{path.name}.{secrets.token_hex(4)}.old"
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old)
    except OSError as e:
        raise NetcError(f"cannot write the output: {e.strerror or e}", Where(str(path))) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


__all__ = ["DecoderModels", "is_decoder", "lower_decoder", "save_decoder"]
