"""`time_chunking` and `time_unchunking` (returnn/tf/layers/basic.py TimeChunkingLayer, TimeUnChunkingLayer;
the kernels are returnn/native_op.py Chunking and UnChunking).

Chunking cuts each sequence's time axis into chunks of `chunk_size` frames every `chunk_step` frames and makes
the chunks the batch: `[B, T, ...]` becomes `[B*C, T_chunk, ...]` (ir/types.py `Chunked`), so that a BLSTM
between chunking and unchunking sees a limited context ("chunked BLSTM"). Unchunking puts the frames back on
the chunking layer's input axis and averages each frame over the chunks that hold it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from netc.ir.errors import NetcError
from netc.ir.layers.base import At, Layer, ShapeEnv, required
from netc.ir.types import BATCH, LAYER, Chunked, DimKind, TensorType, chunk_batch_dim, time_dim


def chunks_of(t: TensorType) -> Chunked | None:
    """The chunking a type's batch dim holds, or None for the sequences' own batch."""
    batch = t.batch
    return None if batch is None else batch.chunks


@dataclass(frozen=True)
class TimeChunking(Layer):
    """Chunks of `chunk_size` frames every `chunk_step` frames of each sequence, as a batch of chunks; a
    sequence of `n` frames has `max(n - chunk_size + chunk_step - 1, 0) // chunk_step + 1` chunks, the last
    ones shorter (their lengths `clip(n - c * chunk_step, 0, chunk_size)`)."""

    chunk_size: int | None = None
    chunk_step: int | None = None
    axis: str = "T"

    class_name: ClassVar[str] = "time_chunking"

    def check(self, at: At) -> None:
        super().check(at)
        for key in ("chunk_size", "chunk_step"):
            value = getattr(self, key)
            # RETURNN's TimeChunkingLayer(chunk_size, chunk_step): both required, no default
            required(value, key, at, '"chunk_size": 50, "chunk_step": 25')
            if not 1 <= value <= 1 << 16:
                raise NetcError(f"'{key}' must be a positive number of frames", at(key),
                                f'e.g. "chunk_size": 50, "chunk_step": 25 (got {value})')
        if self.axis.lower() not in ("t", "time"):
            raise NetcError(f"chunking over axis {self.axis!r} is not supported", at("axis"), 'use "T"')

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        if x is None or x.sparse or not x.is_packable:
            raise NetcError(f"time_chunking needs a dense [B, T, ...] input, got {x or 'none'}", at("from"),
                            "chunk the embedding of class indices (a linear layer on them), not the indices"
                            if x is not None and x.sparse else "chunk a layer whose output has batch then time first")
        if chunks_of(x) is not None:
            raise NetcError(f"the input {x} is chunked already; netc does not chunk chunks", at("from"),
                            "unchunk first (time_unchunking)")
        assert self.chunk_size is not None and self.chunk_step is not None
        axis = Chunked(x.time, self.chunk_size, self.chunk_step)
        return x.with_dims((chunk_batch_dim(axis), time_dim(axis, f"{LAYER}:chunking")) + x.dims[2:])


@dataclass(frozen=True)
class TimeUnChunking(Layer):
    """The chunks of `chunking_layer` back on its input's time axis: each frame is the mean over the chunks
    that hold it (frames no chunk holds, possible when chunk_step > chunk_size, are 0)."""

    chunking_layer: str | None = None

    class_name: ClassVar[str] = "time_unchunking"
    layer_keys: ClassVar[tuple[str, ...]] = ("chunking_layer",)

    def check(self, at: At) -> None:
        super().check(at)
        if not self.chunking_layer:
            raise NetcError("'chunking_layer' is required", at("chunking_layer"),
                            'name the time_chunking layer, e.g. "chunking_layer": "chunked"')

    @property
    def dependencies(self) -> tuple[str, ...]:
        return self.sources + ((self.chunking_layer,) if self.chunking_layer else ())

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        assert self.chunking_layer is not None
        axis = chunks_of(env.type_of(self.chunking_layer))
        assert axis is not None  # a time_chunking layer's output (ir/build.py check_chunking_layer)
        if x is None or x.sparse or not x.is_packable or chunks_of(x) != axis or x.time != axis:
            raise NetcError(f"time_unchunking needs the dense chunks of {self.chunking_layer!r} "
                            f"{[str(d) for d in (chunk_batch_dim(axis), time_dim(axis))]}, got {x or 'none'}",
                            at("from"), "unchunk a layer computed on the chunks, with their time axis unchanged")
        assert x.dims[0].kind is DimKind.BATCH
        return x.with_dims((BATCH, time_dim(axis.parent)) + x.dims[2:])


CHUNKING_LAYERS = (TimeChunking, TimeUnChunking)
