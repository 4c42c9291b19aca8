"""RETURNN TF's recurrent subnetwork: `{"class": "rec", "unit": {...}}`, a net dict evaluated once per step.

returnn/tf/layers/rec.py `RecLayer` with a dict unit runs `_SubnetworkRecCell`: each step evaluates the unit's
layers; inside, a source names

- `x`: layer `x` of the unit at this step,
- `prev:x`: layer `x` at the previous step (at step 0 its `initial_output`, `LayerBase.get_rec_initial_output`),
- `base:x`: layer `x` of the enclosing network (the encoder), the same at every step,
- `data:T` (T the loop's target, e.g. `data:classes`): the ground-truth label at this step (teacher forcing),
- `data` / `data:source`: the rec layer's own input (`from`) at this step, when it iterates over one.

The unit's `output` at each step, stacked over the steps, is the rec layer's value: `[B, T_loop, ...]`.
`end` (a `compare`) stops the loop in search; in training the loop runs over the target's frames (or the
input's, when the rec layer has a `from`). netc types each unit layer per step (no loop time axis):
`ir/passes/infer_types.py` `type_unit`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from .errors import NetcError, did_you_mean
from .graph import DATA, Node
from .layers.base import At, Layer, ShapeEnv, matching_n_out
from .types import BATCH, TensorType, TimeAxis, time_dim

PREV, BASE = "prev:", "base:"
INPUT_NAMES = ("data", "data:source")  # the rec layer's input at this step
MAX_LEN_FROM = re.compile(r"""^\s*max_len_from\(\s*['"]base:([\w/.-]+)['"]\s*\)\s*(?:\*\s*([0-9.]+)\s*)?$""")


@dataclass(frozen=True)
class InitialOutput:
    """A unit layer's `initial_output`, its `prev:` value at step 0 (returnn/tf/layers/base.py
    `LayerBase.get_rec_initial_output`): a constant (`0`, `"zeros"`, `"ones"`, a number), `"apply(0)"` (the layer
    applied to zeroed sources), or `"base:x"` (an outer layer's value)."""

    constant: float | None = 0.0
    apply_zero: bool = False
    layer: str | None = None

    @classmethod
    def from_config(cls, value: Any) -> InitialOutput:
        if value in (None, "zeros", 0):
            return cls()
        if value == "ones":
            return cls(1.0)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return cls(float(value))
        if value == "apply(0)":
            return cls(None, apply_zero=True)
        if isinstance(value, str) and value.startswith(BASE):
            return cls(None, layer=value[len(BASE):])
        raise ValueError(f"netc reads initial_output 0, 'zeros', 'ones', a number, 'apply(0)' or 'base:LAYER', "
                         f"got {value!r}")

    def plain(self) -> Any:
        if self.layer is not None:
            return BASE + self.layer
        return "apply(0)" if self.apply_zero else self.constant


@dataclass(frozen=True)
class MaxSeqLen:
    """The search's step limit (`max_seq_len` of the rec layer): a number, or RETURNN's
    `"max_len_from('base:x') * k"`: k times the longest time axis of outer layer x (the encoder)."""

    steps: int | None = None
    layer: str | None = None
    factor: float = 1.0

    @classmethod
    def from_config(cls, value: Any) -> MaxSeqLen:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return cls(steps=value)
        found = MAX_LEN_FROM.match(value) if isinstance(value, str) else None
        if found is None:
            raise ValueError("netc reads max_seq_len N or \"max_len_from('base:LAYER')\" (times a number)")
        return cls(layer=found.group(1), factor=float(found.group(2) or 1.0))

    def plain(self) -> Any:
        if self.layer is None:
            return self.steps
        return f"max_len_from('base:{self.layer}')" + ("" if self.factor == 1.0 else f" * {self.factor:g}")


@dataclass(frozen=True)
class UnitLayers:
    """The unit's layers in step order (typed per step after `infer_types`)."""

    nodes: tuple[Node, ...] = ()

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def plain(self) -> Any:
        from .layers import to_config

        return {n.name: to_config(n.layer) for n in self.nodes}


@dataclass(frozen=True)
class RecLoop(Layer):
    """A rec layer with a dict `unit`: `[B, T_loop] + (the unit's output per step without B)`.

    `unit` holds the unit's layers in step order (each after its same-step sources; `prev:` sources impose no
    order), typed per step after `infer_types`; `initial` their `initial_output`s. In training `T_loop` is the
    target's time axis (teacher forcing), or the input's when the layer has `from`.
    """

    unit: UnitLayers = UnitLayers()
    initial: tuple[tuple[str, InitialOutput], ...] = ()
    max_seq_len: MaxSeqLen | None = None
    include_eos: bool = False
    optimize_move_layers_out: bool | None = None  # RETURNN's optimisation only: the numbers are the same
    cheating: bool = False
    n_out: int | None = None  # RETURNN checks it against the unit output's dim

    class_name: ClassVar[str] = "rec"

    def check(self, at: At) -> None:
        if self.cheating:
            raise NetcError("cheating (search keeps the reference in the beam) is not implemented by netc",
                            at("cheating"), "remove cheating, or set it to false")
        if self.include_eos:
            raise NetcError("include_eos (the loop also runs on the end frame) is not implemented by netc",
                            at("include_eos"), "remove include_eos")
        if self.dropout:
            raise NetcError("dropout on a rec layer with a unit dict: RETURNN applies it to the input of the loop, "
                            "which netc does not implement", at("dropout"), "put the dropout on the unit's layers")
        Layer.check(replace(self, sources=self.sources or ("data",)), at)  # a decoder loop may have no input

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.unit)

    def __getitem__(self, name: str) -> Node:
        for node in self.unit:
            if node.name == name:
                return node
        raise KeyError(name)

    def source_type(self, name: str, outer: Callable[[str], TensorType], target: TensorType | None,
                    x: TensorType | None) -> TensorType:
        """The step type of a name a unit layer reads, once the unit is typed: `outer` types outer layers (and
        `data`), `target` is the target's label per step `[B]`, `x` the loop's input `[B, T, ...]`."""
        if name.startswith(PREV):
            return self[name[len(PREV):]].out_type
        if name.startswith(BASE):
            return outer(name[len(BASE):])
        if name in INPUT_NAMES and x is not None and x.time_index is not None:
            return step_type(x)
        if name.startswith("data:") and target is not None:
            return target
        return self[name].out_type

    def param_prefix(self, loop: str, name: str) -> str:
        """RETURNN's variable scope of unit layer `name` of rec layer `loop`: `loop/rec/name`."""
        return f"{loop}/rec/{name}"

    def initial_output(self, name: str) -> InitialOutput:
        return dict(self.initial).get(name, InitialOutput())

    @property
    def outer_layers(self) -> tuple[str, ...]:
        """The layers of the enclosing network the unit reads (`base:x`, initial outputs, max_seq_len)."""
        names = [s[len(BASE):] for node in self.unit for s in unit_references(node) if s.startswith(BASE)]
        names += [i.layer for _, i in self.initial if i.layer is not None]
        names += [self.max_seq_len.layer] if self.max_seq_len and self.max_seq_len.layer else []
        return tuple(dict.fromkeys(n for n in names if n != DATA))

    @property
    def reads_data(self) -> bool:
        """Whether the unit reads the network's input (`base:data`)."""
        return any(s == BASE + DATA for node in self.unit for s in unit_references(node))

    @property
    def dependencies(self) -> tuple[str, ...]:
        return self.sources + self.outer_layers

    @property
    def is_decoder(self) -> bool:
        """Without an input the loop runs over the target's frames (a decoder)."""
        return not self.sources

    @property
    def loss_layers(self) -> tuple[Node, ...]:
        return tuple(n for n in self.unit if n.layer.loss is not None)

    def loop_time(self, x: TensorType | None) -> TimeAxis | Any:
        """The loop's time axis: the input's when it iterates over one, else the target's (netc's classes axis)."""
        return x.time if x is not None and x.has_time else TimeAxis.CLASSES

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        """`[B, T_loop] + output's dims after B`; needs the typed unit (`infer_types` types it first)."""
        if x is not None and not x.has_time:
            raise NetcError(f"a rec unit iterates over its input's time axis, and {x} has none", at("from"),
                            "give it a [B, T, ...] source, or no source (a decoder loop)")
        out = self["output"].out_type
        if out.batch != BATCH or out.dims[0] != BATCH:
            raise NetcError(f"the unit's output is {out}, which has no batch dim first", self["output"].where,
                            "the unit's layer 'output' gives one frame per step: [B, ...]")
        t = TensorType((BATCH, time_dim(self.loop_time(x)), *out.dims[1:]), out.dtype, out.classes)
        if t.sparse or t.feature_index is not None:
            matching_n_out(self.n_out, t.feature, at, "the dim of the unit's output")
        return t


def step_type(x: TensorType) -> TensorType:
    """The loop input `x` `[B, T, ...]` at one step: its dims without the time axis."""
    time = x.time_index
    assert time is not None
    return x.with_dims(x.dims[:time] + x.dims[time + 1:])


def unit_references(node: Node) -> tuple[str, ...]:
    """Every name a unit layer reads: its sources, then the layers its options name (`weights`, `base`)."""
    return node.sources + node.layer.named_layers


def step_dependencies(node: Node, unit: dict[str, Node]) -> tuple[str, ...]:
    """The unit layers `node` needs at the same step (not `prev:`, `base:` or data)."""
    return tuple(s for s in unit_references(node) if s in unit)


def prev_references(node: Node) -> tuple[str, ...]:
    return tuple(s[len(PREV):] for s in unit_references(node) if s.startswith(PREV))


def check_unit_references(loop_name: str, unit: dict[str, Node], outer: list[str], target: str) -> None:
    """Every name a unit layer reads exists: a unit layer, `prev:` of one, `base:` an outer layer or `data`, the
    target's `data:T`, or the loop's input."""
    for node in unit.values():
        for name in unit_references(node):
            if name in unit or name in INPUT_NAMES or name == f"data:{target}":
                continue
            if name.startswith(PREV) and name[len(PREV):] in unit:
                continue
            if name.startswith(BASE) and (name[len(BASE):] in outer or name[len(BASE):] == DATA):
                continue
            key = "from" if name in node.sources else next(
                (k for k in node.layer.layer_keys if getattr(node.layer, k) == name), "initial_state")
            if name.startswith(BASE):
                raise NetcError(f"{name!r}: the enclosing network has no layer {name[len(BASE):]!r}", node.at(key),
                                did_you_mean(name[len(BASE):], outer))
            if name.startswith("data:"):
                raise NetcError(f"{name!r}: inside the unit, data:KEY reads the loop's target ({target!r}) at this "
                                "step", node.at(key), f"read data:{target}, or set the rec layer's target")
            raise NetcError(f"{name!r} is not a layer of the unit {loop_name!r}", node.at(key),
                            did_you_mean(name.removeprefix(PREV), list(unit)) or
                            "name a unit layer, prev:LAYER, base:LAYER (the enclosing network) or data:TARGET")


def step_order(loop_name: str, unit: dict[str, Node], at: Any) -> tuple[str, ...]:
    """The unit layers RETURNN builds (`output`, `end`, layers with a loss or `is_output_layer`, and what they read,
    also through `prev:`), each after its same-step sources; a same-step cycle is an error."""
    roots = [n for n in ("output", "end") if n in unit]
    roots += [n for n, node in unit.items() if n not in roots and (node.layer.loss or node.layer.is_output_layer)]
    needed, todo = set(roots), list(roots)
    while todo:
        node = unit[todo.pop()]
        for name in step_dependencies(node, unit) + prev_references(node):
            if name not in needed and name in unit:  # an unknown name: check_unit_references reports it
                needed.add(name)
                todo.append(name)
    order: list[str] = []
    active: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in active:
            cycle = active[active.index(name):] + [name]
            raise NetcError(f"the unit's layers read each other at the same step: {' -> '.join(cycle)}",
                            unit[active[-1]].at("from"), "read one of them as prev:LAYER (its previous step)")
        active.append(name)
        for dep in step_dependencies(unit[name], unit):
            visit(dep)
        active.pop()
        order.append(name)

    for name in unit:
        if name in needed:
            visit(name)
    if "output" not in unit:
        raise NetcError(f"the unit of {loop_name!r} has no layer named 'output'", at,
                        "name the layer whose value the loop gives per step 'output' (a choice, in a decoder)")
    return tuple(order)
