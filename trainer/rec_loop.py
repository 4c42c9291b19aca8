"""Torch lowering of RETURNN's recurrent subnetwork (ir/loop.py `RecLoop`) in training: teacher forcing.

returnn/tf/layers/rec.py `RecLayer` with a dict unit runs `_SubnetworkRecCell` once per frame of the loop's time
axis (the target's in a decoder, the input's when the layer has `from`). In training nothing searches: `choice`
gives the target's label of the step (`ChoiceLayer` without search), so the loop runs over the target's padded
length `T_loop` and every step sees the ground truth of the step before through `prev:output`. netc does the same:

- each step runs the unit's layers (in step order) on `[B, ...]` values, vectorized over the whole batch (a
  sequence past its target length computes frames nobody reads: its loss frames are not packed); a layer whose
  type has the encoder's time axis (`[B, T_enc, H]`) is stored packed on that axis, as outside the loop
  (context.py), so the per-layer lowerings of lower.py work unchanged inside the unit;
- `prev:x` is x's stored value of the step before, at step 0 its `initial_output` (a constant, `base:x`; a
  `rnn_cell` with an `initial_state` starts from that state's h, RETURNN's `RnnCellLayer.get_rec_initial_output`);
- `base:x` is the outer layer's value, `data:TARGET` the step's label, `data` the loop input's frame;
- RETURNN's `optimize_move_layers_out` (`MovePlan`): layers reading only `base:` layers run once before the loop
  (their value is the same at every step), layers nothing inside the loop reads (a decoder's readout and
  `output_prob`) once after it over all frames; the numbers are the same, dropout masks are drawn once;
- `rnn_cell` carries its state from step to step (one step of netc's LSTM kernel, trainer/lstm.py, with the TF
  LSTMCell layout converted by trainer/rec_units.py; TF's GRUCell by rec_units.gru_packed);
- the unit's `output` and its loss layers over all steps, packed on the loop's time axis: the rec layer's value,
  and `LOOP/LAYER` (e.g. `output/output_prob`, RETURNN's loss name) for the losses (loss.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from netc.ir import Graph, NetcError, Node
from netc.ir.layers import (
    Choice,
    Compare,
    Decide,
    GenericAttention,
    GetLastHiddenState,
    PositionalEncoding,
    ReduceOut,
    RnnCell,
    SelfAttention,
    SoftmaxOverSpatial,
)
from netc.ir.layers.elementwise import CompareKind, ReduceOutMode
from netc.ir.layers.rec import GRU, TF_LSTM
from netc.ir.layers.rec_cell import CellUnit
from netc.ir.loop import BASE, INPUT_NAMES, PREV, RecLoop, prev_references, step_dependencies, unit_references
from netc.ir.types import BATCH, DimKind, TensorType

from . import elementwise, self_attention
from .context import RunContext
from .dot import padded
from .lstm import PackedLstm
from .packing import Packing
from .rec_units import gru_packed, tf_cell_as_native

CellState = tuple[torch.Tensor, ...]  # (c, h) of an LSTM, (h,) of a GRU: RETURNN's state order


@dataclass(frozen=True)
class StepGraph(Graph):
    """The unit's layers as a graph of one step: `type_of` and `[...]` resolve `prev:`, `base:` and `data:` names
    (RecLoop.source_type), so the outer lowerings read a unit layer's sources as they read any layer's."""

    outer: Graph | None = None
    loop: RecLoop | None = None
    target: TensorType | None = None  # the step's label `[B]`
    x: TensorType | None = None  # the loop's input `[B, T, ...]` (None: a decoder)

    def __getitem__(self, name: str) -> Node:
        assert self.outer is not None
        if name.startswith(BASE):
            return self.outer[name[len(BASE):]]
        return Graph.__getitem__(self, name.removeprefix(PREV))

    def type_of(self, name: str) -> TensorType:
        assert self.loop is not None and self.outer is not None
        return self.loop.source_type(name, self.outer.type_of, self.target, self.x)


class StepValues(dict):
    """The values a step reads: its own layers (set as they run); `prev:x`, `base:x`, `data:KEY` and the loop's
    input frame looked up on first use."""

    def __init__(self, outer: RunContext, prev: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
                 frame: torch.Tensor | None):
        super().__init__()
        self.outer, self.prev, self.labels, self.frame = outer, prev, labels, frame

    def __missing__(self, name: str) -> torch.Tensor:
        if name.startswith(PREV):
            return self.prev[name[len(PREV):]]
        if name.startswith(BASE):
            return self.outer.values[name[len(BASE):]]
        if name in INPUT_NAMES and self.frame is not None:
            return self.frame
        if name.startswith("data:"):
            return self.labels[name[len("data:"):]]
        raise KeyError(name)


@dataclass
class StepContext(RunContext):
    """One step of the unit: parameters under `<rec>/rec/<layer>/...` (RETURNN's scope), the cells' states."""

    prefix: str = ""
    prev_states: dict[str, CellState] = field(default_factory=dict)  # rnn_cell -> state after the step before
    states: dict[str, CellState] = field(default_factory=dict)  # rnn_cell -> state after this step
    cells: dict[str, tuple[torch.Tensor, ...]] = field(default_factory=dict)  # rnn_cell -> W, W_re, b (all steps)

    def param(self, node: Node, suffix: str) -> torch.Tensor:
        return RunContext.param(self, replace(node, name=self.prefix + node.name), suffix)


def lower_rec_loop(node: Node, loop: RecLoop, ctx: RunContext) -> torch.Tensor:
    """The loop's `output` stacked over the steps, packed on its time axis `[frames, ...]`; the stacked values
    and logits of its loss layers go to `ctx.values/logits["LOOP/LAYER"]` (loss.py `unit_loss_nodes`)."""
    time = node.out_type.time
    if loop.is_decoder and time not in ctx.packings:
        raise NetcError(f"the rec unit {node.name!r} runs over the frames of target {loop.target!r} (teacher forcing), "
                        "and the batch has no such target", node.at("target"),
                        f"give the dataset the target {loop.target!r}")
    packing = ctx.packing(time)
    batch, steps = len(packing.lengths), packing.steps
    x, x_type = ctx.padded_source(node) if loop.sources else (None, None)
    step_graph = StepGraph(loop.unit.nodes, ctx.graph.dims, outer=ctx.graph, loop=loop,
                           target=target_type(ctx.graph, loop), x=x_type)
    labels = {key: step_labels(node, loop, ctx, key, steps) for key in targets_read(loop)}
    prefix = loop.param_prefix(node.name, "")
    cells: dict[str, tuple[torch.Tensor, ...]] = {}  # converted once per batch, shared by the steps

    def context(t: int, prev: dict[str, torch.Tensor], states: dict[str, CellState]) -> StepContext:
        frame = None if x is None else x[:, t]
        return StepContext(step_graph, ctx.params, ctx.packings, ctx.training, ctx.noise,
                           values=StepValues(ctx, prev, {k: v[:, t] for k, v in labels.items()}, frame),
                           prefix=prefix, prev_states=states, cells=cells)

    plan = move_plan(loop, step_graph)
    once = context(0, {}, {})
    for inner in loop.unit:
        if inner.name in plan.before:
            once.values[inner.name] = lower_unit_layer(inner, once)
    states = {n.name: initial_state(n, n.layer, once, batch) for n in loop.unit if isinstance(n.layer, RnnCell)}
    states |= accumulated_initial_states(loop, plan, once, batch)
    prev = {name: initial_value(loop, name, once, states, batch) for name in read_as_prev(loop)}
    initial = dict(prev)
    stacked: dict[str, list[torch.Tensor]] = {name: [] for name in plan.stacked}
    logits: dict[str, list[torch.Tensor]] = {n.name: [] for n in loop.loss_layers if n.name in plan.inside}
    for t in range(steps):
        step = context(t, prev, states)
        step.values.update({name: once.values[name] for name in plan.before})
        step.logits.update(once.logits)
        for inner in loop.unit:
            if inner.name in plan.inside:
                step.values[inner.name] = lower_unit_layer(inner, step)
        for name in stacked:
            stacked[name].append(padded(step, name))
        for name in logits:
            logits[name].append(step.logits[name])
        prev = {name: step.values[name] for name in prev}
        states = states | step.states  # a cell that did not run this step keeps its state
    frames = {name: packing.pack(torch.stack(values, dim=1)) for name, values in stacked.items()}
    frames |= {PREV + name: packing.pack(torch.stack([initial[name]] + stacked[name][:-1], dim=1))
               for name in plan.prev_after}
    after = run_after(node, plan, step_graph, ctx, frames, once, labels)
    dangling = [v for v in prev.values() if v.requires_grad]  # the last step's values only `prev:` reads
    inside_logits = {name: packing.pack(torch.stack(values, dim=1)) for name, values in logits.items()}
    store_losses(node, plan, ctx, after, frames, inside_logits, dangling)
    return after.values["output"] if "output" in plan.after else frames["output"]


def store_losses(node: Node, plan: MovePlan, ctx: RunContext, after: StepContext, frames: dict[str, torch.Tensor],
                 logits: dict[str, torch.Tensor], dangling: list[torch.Tensor]) -> None:
    """The values and logits of the rec layer `node`'s loss layers over all frames, packed, into
    `ctx.values/logits["LOOP/LAYER"]` (loss.py `unit_loss_nodes`): a layer moved out of the loop from `after`, an
    inside one from its stacked steps (`frames`, `logits`). The first loss's logits keep the last step's
    `prev:`-only values (`dangling`) in the autograd graph (KeepInGraph)."""
    loop = node.layer
    assert isinstance(loop, RecLoop)
    for k, inner in enumerate(loop.loss_layers):
        name = f"{node.name}/{inner.name}"
        if inner.name in plan.after:
            ctx.values[name], ctx.logits[name] = after.values[inner.name], after.logits[inner.name]
        else:
            ctx.values[name], ctx.logits[name] = frames[inner.name], logits[inner.name]
        if k == 0 and dangling:
            ctx.logits[name] = KeepInGraph.apply(ctx.logits[name], *dangling)


@dataclass(frozen=True)
class MovePlan:
    """Where each unit layer runs (RETURNN's `optimize_move_layers_out`, `_SubnetworkRecCell._construct_output_layers_
    moved_out` and `_move_outside_loop`): `before` the loop once (step-invariant: reads only `base:` layers),
    `after` it once over all frames (nothing inside the loop reads it: the loss side of a decoder in training),
    the rest `inside`, per step. `stacked`: the inside layers whose per-step values are kept (the output, inside
    loss layers, what `after` layers read); `prev_after`: the layers `after` layers read as `prev:`."""

    before: frozenset[str] = frozenset()
    after: tuple[str, ...] = ()
    inside: frozenset[str] = frozenset()
    stacked: tuple[str, ...] = ()
    prev_after: tuple[str, ...] = ()


def move_plan(loop: RecLoop, step_graph: StepGraph) -> MovePlan:
    """The plan of `loop`; everything inside with `optimize_move_layers_out: false` (the numbers are the same either
    way; dropout masks are drawn per step inside, once outside)."""
    unit = {n.name: n for n in loop.unit}
    if loop.optimize_move_layers_out is False:
        return MovePlan(inside=frozenset(unit), stacked=("output",) + tuple(n.name for n in loop.loss_layers))
    before = frozenset(step_invariant(loop))
    needed = set(read_as_prev(loop)) | {n for n, node in unit.items() if isinstance(node.layer, STATEFUL) or
                                        not liftable(node, step_graph)}
    todo = list(needed)
    while todo:
        node = unit[todo.pop()]
        if isinstance(node.layer, Choice):  # in training it reads the target, not its scores
            continue
        for dep in step_dependencies(node, unit):
            if dep not in needed:
                needed.add(dep)
                todo.append(dep)
    inside = frozenset(n for n in needed if n not in before)
    after = tuple(n for n in unit if n not in inside and n not in before)
    read = {r for n in after for r in unit_references(unit[n])}
    stacked = [n for n in ("output", *(n.name for n in loop.loss_layers)) if n in inside]
    stacked += [n for n in unit if n in inside and (n in read or PREV + n in read)]
    prev_after = tuple(n for n in unit if PREV + n in read)
    return MovePlan(before, after, inside, tuple(dict.fromkeys(stacked)), prev_after)


STATEFUL = (Choice, RnnCell, GetLastHiddenState)


def liftable(node: Node, step_graph: StepGraph) -> bool:
    """Whether the layer can run over all frames at once: it and what it reads have no time axis of their own
    (`[B, F]` per step, not the encoder's `[B, T_enc, H]`), and it reads no frame of the loop's input."""
    refs = unit_references(node)
    if any(r in INPUT_NAMES for r in refs) or node.out_type.time_index is not None:
        return False
    return all(step_graph.type_of(r).time_index is None for r in refs)


def lift(t: TensorType, loop_time: Any) -> TensorType:
    """A step type `[B, ...]` as the type over all frames `[B, T_loop, ...]`."""
    return TensorType((t.dims[0], loop_time, *t.dims[1:]), t.dtype, t.classes)


@dataclass(frozen=True)
class FramesGraph(StepGraph):
    """The unit's layers over all the loop's frames: every step type lifted to `[B, T_loop, ...]`."""

    loop_time: Any = None

    def type_of(self, name: str) -> TensorType:
        return lift(StepGraph.type_of(self, name), self.loop_time)


def run_after(loop_node: Node, plan: MovePlan, step_graph: StepGraph, ctx: RunContext,
              frames: dict[str, torch.Tensor], once: StepContext, labels: dict[str, torch.Tensor]) -> StepContext:
    """The `after` layers of the rec layer `loop_node` over all frames, packed on the loop's time axis: they read
    the stacked inside values (`frames`, also `prev:x`), the labels, and (the same at every frame) the `before`
    layers and `base:` layers."""
    loop = loop_node.layer
    assert isinstance(loop, RecLoop)
    loop_time = loop_node.out_type.dims[1]
    nodes = tuple(replace(n, type=lift(n.out_type, loop_time)) for n in loop.unit)
    graph = FramesGraph(nodes, step_graph.dims, outer=step_graph.outer, loop=loop, target=step_graph.target,
                        x=step_graph.x, loop_time=loop_time)
    after = StepContext(graph, ctx.params, ctx.packings, ctx.training, ctx.noise, prefix=once.prefix)
    packing = ctx.packing(loop_node.out_type.time)
    steps = packing.steps

    def every_frame(value: torch.Tensor) -> torch.Tensor:
        return packing.pack(value.unsqueeze(1).expand(value.shape[0], steps, *value.shape[1:]))

    for node in nodes:
        if node.name not in plan.after:
            continue
        for ref in unit_references(node):
            if ref in after.values:
                continue
            if ref in frames:
                after.values[ref] = frames[ref]
            elif ref in plan.before:
                after.values[ref] = every_frame(once.values[ref])
            elif ref.startswith(BASE):
                after.values[ref] = every_frame(ctx.values[ref[len(BASE):]])
            elif ref.startswith("data:"):
                after.values[ref] = packing.pack(labels[ref[len("data:"):]])
        after.values[node.name] = lower_unit_layer(node, after)
    return after


class KeepInGraph(torch.autograd.Function):
    """`x` unchanged; `others` join its graph with a zero gradient.

    TensorFlow differentiates RETURNN's loop as a whole, so a parameter the unit uses only through `prev:` (e.g.
    `target_embed` when every target of the batch has one label) gets a zero gradient, not none, and Adam still
    moves it by its momentum. Without the last step's `prev:`-only values in the graph, torch would give such a
    parameter no gradient, and netc's optimizer would leave it (and its moments) alone.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, *others: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ctx.others = [(o.shape, o.dtype, o.device) for o in others]
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, ...]:  # noqa: D102
        return (grad, *(torch.zeros(shape, dtype=dtype, device=device) for shape, dtype, device in ctx.others))


def lower_unit_layer(node: Node, step: StepContext) -> torch.Tensor:
    """One unit layer at one step, by lower.py's table."""
    from .lower import LOWER  # lower.py imports this module

    return LOWER[type(node.layer)](node, node.layer, step)


def in_unit(lower: Callable[[Node, Any, StepContext], torch.Tensor]) -> Callable[[Node, Any, RunContext], torch.Tensor]:
    """A lowering of a layer class that exists only inside a rec unit (its step, its carried state)."""

    def lowered(node: Node, layer: Any, ctx: RunContext) -> torch.Tensor:
        if not isinstance(ctx, StepContext):
            raise NetcError(f"{layer.class_name} outside a rec unit is not trained by netc", node.at("class"),
                            'put it into the unit of a {"class": "rec", "unit": {...}} layer')
        return lower(node, layer, ctx)

    return lowered


def step_invariant(loop: RecLoop) -> frozenset[str]:
    """The unit layers whose value is the same at every step: they read only `base:` layers and each other (no
    same-step layer of the loop, no `prev:`, no label, no input frame); never a cell, a choice or a loss layer."""
    fixed: set[str] = set()
    for node in loop.unit:
        refs = unit_references(node)
        if refs and not isinstance(node.layer, STATEFUL) and node.layer.loss is None and \
                all(r.startswith(BASE) or r in fixed for r in refs):
            fixed.add(node.name)
    return frozenset(fixed)


def read_as_prev(loop: RecLoop) -> tuple[str, ...]:
    """The unit layers read through `prev:`, in first-read order (their stored value carries to the next step)."""
    return tuple(dict.fromkeys(name for n in loop.unit for name in prev_references(n)))


def targets_read(loop: RecLoop) -> tuple[str, ...]:
    """The target keys whose labels the unit reads per step: choices' targets and `data:KEY` sources."""
    keys = [n.layer.target or loop.target for n in loop.unit if isinstance(n.layer, Choice)]
    keys += [r[len("data:"):] for n in loop.unit for r in unit_references(n)
             if r.startswith("data:") and r not in INPUT_NAMES]
    return tuple(dict.fromkeys(k for k in keys if k))


def target_type(graph: Graph, loop: RecLoop) -> TensorType | None:
    """The type of the step's label of the loop's target: int32 `[B]` over its classes (None: no target)."""
    classes = graph.dims.target(loop.target) if loop.target else None
    return TensorType((BATCH,), "int32", classes) if classes is not None else None


def step_labels(node: Node, loop: RecLoop, ctx: RunContext, key: str, steps: int) -> torch.Tensor:
    """The padded labels `[B, >= steps]` of target `key` (teacher forcing reads one column per step)."""
    labels = ctx.targets.get(key)
    if labels is None:
        raise NetcError(f"the rec unit of {node.name!r} reads the labels of target {key!r} (teacher forcing), and "
                        "the batch has none", node.at("target"), f"give the dataset the target {key!r}")
    if labels.shape[1] < steps:
        raise NetcError(f"target {key!r} has {labels.shape[1]} frames, the loop runs {steps} steps",
                        node.at("target"), "the unit's choice reads the loop's own target")
    return labels


def initial_state(node: Node, cell: RnnCell, step: StepContext, batch: int) -> CellState:
    """A cell's state before step 0: zeros, or per part the named layer's value (`initial_state`)."""
    assert cell.n_out is not None
    zeros = any_param(step).new_zeros(batch, cell.n_out)
    parts = (cell.initial_state.h,) if cell.unit is CellUnit.GRU else (cell.initial_state.c, cell.initial_state.h)
    return tuple(zeros if name is None else step.values[name] for name in parts)


def any_param(step: StepContext) -> torch.Tensor:
    """A parameter of the net, for the device and dtype of initial states (a float32 CPU 0-vector: none)."""
    return next(iter(step.params.values()), torch.zeros(0))


def initial_value(loop: RecLoop, name: str, step: StepContext, states: dict[str, CellState],
                  batch: int) -> torch.Tensor:
    """`prev:name` at step 0: RETURNN's `get_rec_initial_output` (ir/loop.py InitialOutput), in the stored form
    of the layer's type."""
    node = loop[name]
    if isinstance(node.layer, RnnCell) and node.layer.initial_state.layers:
        return states[name][-1]  # RnnCellLayer: the h of the initial state
    init = loop.initial_output(name)
    if init.layer is not None:
        return step.values[BASE + init.layer]
    if init.apply_zero:
        raise NetcError(f"initial_output 'apply(0)' of {name!r} is not implemented by netc's trainer", node.where,
                        "use initial_output 0 or a base: layer")
    t = node.out_type
    shape = [batch if d.kind is DimKind.BATCH else step.packing(d.lengths).steps if d.kind is DimKind.TIME
             else d.size for d in t.dims]
    dtype = torch.int64 if t.sparse or t.dtype.startswith("int") else torch.bool if t.dtype == "bool" else \
        torch.float32
    value = torch.full(shape, init.constant or 0.0, dtype=dtype, device=any_param(step).device)
    return step.store(t, value)


def lower_choice(node: Node, layer: Choice, step: StepContext) -> torch.Tensor:
    """Training: the target's label of this step (ChoiceLayer without search), `[B]` int64."""
    assert isinstance(step.graph, StepGraph) and step.graph.loop is not None
    return step.values[f"data:{layer.target or step.graph.loop.target}"]


def lower_rnn_cell(node: Node, layer: RnnCell, step: StepContext) -> torch.Tensor:
    """One step of the cell from its state after the step before; h `[B, n_out]`, the new state kept."""
    x = step.source(node)
    state = step.prev_states[node.name]
    n_in = x.shape[1]
    if layer.unit is CellUnit.GRU:
        gk, gb, ck, cb = (step.param(node, f"{GRU}/{k}") for k in ("gates/kernel", "gates/bias", "candidate/kernel",
                                                                      "candidate/bias"))
        h = gru_packed(x, one_step(x), gk, gb, ck, cb, False, state[0])
        step.states[node.name] = (h,)
        return h
    W, W_re, b = step.cells.get(node.name) or lstm_params(node, layer, step, n_in)
    c0, h0 = state
    h, _, c = PackedLstm.apply(x, W, W_re, b, h0, c0, (x.shape[0],), False)
    step.states[node.name] = (c, h)
    return h


def lstm_params(node: Node, layer: RnnCell, step: StepContext, n_in: int) -> tuple[torch.Tensor, ...]:
    """The LSTM cell's W, W_re, b in netc's layout, kept for the other steps of the batch (not with parameter
    noise or dropout in training: TensorFlow draws those anew in every step of its loop)."""
    if layer.unit in (CellUnit.STANDARD_LSTM, CellUnit.BASIC_LSTM):  # TF's LSTMCell / BasicLSTMCell: one step
        cell = TF_LSTM[layer.unit.rec_unit]
        params = tf_cell_as_native(step.param(node, f"{cell}/kernel"), step.param(node, f"{cell}/bias"), n_in,
                                   layer.forget_bias)
    else:
        params = tuple(step.param(node, f"rec/{k}") for k in ("W", "W_re", "b"))
    if not (step.training and (layer.param_variational_noise or layer.param_dropout)):
        step.cells[node.name] = params
    return params


def one_step(x: torch.Tensor) -> Packing:
    """The packing of one frame per sequence: packed rows in batch order."""
    return Packing.of(torch.ones(x.shape[0], dtype=torch.int64, device=x.device))


def lower_get_last_hidden_state(node: Node, layer: GetLastHiddenState, step: StepContext) -> torch.Tensor:
    """The cell's state after this step (`prev:cell`: after the step before): c, h, or both (c then h)."""
    source = node.sources[0]
    state = step.prev_states[source[len(PREV):]] if source.startswith(PREV) else step.states[source]
    cell = step.graph[source].layer
    assert isinstance(cell, RnnCell)
    parts = dict(zip(("h",) if cell.unit is CellUnit.GRU else ("c", "h"), state))
    return torch.cat(list(parts.values()), dim=-1) if layer.key == "*" else parts[layer.key]


COMPARE = {CompareKind.EQUAL: torch.eq, CompareKind.NOT_EQUAL: torch.ne, CompareKind.LESS: torch.lt,
           CompareKind.LESS_EQUAL: torch.le, CompareKind.GREATER: torch.gt, CompareKind.GREATER_EQUAL: torch.ge}


def lower_compare(node: Node, layer: Compare, ctx: RunContext) -> torch.Tensor:
    """returnn/tf/layers/basic.py CompareLayer: `kind` of each source with the next, and of the last with `value`,
    all and-ed; a bool tensor of the sources' common type."""
    xs = [elementwise.operand(ctx, s, node.out_type) for s in layer.sources]
    op = COMPARE[layer.kind]
    result: torch.Tensor | None = None
    for a, b in zip(xs, xs[1:]):
        result = op(a, b) if result is None else result & op(a, b)
    if layer.value is not None:
        x = xs[-1]
        last = op(x, x.new_tensor(layer.value) if x.is_floating_point() else torch.tensor(layer.value))
        result = last if result is None else result & last
    assert result is not None
    return ctx.store(node.out_type, result)


def lower_reduce_out(node: Node, layer: ReduceOut, ctx: RunContext) -> torch.Tensor:
    """returnn/tf/layers/basic.py ReduceOutLayer: features `[..., F]` -> `[..., F / n, n]`, reduced over n."""
    assert layer.num_pieces is not None
    x = ctx.source(node)
    pieces = x.reshape(*x.shape[:-1], x.shape[-1] // layer.num_pieces, layer.num_pieces)
    return pieces.amax(dim=-1) if layer.mode is ReduceOutMode.MAX else pieces.sum(dim=-1)


def lower_softmax_over_spatial(node: Node, layer: SoftmaxOverSpatial, ctx: RunContext) -> torch.Tensor:
    """returnn/tf/layers/basic.py SoftmaxOverSpatialLayer: energies past each sequence's length set to -inf (its
    `inf_value`), times `energy_factor`, softmax (log_softmax with `log_space`) over the axis."""
    x, t = ctx.padded_source(node)
    axis = layer.softmax_axis(t)
    if axis == t.time_index:
        x = torch.where(ctx.valid(t, x), x, x.new_tensor(float("-inf")))
    if layer.window_start is not None:
        x = torch.where(in_window(layer, t, x, ctx), x, x.new_tensor(float("-inf")))
    if layer.energy_factor:
        x = x * layer.energy_factor
    y = torch.log_softmax(x, dim=axis) if layer.log_space else torch.softmax(x, dim=axis)
    return ctx.store(node.out_type, y)


def in_window(layer: SoftmaxOverSpatial, t: TensorType, x: torch.Tensor, ctx: RunContext) -> torch.Tensor:
    """RETURNN `SeqLenMaskLayer.build_mask`'s window: frames `start <= t < start + window_size` of each sequence,
    a bool mask broadcastable to the padded energies `x` (batch first, time at `t.time_index`). A float start
    (the published Switchboard configs' `tf.to_float` of the position) is compared as the number it is."""
    assert layer.window_start is not None and layer.window_size is not None and t.time_index is not None
    start = ctx.values[layer.window_start].to(torch.float64)
    frames = torch.arange(x.shape[t.time_index], dtype=torch.float64, device=x.device)
    shape = [1] * x.dim()
    shape[0], shape[t.time_index] = x.shape[0], x.shape[t.time_index]
    start = start[:, None]
    return ((frames[None, :] >= start) & (frames[None, :] < start + layer.window_size)).reshape(shape)


def lower_generic_attention(node: Node, layer: GenericAttention, ctx: RunContext) -> torch.Tensor:
    """returnn/tf/layers/rec.py GenericAttentionLayer: sum over T of weights `[B, T, ...]` times base
    `[B, T, ..., F]`, axes matched as ir/layers/attention.py `GenericAttention.axes` says."""
    assert layer.weights is not None and layer.base is not None
    w_type, b_type = ctx.graph.type_of(layer.weights), ctx.graph.type_of(layer.base)
    w, b = padded(ctx, layer.weights), padded(ctx, layer.base)
    kept, squeezed, common = layer.axes(w_type, b_type)
    letters = iter("cdeghijklmnopqrsuvwxyz")
    w_spec, b_spec = ["?"] * w.dim(), ["?"] * b.dim()
    w_spec[0] = b_spec[0] = "a"
    assert w_type.time_index is not None and b_type.time_index is not None and b_type.feature_index is not None
    w_spec[w_type.time_index] = b_spec[b_type.time_index] = "t"
    b_spec[b_type.feature_index] = "f"
    for i, j in common:
        w_spec[i] = b_spec[j] = next(letters)
    for i in kept + squeezed:
        w_spec[i] = next(letters)
    out = "a" + "".join(b_spec[j] for _, j in sorted(common, key=lambda p: p[1])) + \
        "".join(w_spec[i] for i in kept) + "f"
    y = torch.einsum(f"{''.join(w_spec)},{''.join(b_spec)}->{out}", w, b)
    return ctx.store(node.out_type, y)


def lower_decide(node: Node, layer: Decide, ctx: RunContext) -> torch.Tensor:
    """Training: the rec layer's labels unchanged (teacher forcing has one hypothesis, the target)."""
    return ctx.values[node.sources[0]]


# --- self_attention and positional_encoding per step (RETURNN's `_rec_previous_layer` branches) ----------------

def accumulated_initial_states(loop: RecLoop, plan: MovePlan, step: StepContext, batch: int) -> dict[str, CellState]:
    """The states before step 0 of the per-step (`inside`) self_attention and positional_encoding layers: empty
    keys and values `[B, H, 0, d]` (RETURNN's `k_left`/`v_left`), position -1 (RETURNN's `position` state)."""
    param = any_param(step)
    states: dict[str, CellState] = {}
    for n in loop.unit:
        if n.name not in plan.inside:
            continue
        if isinstance(n.layer, SelfAttention):
            heads = n.layer.heads
            states[n.name] = (param.new_zeros(batch, heads, 0, n.layer.key_dim // heads),
                              param.new_zeros(batch, heads, 0, n.layer.value_dim // heads))
        elif isinstance(n.layer, PositionalEncoding):
            states[n.name] = (torch.full((batch,), -1, dtype=torch.int64, device=param.device),)
    return states


def per_step(node: Node, ctx: RunContext) -> bool:
    """Whether a unit layer runs one step (`[B, F]`, its state carried), not over all frames (moved out)."""
    return isinstance(ctx, StepContext) and node.out_type.time_index is None


def lower_unit_self_attention(node: Node, layer: SelfAttention, ctx: RunContext) -> torch.Tensor:
    """Per step: this step's keys and values appended to the earlier steps', attended by this step's query
    (trainer/self_attention.py `self_attention_step`); moved out of the loop: causal over all frames at once."""
    if not per_step(node, ctx):
        return self_attention.lower_self_attention(node, layer, ctx)
    assert isinstance(ctx, StepContext)
    k_left, v_left = ctx.prev_states[node.name]
    drop = layer.attention_dropout if ctx.training else 0.0
    y, k, v = self_attention.self_attention_step(ctx.source(node), k_left, v_left, ctx.param(node, "QKV"), layer,
                                                 drop=drop, ctx=ctx)
    ctx.states[node.name] = (k, v)
    return y


def lower_unit_positional_encoding(node: Node, layer: PositionalEncoding, ctx: RunContext) -> torch.Tensor:
    """Per step: position = the step index (`constant` if >= 0) plus `offset` `[B]`; moved out: each frame's."""
    if not per_step(node, ctx):
        return self_attention.lower_positional_encoding(node, layer, ctx)
    assert isinstance(ctx, StepContext)
    position = ctx.prev_states[node.name][0] + 1
    ctx.states[node.name] = (position,)
    if layer.constant > -1:
        position = torch.full_like(position, layer.constant)
    if layer.offset:
        position = position + ctx.values[layer.offset].to(torch.int64)
    y = self_attention.signal(position, node.out_type.feature)
    return ctx.source(node) + y if layer.add_to_input else y


def unit_loss_nodes(node: Node) -> list[Node]:
    """The loss layers of a rec unit (none for another layer) as nodes over the loop's frames: `LOOP/LAYER`
    `[B, T_loop, ...]`, the names RETURNN gives their losses (`cost:output/output_prob`)."""
    loop = node.layer
    if not isinstance(loop, RecLoop):
        return []
    loop_time = node.out_type.dims[1]
    return [replace(inner, name=f"{node.name}/{inner.name}", type=lift(inner.out_type, loop_time))
            for inner in loop.loss_layers]


def unit_lowerings() -> dict[type, Any]:
    """The layer classes this module lowers for lower.py's table."""
    return {RecLoop: lower_rec_loop, Compare: lower_compare, ReduceOut: lower_reduce_out,
            SoftmaxOverSpatial: lower_softmax_over_spatial, GenericAttention: lower_generic_attention,
            Decide: lower_decide, Choice: in_unit(lower_choice), RnnCell: in_unit(lower_rnn_cell),
            GetLastHiddenState: in_unit(lower_get_last_hidden_state), SelfAttention: lower_unit_self_attention,
            PositionalEncoding: lower_unit_positional_encoding}
