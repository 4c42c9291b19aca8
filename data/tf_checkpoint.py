"""TensorFlow checkpoints (`model.003.index` + `model.003.data-00000-of-00001`) read with numpy, without TensorFlow.

The format is TensorFlow's tensor bundle (tensorflow/core/util/tensor_bundle/tensor_bundle.cc, as RETURNN's
`tf.train.Saver` writes it): the `.index` file is a LevelDB-format table (tensorflow/core/lib/io/format.cc,
block.cc: blocks of prefix-compressed keys with restart points, each block followed by a type byte and a masked
crc32c, and a 48-byte footer holding the index block's handle) mapping each tensor name to a `BundleEntryProto`
(dtype, shape, shard, offset, size, masked crc32c of the bytes); the empty key holds the `BundleHeaderProto`
(num_shards, endianness, version). The tensors' raw bytes lie in `.data-NNNNN-of-MMMMM` files.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

import google_crc32c
import numpy as np
from netc.ir import NetcError, Where, load_npz

MAGIC = 0xDB4775248B80FB57
FOOTER = 48
BLOCK_TRAILER = 5  # a type byte (0: raw) and the block's masked crc32c
# tensorflow/core/framework/types.proto; strings are handled apart (a length table, then the bytes).
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64,
          10: np.bool_, 17: np.uint16, 19: np.float16, 22: np.uint32, 23: np.uint64}
DT_STRING = 7
HINT = "write it again with RETURNN (or tf.train.Saver); a prefix such as model.003 names model.003.index"


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lies: dtype number (types.proto), shape, shard file, byte offset and size, masked crc32c."""

    name: str
    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int


def checkpoint_prefix(path: str) -> str:
    """`model.003` for `model.003`, `model.003.index` or `model.003.meta` (RETURNN's get_checkpoint_filepattern)."""
    for ext in (".meta", ".index"):
        if path.endswith(ext):
            return path[: -len(ext)]
    return path


def is_tf_checkpoint(path: str) -> bool:
    """Whether `path` names a TensorFlow checkpoint: its `.index` file exists."""
    return Path(checkpoint_prefix(path) + ".index").is_file()


def unmask(crc: int) -> int:
    """crc32c::Unmask of tensorflow/core/lib/hash/crc32c.h."""
    rot = (crc - 0xA282EAD8) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    """A protobuf/LevelDB base-128 varint at `pos`: (value, position after it). Raises IndexError when cut off."""
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def proto_fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """A protobuf message's (field number, value) pairs: varints and fixed32 as ints, length-delimited as bytes."""
    fields: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        tag, pos = varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = varint(buf, pos)
            fields.append((number, value))
        elif wire == 2:
            length, pos = varint(buf, pos)
            if pos + length > len(buf):
                raise ValueError("length-delimited field runs past the message")
            fields.append((number, buf[pos:pos + length]))
            pos += length
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            fields.append((number, int.from_bytes(buf[pos:pos + width], "little")))
            pos += width
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return fields


class TfCheckpoint:
    """The entries of one checkpoint's `.index` file; tensors are read from the data files on request."""

    def __init__(self, path: str):
        self.prefix = checkpoint_prefix(path)
        self.index = self.prefix + ".index"
        try:
            data = Path(self.index).read_bytes()
        except FileNotFoundError:
            raise NetcError("no such TensorFlow checkpoint (its .index file is missing)", Where(self.index),
                            HINT) from None
        except OSError as e:
            raise NetcError(f"cannot read the checkpoint index: {e.strerror or e}", Where(self.index)) from None
        try:
            pairs = table_entries(data)
        except (ValueError, IndexError, struct.error) as e:
            raise NetcError(f"not a TensorFlow checkpoint index: {e}", Where(self.index), HINT) from None
        header = pairs.pop(b"", None)
        if header is None:
            raise NetcError("the checkpoint index has no header entry", Where(self.index), HINT)
        self.num_shards = self.read_header(header)
        self.entries = {name.decode("utf-8", "replace"): self.read_entry(name, value) for name, value in pairs.items()}

    def error(self, message: str) -> NetcError:
        return NetcError(message, Where(self.index), HINT)

    def read_header(self, value: bytes) -> int:
        """BundleHeaderProto: num_shards (1), endianness (2: 0 little), version (3: VersionDef)."""
        try:
            fields = dict(proto_fields(value))
            version = dict(proto_fields(fields.get(3, b"")))  # type: ignore[arg-type]
        except (ValueError, IndexError) as e:
            raise self.error(f"unreadable checkpoint header: {e}") from None
        if fields.get(2, 0) != 0:
            raise self.error("the checkpoint was written big-endian; only little-endian checkpoints are read")
        if int(version.get(2, 0)) > 1:  # min_consumer: TensorFlow's kTensorBundleVersion is 1
            raise self.error(f"the checkpoint needs a reader of bundle version >= {version[2]}; netc reads 1")
        return int(fields.get(1, 1))  # type: ignore[arg-type]

    def read_entry(self, key: bytes, value: bytes) -> TensorEntry:
        """BundleEntryProto: dtype (1), shape (2), shard_id (3), offset (4), size (5), crc32c (6), slices (7)."""
        name = key.decode("utf-8", "replace")
        try:
            fields = proto_fields(value)
            get = dict(fields)
            shape = shape_of(get.get(2, b""))  # type: ignore[arg-type]
        except (ValueError, IndexError) as e:
            raise self.error(f"unreadable index entry of {name!r}: {e}") from None
        if any(n == 7 for n, _ in fields):
            raise self.error(f"{name!r} is a partitioned (sliced) variable, which netc does not read")
        return TensorEntry(name, int(get.get(1, 0)), shape, int(get.get(3, 0)), int(get.get(4, 0)),
                           int(get.get(5, 0)), int(get.get(6, 0)))

    def shard_file(self, shard: int) -> str:
        return f"{self.prefix}.data-{shard:05d}-of-{self.num_shards:05d}"

    def read(self, name: str) -> np.ndarray:
        """One tensor, checked against its crc32c; errors name the data file and the tensor."""
        entry = self.entries[name]
        file, raw = self.shard_file(entry.shard), self.raw(entry)
        where = f"tensor {name!r} (bytes {entry.offset}..{entry.offset + entry.size})"
        count = math.prod(entry.shape)
        if entry.dtype == DT_STRING:
            try:
                strings = decode_strings(raw, count, entry.shape)
            except (ValueError, IndexError):
                strings = None
            if strings is None or string_crc(raw, strings) != unmask(entry.crc32c):
                raise NetcError(f"checksum mismatch in {where}: the file is damaged", Where(file), HINT)
            return strings
        if google_crc32c.value(raw) != unmask(entry.crc32c):
            raise NetcError(f"checksum mismatch in {where}: the file is damaged", Where(file), HINT)
        if entry.dtype not in DTYPES:
            raise NetcError(f"{where} has TensorFlow dtype number {entry.dtype}, which netc does not read",
                            Where(file), "supported: float16/32/64, (u)int8/16/32/64, bool, string")
        dtype = np.dtype(DTYPES[entry.dtype]).newbyteorder("<")
        if count * dtype.itemsize != entry.size:
            raise NetcError(f"{where} holds {entry.size} bytes, its shape {entry.shape} needs "
                            f"{count * dtype.itemsize}", Where(file), HINT)
        return np.frombuffer(raw, dtype).astype(dtype.newbyteorder("="), copy=True).reshape(entry.shape)

    def raw(self, entry: TensorEntry) -> bytes:
        """A tensor's bytes from its shard file."""
        file = self.shard_file(entry.shard)
        try:
            with open(file, "rb") as f:
                f.seek(entry.offset)
                raw = f.read(entry.size)
        except FileNotFoundError:
            raise NetcError(f"the data file of tensor {entry.name!r} is missing", Where(file), HINT) from None
        except OSError as e:
            raise NetcError(f"cannot read tensor {entry.name!r}: {e.strerror or e}", Where(file)) from None
        if len(raw) != entry.size:
            raise NetcError(f"the data file ends inside tensor {entry.name!r} (bytes {entry.offset}.."
                            f"{entry.offset + entry.size})", Where(file), HINT)
        return raw

    def read_all(self) -> dict[str, np.ndarray]:
        """Every tensor, by name."""
        return {name: self.read(name) for name in self.entries}


def shape_of(buf: bytes) -> tuple[int, ...]:
    """TensorShapeProto: repeated dim (2), each a Dim whose size (1) is an int64; no unknown sizes in a checkpoint."""
    dims = tuple(int(dict(proto_fields(dim)).get(1, 0)) for number, dim in proto_fields(buf) if number == 2)
    if any(d >= 2**63 for d in dims):
        raise ValueError(f"unknown dimension in shape {dims}")
    return dims


def decode_strings(raw: bytes, count: int, shape: tuple[int, ...]) -> np.ndarray:
    """A string tensor: `count` varint lengths, a 4-byte masked crc32c of them, then the bytes (WriteStringTensor)."""
    lengths, pos = [], 0
    for _ in range(count):
        length, pos = varint(raw, pos)
        lengths.append(length)
    pos += 4
    if pos + sum(lengths) != len(raw):
        raise ValueError("string lengths do not add up to the tensor's size")
    values = np.empty(count, object)
    for i, length in enumerate(lengths):
        values[i] = raw[pos:pos + length]
        pos += length
    return values.reshape(shape)


def string_crc(raw: bytes, strings: np.ndarray) -> int:
    """WriteStringTensor's crc32c: each length as 4 little-endian bytes (8 past 2**32), then the rest of `raw`."""
    lengths = [len(v) for v in strings.flat]
    table = b"".join(n.to_bytes(4 if n < 2**32 else 8, "little") for n in lengths)
    start = len(raw) - sum(lengths) - 4
    return google_crc32c.extend(google_crc32c.value(table), raw[start:])


def table_entries(data: bytes) -> dict[bytes, bytes]:
    """Every key/value of a LevelDB-format table: the footer's index block lists the data blocks."""
    if len(data) < FOOTER or int.from_bytes(data[-8:], "little") != MAGIC:
        raise ValueError("no table footer (file too short or wrong magic number)")
    footer = data[-FOOTER:]
    _, pos = varint(footer, varint(footer, 0)[1])  # skip the metaindex handle
    index_offset, pos = varint(footer, pos)
    index_size, _ = varint(footer, pos)
    entries: dict[bytes, bytes] = {}
    for _, handle in block_entries(data, index_offset, index_size):
        offset, pos = varint(handle, 0)
        size, _ = varint(handle, pos)
        entries.update(block_entries(data, offset, size))
    return entries


def block_entries(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """One block's key/value pairs: each key shares a prefix with the one before (table/block.cc)."""
    end = offset + size
    if end + BLOCK_TRAILER > len(data) - FOOTER or size < 4:
        raise ValueError(f"block at byte {offset} ({size} bytes) runs past the end of the file")
    contents, kind = data[offset:end], data[end]
    (stored,) = struct.unpack_from("<I", data, end + 1)
    if google_crc32c.value(data[offset:end + 1]) != unmask(stored):
        raise ValueError(f"checksum mismatch in the block at byte {offset}: the file is damaged")
    if kind != 0:  # TensorFlow's BundleWriter sets table::kNoCompression
        raise ValueError(f"block at byte {offset} is compressed (type {kind}); TensorFlow writes them raw")
    (restarts,) = struct.unpack_from("<I", contents, len(contents) - 4)
    limit = len(contents) - 4 - 4 * restarts
    if limit < 0:
        raise ValueError(f"block at byte {offset} has a bad restart count {restarts}")
    pairs, key, pos = [], b"", 0
    while pos < limit:
        shared, pos = varint(contents, pos)
        unshared, pos = varint(contents, pos)
        length, pos = varint(contents, pos)
        if shared > len(key) or pos + unshared + length > limit:
            raise ValueError(f"bad entry at byte {pos} of the block at byte {offset}")
        key = key[:shared] + contents[pos:pos + unshared]
        pos += unshared
        pairs.append((key, contents[pos:pos + length]))
        pos += length
    return pairs


def load_tf_checkpoint(path: str) -> dict[str, np.ndarray]:
    """Every tensor of a TensorFlow checkpoint (prefix `model.003`, or its `.index` path), by name."""
    return TfCheckpoint(path).read_all()


def load_arrays(path: str, keep: set[str] | None = None) -> dict[str, np.ndarray]:
    """Named arrays from an `.npz` file or a TensorFlow checkpoint prefix (torch-free; `.pt` is the trainer's).

    `keep`: of a TensorFlow checkpoint read only these names; RETURNN restores only the network's variables
    (`load_params_from_file`), so `global_step` and optimizer slots are not parameters. An `.npz` is read whole.
    """
    if is_tf_checkpoint(path):
        checkpoint = TfCheckpoint(path)
        return {name: checkpoint.read(name) for name in checkpoint.entries if keep is None or name in keep}
    if path.endswith(".npz") or Path(path).is_file():
        return load_npz(path)
    raise NetcError("no such parameter file, nor a TensorFlow checkpoint (no .index file beside it)", Where(path),
                    "give an .npz, a netc checkpoint .pt, or a RETURNN checkpoint prefix such as model.003 "
                    "(model.003.index and model.003.data-00000-of-00001 beside it)")
