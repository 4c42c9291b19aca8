"""RETURNN HDF files: round trip, the 2-column rule, and files written by RETURNN's documented layout."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from netc.data import HdfReader, HdfSeq, write_hdf
from netc.ir import NetcError


def test_round_trip_with_targets(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    seqs = [HdfSeq(f"corpus/{i}", rng.standard_normal((n, 3)).astype(np.float32),
                   {"classes": rng.integers(0, 5, n).astype(np.int32), "align": np.arange(n + 1, dtype=np.int32)})
            for i, n in enumerate([4, 1, 7])]
    assert write_hdf(tmp_path / "d.hdf", seqs, 3, {"classes": 5, "align": 9}) == 3
    reader = HdfReader(tmp_path / "d.hdf")
    assert len(reader) == 3 and reader.num_inputs == 3 and reader.tags == ["corpus/0", "corpus/1", "corpus/2"]
    assert reader.target_keys == ["align", "classes"], "sorted key order, as RETURNN writes the columns"
    assert reader.file["seqLengths"][...].tolist() == [[4, 5, 4], [1, 2, 1], [7, 8, 7]]
    assert (reader.target_dim("classes"), reader.target_dim("align")) == (5, 9)
    for seq, back in zip(seqs, reader):
        np.testing.assert_array_equal(back.features, seq.features)
        for key in ("classes", "align"):
            np.testing.assert_array_equal(back.targets[key], seq.targets[key])
    attrs = dict(reader.file.attrs)
    assert (attrs["inputPattSize"], attrs["numSeqs"], attrs["numTimesteps"]) == (3, 3, 12)


def test_files_without_targets_still_have_two_length_columns(tmp_path: Path) -> None:
    write_hdf(tmp_path / "d.hdf", [HdfSeq("a", np.ones((2, 4))), HdfSeq("b", np.zeros((5, 4)))], 4)
    reader = HdfReader(tmp_path / "d.hdf")
    assert reader.file["seqLengths"][...].tolist() == [[2, 2], [5, 5]]
    assert reader.target_keys == [] and reader[1].features.shape == (5, 4)


def test_reads_a_file_in_returnns_documented_layout(tmp_path: Path) -> None:
    """Written here with h5py exactly as training.md describes RETURNN's files (bytes tags, size attrs)."""
    with h5py.File(tmp_path / "r.hdf", "w") as f:
        f.create_dataset("inputs", data=np.arange(10, dtype=np.float32).reshape(5, 2))
        f.create_dataset("seqLengths", data=np.array([[2, 2], [3, 3]], np.int32))
        f.create_dataset("seqTags", data=np.array([b"seq-a", b"seq-b"]))
        f.create_dataset("targets/data/classes", data=np.array([0, 1, 1, 2, 0], np.int32))
        f["targets/size"] = np.zeros(0)
        f["targets/size"].attrs["classes"] = [3, 1]
        f.create_dataset("targets/labels/classes", data=np.array([b"a", b"b", b"c"]))
        f.attrs.update({"inputPattSize": 2, "numLabels": 3, "numSeqs": 2, "numTimesteps": 5, "numDims": 1})
    reader = HdfReader(tmp_path / "r.hdf")
    assert reader.tags == ["seq-a", "seq-b"] and reader.target_dim("classes") == 3
    np.testing.assert_array_equal(reader[1].features, [[4, 5], [6, 7], [8, 9]])
    np.testing.assert_array_equal(reader[1].targets["classes"], [1, 2, 0])


def test_reading_keeps_memory_flat_by_slicing_on_demand(tmp_path: Path) -> None:
    write_hdf(tmp_path / "d.hdf", (HdfSeq(str(i), np.full((50, 8), i, np.float32)) for i in range(200)), 8)
    reader = HdfReader(tmp_path / "d.hdf")
    assert not hasattr(reader, "inputs"), "features are not loaded up front"
    assert reader[137].features[0, 0] == 137


@pytest.mark.parametrize("damage", ["not-hdf", "no-tags", "short-inputs"])
def test_damaged_files_get_a_clear_error(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "d.hdf"
    if damage == "not-hdf":
        path.write_bytes(b"plain text")
    else:
        with h5py.File(path, "w") as f:
            f.create_dataset("inputs", data=np.zeros((3, 2), np.float32))
            f.create_dataset("seqLengths", data=np.array([[4, 4]], np.int32))
            if damage == "short-inputs":
                f.create_dataset("seqTags", data=np.array([b"x"]))
    with pytest.raises(NetcError, match=str(path)):
        HdfReader(path)
