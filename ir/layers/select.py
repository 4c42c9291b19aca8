"""`switch`, `gather`, `gather_nd` (returnn/tf/layers/basic.py SwitchLayer, GatherLayer, GatherNdLayer): values
picked per element by a bool condition, or slices picked along one axis by integer positions.

The shape rules work on any dims, so the same classes serve per step inside rec units (`[B, F]` frames) and on
whole sequences outside them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from netc.ir.errors import NetcError
from netc.ir.layers.axes import Axes, axes_listing
from netc.ir.layers.base import At, Layer, ShapeEnv, required
from netc.ir.layers.elementwise import broadcast_positions
from netc.ir.types import DimKind, TensorType


def constant_dtype(value: float) -> str:
    """The dtype of a constant operand when no layer operand gives one (RETURNN `Data.template_from_constant`:
    float32 for a float, int32 for an int)."""
    return "int32" if isinstance(value, int) else "float32"


@dataclass(frozen=True)
class Switch(Layer):
    """`where(condition, true_from, false_from)` broadcast to the common dims of the three (RETURNN `where_bc`).
    `condition` is a bool layer; each of `true_from`/`false_from` is a layer or a number. The result takes the
    dtype and sparsity of `true_from` (a number: the dtype of the layer operand). RETURNN's callable condition
    (chosen while building the net) has no config-file form; a literal true/false fails in RETURNN's `get_layer`."""

    condition: str | bool | None = None
    true_from: str | int | float | None = None
    false_from: str | int | float | None = None
    sources: tuple[str, ...] = ()

    class_name: ClassVar[str] = "switch"
    layer_keys: ClassVar[tuple[str, ...]] = ("condition", "true_from", "false_from")
    concatenates: ClassVar[bool] = False

    def check(self, at: At) -> None:
        if self.sources:
            raise NetcError("switch reads 'condition', 'true_from' and 'false_from', not 'from'", at("from"),
                            'remove "from" (RETURNN asserts it is empty)')
        required(self.condition, "condition", at, '"condition": "mask"')
        if isinstance(self.condition, bool):
            raise NetcError(f"condition {self.condition} is not a layer (RETURNN's get_layer asserts a name)",
                            at("condition"), "use the chosen operand's layer directly, or name a bool layer")
        for key in ("true_from", "false_from"):
            required(getattr(self, key), key, at, f'"{key}": 0.0')
        Layer.check(replace(self, sources=("data",)), at)

    @property
    def dependencies(self) -> tuple[str, ...]:
        return self.named_layers

    def operands(self) -> tuple[tuple[str, str | int | float], ...]:
        """(key, layer name or constant) of the two operands, true before false."""
        assert self.true_from is not None and self.false_from is not None
        return ("true_from", self.true_from), ("false_from", self.false_from)

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        assert isinstance(self.condition, str)
        layers = [(k, v, env.type_of(v)) for k, v in self.operands() if isinstance(v, str)]
        dtype = layers[0][2].dtype if layers else constant_dtype(self.operands()[0][1])  # type: ignore[arg-type]
        true_type = next((t for k, _, t in layers if k == "true_from"), None)
        cond = env.type_of(self.condition)
        if cond.dtype != "bool":
            raise NetcError(f"the condition {self.condition!r} is {cond} {cond.dtype}, not bool", at("condition"),
                            "make it with a compare layer")
        for key, name, t in layers:
            if t.dtype != dtype:
                raise NetcError(f"{key} {name!r} is {t.dtype}, but the result is {dtype} (RETURNN casts nothing)",
                                at(key), "cast one of them in an eval layer")
        for key, v in self.operands():
            if not isinstance(v, str) and dtype != "float32" and not float(v).is_integer():
                raise NetcError(f"{key} {v} is not a whole number, but the result is {dtype} (TF's constant of that "
                                "dtype fails)", at(key), "give a whole number")
        typed = [("condition", self.condition, cond), *layers]
        big = max((t for *_, t in typed), key=lambda t: len(t.dims))
        for key, name, t in typed:
            if broadcast_positions(TensorType(t.dims), TensorType(big.dims)) is None:
                raise NetcError(f"{key} {name!r} {t} does not broadcast to {big}", at(key),
                                "each operand's dims must appear, in order, in the operand with the most dims")
        return TensorType(big.dims, dtype, true_type.classes if true_type else None)


@dataclass(frozen=True)
class GatherPlan:
    """How a gather maps dims (indices with the batch counted): the input's `common` axes (also the position's,
    at `position_common`, in the input's order), the input's own axes `before` and `after` the result's position
    axes, the gathered input axis `axis`, and the position's own axes `position_own`. The result is
    `[common..., before..., position_own..., after...]` (RETURNN GatherLayer.get_out_data_from_opts)."""

    common: tuple[int, ...]
    position_common: tuple[int, ...]
    before: tuple[int, ...]
    after: tuple[int, ...]
    axis: int
    position_own: tuple[int, ...]

    def out_dims(self, x: TensorType, p: TensorType) -> tuple:
        return (*(x.dims[i] for i in self.common + self.before), *(p.dims[i] for i in self.position_own),
                *(x.dims[i] for i in self.after))


def gather_plan(x: TensorType, p: TensorType, axis: int, match_common: bool = True) -> GatherPlan:
    """RETURNN `GatherLayer._get_common_input_position_axes`: an input dim other than `axis` that the position
    also has is common (a batch axis of the gather); with `match_common` false only the batch is (gather_nd)."""
    def shared(i: int) -> int | None:
        d = x.dims[i]
        if i == axis or (not match_common and d.kind is not DimKind.BATCH):
            return None
        return next((j for j, e in enumerate(p.dims) if e == d), None)

    pairs = [(i, j) for i in range(len(x.dims)) if (j := shared(i)) is not None]
    common, position_common = tuple(i for i, _ in pairs), tuple(j for _, j in pairs)
    own = [i for i in range(len(x.dims)) if i != axis and i not in common]
    split = max(len(common), axis) - len(common)  # RETURNN: input_axes[:gather_axis - batch_dims]
    return GatherPlan(common, position_common, tuple(own[:split]), tuple(own[split:]), axis,
                      tuple(j for j in range(len(p.dims)) if j not in position_common))


@dataclass(frozen=True)
class Gather(Layer):
    """`out[common, before, p, after] = in[common, before, position[common, p], after]` along `axis` (RETURNN
    `GatherLayer`, tf.gather with `batch_dims`); `position` is an int32 layer or a whole number. The result keeps
    the input's dtype and sparsity. A position outside `[0, size)` is an error in RETURNN (TF on CPU) and is not
    checked here; `clip_to_valid` clips it to `[0, length - 1]` of the gathered axis."""

    position: str | int | None = None
    axis: Axes | None = None
    clip_to_valid: bool = False

    class_name: ClassVar[str] = "gather"
    layer_keys: ClassVar[tuple[str, ...]] = ("position",)
    concatenates: ClassVar[bool] = True

    def check(self, at: At) -> None:
        super().check(at)
        required(self.position, "position", at, '"position": "pos"')
        required(self.axis, "axis", at, '"axis": "T"')
        if self.clip_to_valid:
            raise NetcError("clip_to_valid is not supported", at("clip_to_valid"),
                            "remove it and give positions inside the axis")

    @property
    def dependencies(self) -> tuple[str, ...]:
        return self.sources + self.named_layers

    def position_type(self, env: ShapeEnv, at: At) -> TensorType:
        """The position's type: int32 (a layer's, or a scalar for a whole number)."""
        if not isinstance(self.position, str):
            return TensorType((), "int32")
        p = env.type_of(self.position)
        if p.dtype != "int32":
            raise NetcError(f"the position {self.position!r} is {p} {p.dtype}, not int32", at("position"),
                            "positions are class indices or int32 values (reduce argmax, length, data:classes)")
        return p

    def gather_axis(self, x: TensorType, at: At) -> int:
        assert self.axis is not None
        try:
            return self.axis.resolve_one(x)
        except ValueError as e:
            raise NetcError(str(e), at("axis"), "name the axis to gather from") from None

    def plan(self, x: TensorType, p: TensorType, at: At) -> GatherPlan:
        return gather_plan(x, p, self.gather_axis(x, at))

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        if x is None:
            raise NetcError("gather needs an input", at("from"))
        p = self.position_type(env, at)
        plan = self.plan(x, p, at)
        if x.dims[plan.axis].kind is DimKind.BATCH:
            raise NetcError(f"gathering along the batch ({self.axis}) is not supported; {axes_listing(x)}",
                            at("axis"), "gather along a time, spatial or feature axis")
        dims = plan.out_dims(x, p)
        if sum(d.kind is DimKind.BATCH for d in dims) > 1 or sum(d.kind is DimKind.TIME for d in dims) > 1:
            raise NetcError(f"the result {TensorType(dims)} would have two batch or two time axes, which netc's "
                            "types do not hold", at("position"), "give the position the input's batch and time")
        if dims and dims[0].kind is not DimKind.BATCH and any(d.kind is DimKind.BATCH for d in dims):
            raise NetcError(f"the result {TensorType(dims)} would not have its batch first", at("position"),
                            "give the position a batch axis")
        return TensorType(dims, x.dtype, x.classes)


@dataclass(frozen=True)
class GatherNd(Gather):
    """The deprecated `gather_nd` (RETURNN `GatherNdLayer`, `batch_gather`): `out[b, p...] = in[b, position[b, p...]]`
    along the input's first axis after the batch; only the batch is shared, the result is
    `[B, position's other dims..., input's dims after that axis...]`."""

    axis: Axes | None = None

    class_name: ClassVar[str] = "gather_nd"

    def check(self, at: At) -> None:
        if self.axis is not None:
            raise NetcError("gather_nd always gathers along the first axis after the batch", at("axis"),
                            'remove "axis", or use class "gather" with "axis"')
        if not isinstance(self.position, str):
            required(None, "position", at, '"position": "pos" (a layer)')
        Layer.check(self, at)

    def plan(self, x: TensorType, p: TensorType, at: At) -> GatherPlan:
        if x.batch is None or x.dims[0] != x.batch or len(x.dims) < 2:
            raise NetcError(f"gather_nd needs an input [B, D, ...], got {x}", at("from"))
        if p.batch is None or p.dims[0] != p.batch:
            raise NetcError(f"gather_nd needs a position with the batch first, got {p}", at("position"),
                            "use class gather, which broadcasts a position without batch")
        return gather_plan(x, p, 1, match_common=False)


SELECT_LAYERS: tuple[type[Layer], ...] = (Switch, Gather, GatherNd)
