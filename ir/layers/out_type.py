"""RETURNN's `out_type` (every layer, `LayerBase.__init__`): a declared output type, which netc checks against the
type it infers instead of taking it (returnn/tensor/_tensor_extra.py `_handle_extra_kwargs` names its keys)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netc.ir.types import DimKind, TensorType

CHECKED = ("shape", "dim", "sparse", "dtype")
LAYOUT = ("batch_dim_axis", "time_dim_axis", "feature_dim_axis", "available_for_inference", "vocab", "name",
          "same_dim_tags_as", "beam")  # where RETURNN keeps axes, or bookkeeping: no number changes
HINT = ('out_type is a dict of RETURNN Data options, e.g. {"dim": 1, "shape": [null, 1]}; netc checks shape, '
        "dim, sparse and dtype against the type it infers and accepts the layout keys " + ", ".join(LAYOUT))


@dataclass(frozen=True)
class OutType:
    """The checked part of a declared `out_type` (None: not declared) and the keys it had, for printing."""

    shape: tuple[int | None, ...] | None = None
    dim: int | None = None
    has_dim: bool = False
    sparse: bool | None = None
    dtype: str | None = None
    keys: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, value: Any) -> OutType:
        if not isinstance(value, dict):
            raise ValueError(HINT)
        unknown = [k for k in value if k not in CHECKED + LAYOUT]
        if unknown:
            raise ValueError(f"out_type key {unknown[0]!r} (dim tags, a placeholder) is not supported; " + HINT)
        shape = value.get("shape")
        if shape is not None and not (isinstance(shape, (list, tuple)) and all(
                d is None or isinstance(d, int) and not isinstance(d, bool) for d in shape)):
            raise ValueError("out_type shape is a list of sizes and nulls (dynamic), without the batch")
        dim = value.get("dim")
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int)):
            raise ValueError("out_type dim is a whole number or null")
        sparse, dtype = value.get("sparse"), value.get("dtype")
        if sparse is not None and not isinstance(sparse, bool) or dtype is not None and not isinstance(dtype, str):
            raise ValueError("out_type sparse is true or false, dtype a string such as 'float32'")
        return cls(None if shape is None else tuple(shape), dim, "dim" in value, sparse, dtype, tuple(value))

    def plain(self) -> Any:
        result: dict[str, Any] = {}
        if self.shape is not None:
            result["shape"] = list(self.shape)
        if self.has_dim:
            result["dim"] = self.dim
        return result | {k: v for k, v in (("sparse", self.sparse), ("dtype", self.dtype)) if v is not None}

    def mismatch(self, t: TensorType) -> str | None:
        """What of the declaration contradicts the inferred type `t`, or None."""
        shape = tuple(None if d.kind is DimKind.TIME else d.size for d in t.dims if d.kind is not DimKind.BATCH)
        if self.shape is not None and (len(self.shape) != len(shape) or any(
                want is not None and want != got for want, got in zip(self.shape, shape))):
            return f"shape {list(self.shape)}, but netc infers {t} (shape {list(shape)} without the batch)"
        dim = t.classes if t.sparse else (t.feature if t.feature_index is not None else None)
        if self.has_dim and self.dim != dim:
            return f"dim {self.dim}, but netc infers {t} (dim {dim})"
        if self.sparse is not None and self.sparse != t.sparse:
            return f"sparse {self.sparse}, but netc infers {t}"
        if self.dtype is not None and self.dtype != t.dtype:
            return f"dtype {self.dtype}, but netc infers {t} ({t.dtype})"
        return None
