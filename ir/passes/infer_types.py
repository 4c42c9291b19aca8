"""Shape inference: give every node its static output type, in one pass in topological order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from netc.ir.errors import NetcError
from netc.ir.graph import DATA, Graph, Node
from netc.ir.layers import Layer
from netc.ir.layers.search import Choice
from netc.ir.loop import BASE, INPUT_NAMES, PREV, RecLoop, UnitLayers, prev_references, step_type
from netc.ir.types import BATCH, TensorType, feature_dim


class NodeShapeEnv:
    """What one node's shape rule may ask: its target's dim, other layers' types."""

    in_unit = False

    def __init__(self, graph: Graph, types: dict[str, TensorType], node: Node):
        self.graph, self.types, self.node = graph, types, node

    def target_dim(self) -> int:
        target = self.node.layer.target
        dim = self.graph.dims.target(target)
        if dim is None and getattr(self.node.layer, "n_out", None) is not None:  # the loss reads the target data
            raise NetcError(f"the number of classes of target {target!r} is unknown", self.node.at(
                "target" if "target" in dict(self.node.key_positions) else "loss"),
                f"pass --num-outputs C, or declare {target!r} in extern_data or num_outputs: n_out is set, but "
                "the loss reads the target's data, which RETURNN too needs declared")
        if dim is None:
            raise NetcError(f"the number of classes of target {target!r} is unknown", self.node.at("n_out"),
                            "pass --num-outputs C, set num_outputs or extern_data in the config, or set n_out")
        return dim

    def feature(self, layer: str) -> int:
        return self.types[layer].feature

    def type_of(self, layer: str) -> TensorType:
        if layer == DATA:
            return self.graph.input_type
        if layer not in self.types:
            raise NetcError(f"unknown layer {layer!r}", self.node.where,
                            "name a layer of the network that this layer's output does not depend on")
        return self.types[layer]


def infer_types(graph: Graph) -> Graph:
    """Requires: a built graph in topological order. Ensures: every node has `type`.

    Sources are concatenated on the feature axis: all their other dims must be the same (one time
    axis, equal static sizes). Each layer's `out_type` is its shape rule; a decoder lives on the target
    (classes) time axis. The dims a layer creates get their RETURNN names with the layer's name (`Dim.of_layer`).
    """
    types: dict[str, TensorType] = {DATA: graph.input_type} if uses_data(graph) else {}
    typed = []
    for node in graph.nodes:
        if isinstance(node.layer, RecLoop):
            node = replace(node, layer=type_unit(graph, types, node))
        x = concat_type(types, node) if node.layer.concatenates else None
        try:
            t = node.layer.out_type(x, NodeShapeEnv(graph, types, node), node.at)
            t = t.with_dims(tuple(d.of_layer(node.name.rsplit("/", 1)[-1]) for d in t.dims))  # RETURNN: `w:window`
            types[node.name] = node.layer.checked_type(t, node.at)
        except ValueError as e:  # a type query a shape rule did not guard (no feature or time dim)
            raise NetcError(f"this layer cannot take its input {x}: {e}", node.at("from"),
                            "check the dims of its sources with `netc check`") from None
        layer = node.layer.with_graph_dims(lambda name: types[name].feature)
        typed.append(replace(node, layer=layer, type=types[node.name]))
    return replace(graph, nodes=tuple(typed))


def uses_data(graph: Graph) -> bool:
    return any(DATA in node.sources or isinstance(node.layer, RecLoop) and node.layer.reads_data
               for node in graph.nodes)


def concat_type(types: dict[str, TensorType], node: Node) -> TensorType | None:
    """The type of the node's sources concatenated on the feature dim (RETURNN's `concat_sources`)."""
    if not node.sources:
        return None
    inputs = [(s, types[s]) for s in node.sources]  # a source may repeat: ["data", "data"]
    first = inputs[0][1]
    if len(inputs) == 1:
        return first
    axes = {s: t.time if t.has_time else None for s, t in inputs}
    if len(set(axes.values())) > 1:
        listing = ", ".join(f"{s!r} on {t or 'no time axis'}" for s, t in axes.items())
        raise NetcError(f"sources live on different time axes: {listing}", node.at("from"),
                        "concatenate only layers of the input's time axis, or only of a decoder's")
    if any(t.sparse or t.feature_index is None for _, t in inputs) or len({t.dims[:-1] for _, t in inputs}) > 1:
        listing = ", ".join(f"{s!r} {t}" for s, t in inputs)
        raise NetcError(f"sources cannot be concatenated on their feature dim: {listing}", node.at("from"),
                        "all sources need the same dims except the last (feature) one")
    return first.with_feature(sum(t.feature for _, t in inputs))


class Pending(Exception):
    """A unit layer's type needs `prev:` of a layer not typed yet."""


class StepShapeEnv(NodeShapeEnv):
    """What a unit layer's shape rule may ask (ir/loop.py): unit layers at this step, `prev:x`, `base:x`, the
    target's label at this step (`data:T`, `[B]`), the loop's input at this step."""

    in_unit = True

    def __init__(self, graph: Graph, types: dict[str, TensorType], node: Node, loop: RecLoop,
                 step: dict[str, TensorType], seeds: dict[str, TensorType], x: TensorType | None):
        super().__init__(graph, types, node)
        self.loop, self.step, self.seeds, self.x = loop, step, seeds, x

    def type_of(self, layer: str) -> TensorType:
        if layer in self.step:
            return self.step[layer]
        if layer.startswith(PREV):
            name = layer[len(PREV):]
            if name in self.step or name in self.seeds:
                return self.step.get(name) or self.seeds[name]
            raise Pending(name)
        if layer.startswith(BASE):
            return super().type_of(layer[len(BASE):])
        if layer in INPUT_NAMES:
            if self.x is None:
                raise NetcError("the rec layer has no input ('from'), so there is no 'data' inside its unit",
                                self.node.at("from"), "read base:data for the network's input, or data:TARGET")
            return step_type(self.x)
        if layer == f"data:{self.loop.target}":
            dim = self.graph.dims.target(self.loop.target)
            if dim is None:
                raise NetcError(f"the number of classes of target {self.loop.target!r} is unknown",
                                self.node.at("from"), "pass --num-outputs C, or declare it in extern_data")
            return TensorType((BATCH,), "int32", dim)
        raise Pending(layer)

    def feature(self, layer: str) -> int:
        return self.type_of(layer).feature

    def layer_of(self, name: str) -> Layer | None:
        """The unit layer a name reads (`x` or `prev:x`), None for any other name (get_last_hidden_state's cell)."""
        name = name.removeprefix(PREV)
        return self.loop[name].layer if name in self.loop.names else None


class StepTypes(dict):
    """The step types by source name as `concat_type` looks them up."""

    def __init__(self, env: StepShapeEnv):
        super().__init__()
        self.env = env

    def __missing__(self, name: str) -> TensorType:
        return self.env.type_of(name)


def type_unit(graph: Graph, types: dict[str, TensorType], node: Node) -> RecLoop:
    """The rec layer of `node` with its unit layers typed per step (ir/loop.py).

    Layers are typed in rounds. When a round settles none (the unit reads `prev:x` before x can be typed),
    one layer takes a provisional type, as RETURNN's template construction does, in this order: a type that
    follows from its options (`own_type`: a cell, a choice, a declared out_type), a `prev:x` from x's known
    operands (an `eval` accumulating `prev:x`) or x's `[B, n_out]`, and last any layer with n_out as
    `[B, n_out]`. Each provisional type must equal the layer's type with its inputs once they are typed; a unit
    whose types stay open is an error naming the layers.
    """
    loop = node.layer
    assert isinstance(loop, RecLoop)
    x = concat_type(types, node) if loop.sources else None
    step: dict[str, TensorType] = {}
    seeds: dict[str, TensorType] = {}
    inner = {n.name: n for n in loop.unit}

    def env_of(n: Node) -> StepShapeEnv:
        return StepShapeEnv(graph, types, n, loop, step, seeds, x)

    def attempt(n: Node, layer: Layer | None = None) -> TensorType:
        env = env_of(n)
        layer = layer or n.layer
        t = layer.out_type(concat_type(StepTypes(env), replace(n, layer=layer)) if layer.concatenates else None,
                           env, n.at)
        return layer.checked_type(t.with_dims(tuple(d.of_layer(n.name) for d in t.dims)), n.at)

    settled: list[Node] = []  # typed by `own_type` before their inputs were: checked with them at the end
    refused: list[NetcError] = []  # a provisional type the layer's declared out_type contradicts
    while len(step) < len(inner):
        progress = False
        for n in loop.unit:
            if n.name not in step:
                try:
                    step[n.name] = attempt(n)
                    progress = True
                except Pending:
                    continue
        if progress:
            continue
        own = next(((n, t) for n in loop.unit if n.name not in step and (t := n.layer.own_type(env_of(n), n.at))
                    is not None), None)
        if own is None and seed_one(loop, step, seeds, attempt, env_of, refused):
            continue
        if own is None:  # the last resort, RETURNN's partially built template: a layer with n_out as [B, n_out]
            own = next(((n, TensorType((BATCH, feature_dim(n.layer.n_out)))) for n in loop.unit if n.name not in step
                        and isinstance(getattr(n.layer, "n_out", None), int)), None)
        if own is None and refused:  # the declared type is wrong, not the unit's prev: structure
            raise refused[0]
        if own is None:
            open_ = [n for n in inner if n not in step]
            raise NetcError(f"the types of the unit's layers {open_} depend on each other through prev: only",
                            inner[open_[0]].at("from"), "give one of them n_out, or read it as prev: only once "
                            "its type follows from other sources")
        step[own[0].name] = own[1]
        settled.append(own[0])
    for n in settled:  # its shape rule with its inputs (and the check against a declared out_type)
        if (t := attempt(n)) != step[n.name]:
            raise NetcError(f"the unit's layers read {n.name!r} as {step[n.name]} (its own type) before its inputs "
                            f"were typed, but they make it {t}", n.where, "correct n_out or out_type")
    for name, seed in seeds.items():
        if seed != step[name]:
            raise NetcError(f"prev:{name} was read as {seed} before {name!r} was typed, but {name!r} is {step[name]}",
                            inner[name].where, "set n_out of the layer, or make its type follow from its sources")
    check_initial_outputs(loop, step, types)
    return replace(loop, unit=UnitLayers(tuple(replace(n, type=step[n.name]) for n in loop.unit)))


def check_initial_outputs(loop: RecLoop, step: dict[str, TensorType], types: dict[str, TensorType]) -> None:
    """Each unit layer's `initial_output` fits its step type, as RETURNN's `get_rec_initial_output`
    (returnn/tf/layers/base.py) needs: a choice's is a label of its target (`tf.cast` of the constant to int32,
    an index into the embedding), so an integer in [0, classes) -- netc refuses a fractional one, which RETURNN
    truncates; `'base:x'` is an outer layer of the step's type (`x.output.copy_compatible_to(output)`; netc needs
    the same dims, no broadcasting). Raises NetcError at the unit layer's `initial_output`."""
    for name, initial in loop.initial:
        node, t = loop[name], step[name]
        at = node.at("initial_output")
        if isinstance(node.layer, Choice):
            value = initial.plain()
            value = int(value) if isinstance(value, float) and value.is_integer() else value
            label = initial.constant
            if label is None or label != int(label) or not 0 <= label < (t.classes or 0):
                raise NetcError(f"the choice's initial_output {value!r} is not a label of target "
                                f"{node.layer.target!r} ({t.classes} labels)", at,
                                f"give the label that stands before the first step, an integer in [0, {t.classes}) "
                                "(0, or the target's begin-of-sequence label)")
        elif initial.layer is not None and initial.layer in types and types[initial.layer] != t:
            raise NetcError(f"initial_output 'base:{initial.layer}' is {types[initial.layer]}, but "
                            f"{name!r} is {t} per step", at,
                            f"use an outer layer of type {t} (a reduce over time, a slice of the first frame), "
                            "or a constant")


def resolvable(env: StepShapeEnv, name: str) -> bool:
    try:
        env.type_of(name)
        return True
    except Pending:
        return False


def seed_one(loop: RecLoop, step: dict[str, TensorType], seeds: dict[str, TensorType],
             attempt: Callable[..., TensorType], env_of: Callable[[Node], StepShapeEnv],
             refused: list[NetcError]) -> bool:
    """A provisional type for one layer read through `prev:` before it is typed (an operand layer's from its known
    operands, the layer's without its options naming open layers, else `[B, n_out]`); False when none can be had.
    The error of an operand type its shape rule refused (a declared out_type it contradicts) goes to `refused`."""
    wanted = [name for n in loop.unit for name in prev_references(n) if name not in step and name not in seeds]
    for name in dict.fromkeys(wanted):
        n = loop[name]
        known = [s for s in n.sources if resolvable(env_of(n), s)]
        # operands broadcast to a common type: an open one stands in for a known one (`accum + weights` has the
        # type of `weights`); a concatenating layer's type would change with it
        sources = tuple(s if s in known else known[0] for s in n.sources) if known else n.sources
        candidates = [replace(n.layer, sources=sources)] if not n.layer.concatenates and sources != n.sources else []
        # an option naming an open layer that only selects frames (softmax_over_spatial's window_start): RETURNN's
        # template is the layer's without it; an option the shape rule needs fails the attempt
        open_keys = {k: None for k in n.layer.layer_keys if isinstance(getattr(n.layer, k), str)
                     and not resolvable(env_of(n), getattr(n.layer, k))}
        candidates += [replace(n.layer, **open_keys)] if open_keys else []
        for layer in candidates:
            try:
                seeds[name] = attempt(n, layer)
                return True
            except Pending:
                pass
            except NetcError as e:
                refused.append(e)
        n_out = getattr(n.layer, "n_out", None)
        if isinstance(n_out, int):
            seeds[name] = TensorType((BATCH, feature_dim(n_out)))
            return True
    return False
