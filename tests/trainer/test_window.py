"""The top-level `window` as RETURNN TF's datasets apply it, and a RETURNN trajectory on 12AX.

tests/trainer/data/returnn_window.json was written by bench/returnn_chunk_goldens.py (RETURNN 1.20261022):
12AX with `window 3` and `num_inputs 27`, 2 epochs without dropout, train and dev windowed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from netc.data import HdfSeq, write_hdf
from netc.ir import Document, NetcError
from netc.trainer.input_window import read_window, sliding_window
from netc.trainer.setup import prepare

from .returnn_goldens import assert_params_equal, assert_scores_equal, load_golden, train_like

GOLDEN = load_golden("returnn_window")


def test_each_frame_is_its_neighbourhood_with_zeros_beyond_the_ends():
    x = np.arange(1, 7, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(sliding_window(x, 3), [[0, 0, 1, 2, 3, 4], [1, 2, 3, 4, 5, 6], [3, 4, 5, 6, 0, 0]])
    np.testing.assert_array_equal(sliding_window(x[:1], 5), [[0, 0, 0, 0, 1, 2, 0, 0, 0, 0]])
    assert sliding_window(x, 1) is x


def test_an_even_window_is_widened_by_one_as_in_returnn():
    assert [read_window(Document("c.py", {"window": w})) for w in (None, 0, 1, 2, 3)] == [1, 1, 1, 3, 3]
    with pytest.raises(NetcError, match="window must be"):
        read_window(Document("c.py", {"window": "3"}))


def test_chunks_are_cut_from_windowed_sequences_and_dev_is_neither_chunked_nor_reordered(tmp_path):
    frames = np.arange(1, 11, dtype=np.float32).reshape(5, 2)
    seqs = [HdfSeq("a", frames, {"classes": np.zeros(5, np.int32)}),
            HdfSeq("b", frames[:2], {"classes": np.zeros(2, np.int32)})]
    write_hdf(tmp_path / "d.hdf", seqs, 2, {"classes": 3})
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"train": str(tmp_path / "d.hdf"), "dev": str(tmp_path / "d.hdf"), "window": 3,
                                  "chunking": "2:2", "batching": "sorted", "num_outputs": 3,
                                  "network": {"output": {"class": "softmax", "loss": "ce", "from": ["data"]}}}))
    setup = prepare(str(config))
    assert setup.graph().input_type.feature == 6  # the dataset's 2 features x window 3
    corpus, lengths, order, _ = setup.pieces("train", 1)
    assert lengths.tolist() == [2, 2, 2, 1] and order.tolist() == [0, 1, 2, 3]  # b first (sorted), then a's chunks
    np.testing.assert_array_equal(corpus[2].features[0], np.concatenate([frames[1], frames[2], frames[3]]))
    corpus, lengths, order, _ = setup.pieces("dev", 1)
    assert lengths.tolist() == [5, 2] and order.tolist() == [0, 1]
    np.testing.assert_array_equal(corpus[0].features, sliding_window(frames, 3))


def test_netc_reaches_returnns_scores_and_parameters(tmp_path):
    trainer, _ = train_like(GOLDEN, tmp_path)
    assert_scores_equal(trainer, GOLDEN)
    assert_params_equal(trainer, GOLDEN)
