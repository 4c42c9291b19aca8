"""`dot` (returnn/tf/layers/basic.py DotLayer) over static axes, with RETURNN's behaviour-version-0 options.

`red1`/`red2` name the reduced axes of the two sources (paired in the order written), `var1`/`var2` their
kept axes (`null`: none); every other axis is shared and must appear in both (batch, time). The output is
`shared + var1 + var2` as RETURNN orders it; with no var2 axes a size-1 axis is added (`add_var2_if_empty`,
true before behaviour version 3). Defaults are behaviour version 0's: red1 -1, red2 -2, var1 -2, var2 -1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from netc.ir.errors import NetcError
from netc.ir.layers.axes import Axes
from netc.ir.layers.base import At, Layer, ShapeEnv
from netc.ir.layers.reshape import default_feature
from netc.ir.types import DimKind, TensorType, spatial_dim


@dataclass(frozen=True)
class DotPlan:
    """Axis indices of both sources: reduced pairs, var axes, shared axes paired in source 1's order."""

    red1: tuple[int, ...]
    red2: tuple[int, ...]
    var1: tuple[int, ...]
    var2: tuple[int, ...]
    rem1: tuple[int, ...]
    rem2: tuple[int, ...]

    def einsum(self, rank1: int, rank2: int) -> str:
        """The einsum equation `a,b->out` (out: rem + var1 + var2, without the added size-1 axis)."""
        letters1 = [chr(ord("a") + i) for i in range(rank1)]
        letters2 = [chr(ord("a") + rank1 + i) for i in range(rank2)]
        for i, j in zip(self.red1 + self.rem1, self.red2 + self.rem2):
            letters2[j] = letters1[i]
        out = [letters1[i] for i in self.rem1 + self.var1] + [letters2[j] for j in self.var2]
        return f"{''.join(letters1)},{''.join(letters2)}->{''.join(out)}"


@dataclass(frozen=True)
class Dot(Layer):
    """Matrix product of two sources over `red1`/`red2` (static axes), keeping `var1`/`var2`."""

    red1: Axes = Axes((-1,))
    red2: Axes = Axes((-2,))
    var1: Axes | None = Axes((-2,))
    var2: Axes | None = Axes((-1,))
    reduce: Axes | None = None
    add_var2_if_empty: bool = True
    use_mask: bool = True
    debug: bool = False

    class_name: ClassVar[str] = "dot"
    concatenates: ClassVar[bool] = False

    def check(self, at: At) -> None:
        super().check(at)
        if len(self.sources) != 2:
            raise NetcError(f"dot needs exactly two sources, got {len(self.sources)}", at("from"))
        if self.reduce is not None and (self.red1 != Dot.red1 or self.red2 != Dot.red2):
            raise NetcError("give either 'reduce' or 'red1'/'red2'", at("reduce"))

    def plan(self, a: TensorType, b: TensorType, at: At) -> DotPlan:
        """Resolve the axes (RETURNN's notation, integers counted with the batch) and check they pair up."""
        red1, red2 = (self.reduce, self.reduce) if self.reduce is not None else (self.red1, self.red2)
        try:
            r1, r2 = red1.resolve(a), red2.resolve(b)
            v1 = self.var1.resolve(a) if self.var1 is not None else []
            v2 = self.var2.resolve(b) if self.var2 is not None else []
        except ValueError as e:
            raise NetcError(f"{e}", at("red1"), f"the sources are {a} and {b}") from None
        if len(r1) != len(r2) or not r1:
            raise NetcError(f"red1 names {len(r1)} axes of {a}, red2 {len(r2)} of {b}; they must pair up", at("red1"))
        for t, red, var, key in ((a, r1, v1, "1"), (b, r2, v2, "2")):
            if set(red) & set(var) or len(set(red)) != len(red) or len(set(var)) != len(var):
                raise NetcError(f"red{key} and var{key} name overlapping or repeated axes of {t}", at(f"var{key}"))
            if any(not t.dims[i].is_static for i in red):
                raise NetcError(f"dot reduces static axes only; red{key} names batch or time of {t}",
                                at(f"red{key}"), "reduce over time with a reduce layer")
            if any(t.dims[i].kind is DimKind.BATCH for i in var):
                raise NetcError(f"var{key} names the batch axis of {t}", at(f"var{key}"))
        bad = [(i, j) for i, j in zip(r1, r2) if a.dims[i].size != b.dims[j].size]
        if bad:
            raise NetcError(f"reduced axes differ in size: {a} axis {bad[0][0]}, {b} axis {bad[0][1]}", at("red1"))
        rem1 = [i for i in range(len(a.dims)) if i not in r1 + v1]
        left = [j for j in range(len(b.dims)) if j not in r2 + v2]
        rem2 = []
        for i in rem1:
            match = next((j for j in left if b.dims[j] == a.dims[i]), None)
            if match is None:
                raise NetcError(f"the shared axes of {a} and {b} do not match (axis {i} of the first has no partner)",
                                at("from"), "name the axes that are not shared in var1/var2")
            rem2.append(match)
            left.remove(match)
        if left:
            raise NetcError(f"axes {left} of {b} are neither reduced, var nor shared", at("var2"))
        return DotPlan(tuple(r1), tuple(r2), tuple(v1), tuple(v2), tuple(rem1), tuple(rem2))

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        a, b = (env.type_of(s) for s in self.sources)
        if a.sparse or b.sparse or a.dtype != "float32" or b.dtype != "float32":
            raise NetcError(f"dot works on dense float32 sources, got {a} and {b}", at("from"))
        p = self.plan(a, b, at)
        dims = [a.dims[i] for i in p.rem1 + p.var1] + [b.dims[j] for j in p.var2]
        if not p.var2 and self.add_var2_if_empty:
            dims.append(spatial_dim(1))
        if sum(d.kind is DimKind.TIME for d in dims) > 1:
            raise NetcError("the output would have two time axes", at("var1"))
        return default_feature(a, dims)
