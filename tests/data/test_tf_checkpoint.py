"""TensorFlow checkpoints read without TensorFlow equal TensorFlow's own reading; damage is a located error.

tests/data/data/ holds a checkpoint written by RETURNN (12AX net after one epoch) and one written by
tf.compat.v1 Saver with every dtype RETURNN checkpoints use and more, each with `tf.train.load_checkpoint`'s
dump as JSON; `bench/returnn_checkpoint.py` remakes them.
"""

from __future__ import annotations

import json
import shutil
import struct
from dataclasses import replace
from pathlib import Path

import google_crc32c
import numpy as np
import pytest
from netc.data.tf_checkpoint import TfCheckpoint, is_tf_checkpoint, load_arrays, load_tf_checkpoint, table_entries
from netc.ir import NetcError

DATA = Path(__file__).parent / "data"
RETURNN_CKPT = DATA / "returnn_12ax.001"


def as_json(value: np.ndarray) -> list | float | int | bool:
    """Values as the dump writes them (strings as hex)."""
    if value.dtype == object:
        return np.vectorize(lambda b: b.hex(), otypes=[str])(value).tolist()
    return value.tolist()


@pytest.mark.parametrize("name", ["returnn_12ax.001", "dtypes"])
def test_every_tensor_equals_tensorflows_reading(name: str) -> None:
    expected = json.loads((DATA / f"{name}.json").read_text())
    got = load_tf_checkpoint(str(DATA / name))
    assert sorted(got) == sorted(expected)
    for key, entry in expected.items():
        assert list(got[key].shape) == entry["shape"], key
        assert got[key].dtype.name == {"string": "object"}.get(entry["dtype"], entry["dtype"]), key
        assert as_json(got[key]) == entry["value"], key


def test_returnn_checkpoint_holds_parameters_and_global_step() -> None:
    got = load_tf_checkpoint(str(RETURNN_CKPT))
    assert {k: v.shape for k, v in got.items()} == {
        "fw0/rec/W": (9, 40), "fw0/rec/W_re": (10, 40), "fw0/rec/b": (40,), "global_step": (),
        "output/W": (10, 2), "output/b": (2,)}
    assert got["global_step"].dtype == np.int64 and got["global_step"] == 100  # 1000 seqs, max_seqs 10


@pytest.mark.parametrize("suffix", ["", ".index", ".meta"])
def test_prefix_forms(suffix: str) -> None:
    """As RETURNN's get_checkpoint_filepattern: the prefix, or the prefix with .index or .meta."""
    assert is_tf_checkpoint(str(RETURNN_CKPT) + suffix)
    assert sorted(load_arrays(str(RETURNN_CKPT) + suffix)) == sorted(load_tf_checkpoint(str(RETURNN_CKPT)))


def test_keep_reads_only_named_tensors() -> None:
    assert sorted(load_arrays(str(RETURNN_CKPT), {"output/b", "nothing"})) == ["output/b"]


def copy_checkpoint(tmp_path: Path) -> Path:
    for file in DATA.glob("returnn_12ax.001.*"):
        shutil.copyfile(file, tmp_path / file.name)
    return tmp_path / "returnn_12ax.001"


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def error_of(prefix: Path) -> NetcError:
    with pytest.raises(NetcError) as caught:
        load_tf_checkpoint(str(prefix))
    return caught.value


def test_damaged_tensor_bytes_name_the_data_file_and_tensor(tmp_path: Path) -> None:
    prefix = copy_checkpoint(tmp_path)
    entry = TfCheckpoint(str(prefix)).entries["output/W"]
    flip_byte(Path(f"{prefix}.data-00000-of-00001"), entry.offset + 3)
    error = error_of(prefix)
    assert error.where.file == f"{prefix}.data-00000-of-00001"
    assert "checksum mismatch in tensor 'output/W'" in error.message


def test_damaged_index_is_a_checksum_error(tmp_path: Path) -> None:
    prefix = copy_checkpoint(tmp_path)
    flip_byte(Path(f"{prefix}.index"), 20)
    error = error_of(prefix)
    assert error.where.file == f"{prefix}.index" and "checksum mismatch in the block at byte 0" in error.message


def test_truncated_and_missing_files(tmp_path: Path) -> None:
    prefix = copy_checkpoint(tmp_path)
    index = Path(f"{prefix}.index")
    index.write_bytes(index.read_bytes()[:-10])
    assert "no table footer" in error_of(prefix).message
    Path(f"{prefix}.data-00000-of-00001").unlink()
    shutil.copyfile(DATA / "returnn_12ax.001.index", index)
    error = error_of(prefix)
    assert error.where.file.endswith(".data-00000-of-00001") and "is missing" in error.message
    assert "no such TensorFlow checkpoint" in error_of(tmp_path / "model.007").message
    with pytest.raises(NetcError, match="nor a TensorFlow checkpoint"):
        load_arrays(str(tmp_path / "model.007"))


def test_truncated_data_file(tmp_path: Path) -> None:
    prefix = copy_checkpoint(tmp_path)
    data = Path(f"{prefix}.data-00000-of-00001")
    data.write_bytes(data.read_bytes()[:100])
    assert "the data file ends inside tensor" in error_of(prefix).message


def masked(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes(out + bytes([n]))


def block(pairs: list[tuple[bytes, bytes]], restart_interval: int = 2) -> bytes:
    """A table block as table/block_builder.cc writes it: shared-prefix keys, restart points."""
    out, restarts, last = bytearray(), [], b""
    for i, (key, value) in enumerate(pairs):
        shared = 0
        if i % restart_interval:
            while shared < min(len(key), len(last)) and key[shared] == last[shared]:
                shared += 1
        else:
            restarts.append(len(out))
        out += varint(shared) + varint(len(key) - shared) + varint(len(value)) + key[shared:] + value
        last = key
    out += b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))
    return bytes(out) + b"\0" + struct.pack("<I", masked(bytes(out) + b"\0"))


def test_table_with_several_data_blocks() -> None:
    """TensorFlow's blocks hold 256 KiB, so a small test file has one: a table with three is built here."""
    groups = [[(b"a/W", b"1"), (b"a/b", b"22"), (b"a/c", b"")], [(b"b/rec/W", b"x" * 300)], [(b"c", b"3")]]
    data, index = b"", []
    for pairs in groups:
        raw = block(pairs)
        index.append((pairs[-1][0], varint(len(data)) + varint(len(raw) - 5)))
        data += raw
    index_block = block(index, restart_interval=16)
    handles = varint(len(data)) + varint(0) + varint(len(data)) + varint(len(index_block) - 5)
    data += index_block + handles.ljust(40, b"\0") + struct.pack("<Q", 0xDB4775248B80FB57)
    assert table_entries(data) == {k: v for pairs in groups for k, v in pairs}


def test_damaged_string_tensor_and_unsupported_dtype(tmp_path: Path) -> None:
    for file in DATA.glob("dtypes.*"):
        shutil.copyfile(file, tmp_path / file.name)
    checkpoint = TfCheckpoint(str(tmp_path / "dtypes"))
    checkpoint.entries["f32"] = replace(checkpoint.entries["f32"], dtype=14)  # bfloat16: numpy has none
    with pytest.raises(NetcError, match="'f32' .* has TensorFlow dtype number 14, which netc does not read"):
        checkpoint.read("f32")
    words = checkpoint.entries["words"]
    flip_byte(tmp_path / "dtypes.data-00000-of-00001", words.offset + words.size - 2)
    with pytest.raises(NetcError, match="checksum mismatch in tensor 'words'"):
        checkpoint.read("words")
