"""`chunking` as RETURNN does it: chunk positions, batching by chunks, and a RETURNN trajectory on 12AX.

tests/trainer/data/returnn_chunking.json was written by bench/returnn_chunk_goldens.py (RETURNN 1.20261022):
12AX with `chunking "20:10"`, 2 epochs without dropout. With `chunking "0"` netc's scores differ by > 0.01.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from netc.ir import Document, NetcError
from netc.trainer.chunking import Chunking, read_chunking
from netc.trainer.loop import Trainer
from netc.trainer.ordering import make_batches
from netc.trainer.setup import prepare

from .returnn_goldens import assert_params_equal, assert_scores_equal, load_golden, train_like

GOLDEN = load_golden("returnn_chunking")
TABLES = load_golden("returnn_chunk_tables")


def chunking_of(value: object, **keys: object) -> Chunking | None:
    return read_chunking(Document("config.py", {"chunking": value} | keys))


@pytest.mark.parametrize(("value", "expected"), [
    ("50:25", Chunking(50, 25)), ("50", Chunking(50, 50)), (50, Chunking(50, 50)), ((50, 25), Chunking(50, 25)),
    ({"data": 50, "classes": 50}, Chunking(50, 50)), (({"data": 50, "classes": 50}, {"data": 25, "classes": 25}),
                                                     Chunking(50, 25)),
    ("0", None), (0, None), (None, None), ("50:0", Chunking(50, 50)),
])
def test_forms_of_the_key(value, expected):
    assert chunking_of(value) == expected


@pytest.mark.parametrize(("value", "keys", "message"), [
    ("50:x", {}, "cannot read"), ({"data": 50, "classes": 25}, {}, "different values per data key"),
    ("50:25", {"chunking_variance": 1.5}, r"in \[0, 1\]"), ("-5:2", {}, "positive"),
])
def test_bad_values_are_located_errors(value, keys, message):
    with pytest.raises(NetcError, match=message) as info:
        chunking_of(value, **keys)
    assert info.value.where.file == "config.py"


def test_a_chunk_starts_at_every_multiple_of_step_below_the_length():
    assert Chunking(20, 10).spans(45) == [(0, 20), (10, 30), (20, 40), (30, 45), (40, 45)]
    assert Chunking(20, 10).spans(20) == [(0, 20), (10, 20)]
    assert Chunking(20, 10).spans(1) == [(0, 1)]
    assert Chunking(20, 10).spans(0) == []
    assert Chunking(20, 20, min_size=5).spans(45) == [(0, 20), (20, 40)]  # 5 frames left: no chunk


def test_chunks_follow_the_sequence_order_and_batches_count_chunks():
    seq, start, end = Chunking(4, 2).cut(np.array([1, 0]), np.array([3, 6]))
    assert seq.tolist() == [1, 1, 1, 0, 0]
    assert list(zip(start.tolist(), end.tolist())) == [(0, 4), (2, 6), (4, 6), (0, 3), (2, 3)]
    assert [b.tolist() for b in make_batches(np.arange(5), end - start, 8, None)] == [[0, 1], [2, 3], [4]]
    assert [b.tolist() for b in make_batches(np.arange(5), end - start, 100, 3)] == [[0, 1, 2], [3, 4]]


@pytest.mark.parametrize("case", TABLES["chunks"],
                         ids=lambda c: f"{c['chunking']}-min{c['min_chunk_size']}-var{c['chunking_variance']}")
def test_chunks_and_their_batches_are_returnns(case):
    """RETURNN's own `iterate_seqs` and `generate_batches` on sequences of lengths 1-45 (corpus order, epoch 1),
    with `chunking_variance` too."""
    lengths = np.array(TABLES["lengths"])
    keys = {k: case[k] for k in ("chunking", "min_chunk_size", "chunking_variance")}
    chunking = read_chunking(Document("c.py", keys))
    seq, start, end = (chunking.cut(np.arange(len(lengths)), lengths, seed=1) if chunking else
                       (np.arange(len(lengths)), np.zeros(len(lengths), np.int64), lengths))
    assert np.stack([seq, start, end], 1).tolist() == case["spans"]
    batches = make_batches(np.arange(len(seq)), end - start, TABLES["batching"]["batch_size"],
                           TABLES["batching"]["max_seqs"])
    assert [[[int(seq[k]), int(start[k])] for k in batch] for batch in batches] == case["batches"]


def test_netc_reaches_returnns_scores_and_parameters(tmp_path):
    trainer, _ = train_like(GOLDEN, tmp_path)
    assert_scores_equal(trainer, GOLDEN)
    assert_params_equal(trainer, GOLDEN)


def test_chunking_an_encoder_decoder_net_is_a_located_error(tmp_path):
    """A decoder's targets have their own length: RETURNN refuses to chunk them, so does netc."""
    net = {"enc": {"class": "rec", "n_out": 4}, "dec": {"class": "rec", "from": "null", "encoder": ["enc"]},
           "output": {"class": "softmax", "loss": "ce", "from": "dec"}}
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"train": {"class": "Task12AXDataset", "num_seqs": 3}, "num_inputs": 9,
                                  "num_outputs": 2, "network": net, "chunking": "10:5"}))
    with pytest.raises(NetcError, match="a decoder's or CTC's targets have their own length") as error:
        Trainer(prepare(str(config)), log=lambda line: None, progress=False)
    assert error.value.where.key == "chunking"
