"""Generating datasets (training.md, task12ax.md) and dump-dataset's HDF output."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner
from netc.data import DummyDataset, HdfReader, Task12AXDataset
from netc.data.generating import targets_12ax
from netc.trainer.ordering import seq_order

from netc.cli import main


def test_dummy_dataset_documented_example():
    first, second = DummyDataset(input_dim=2, output_dim=3, num_seqs=2, seq_len=5).epoch_seqs(1)
    np.testing.assert_allclose(first.features[0], [-0.5, -0.4])
    np.testing.assert_allclose(first.features[-1], [0.3, 0.4])
    assert first.targets["classes"].tolist() == [1, 2, 0, 1, 2]
    np.testing.assert_allclose(second.features[0], [-0.4, -0.3])
    np.testing.assert_allclose(second.features[-1], [0.4, -0.5])
    assert second.targets["classes"].tolist() == [2, 0, 1, 2, 0]


def frames_and_r(seqs):
    return sum(len(s.features) for s in seqs), sum(int(s.targets["classes"].sum()) for s in seqs)


def test_task12ax_train_epochs_match_returnn_frame_counts():
    train = Task12AXDataset(num_seqs=1000)
    assert frames_and_r(train.epoch_seqs(1)) == (53558, 7312)
    assert frames_and_r(train.epoch_seqs(2))[0] == 55153
    assert frames_and_r(train.epoch_seqs(3))[0] == 54710


def test_task12ax_dev_is_fixed_and_equals_train_epoch1_start():
    dev = Task12AXDataset(num_seqs=100, fixed_random_seed=1)
    seqs = dev.epoch_seqs(4)
    assert frames_and_r(seqs) == (5507, 778)
    train1 = Task12AXDataset(num_seqs=100).epoch_seqs(1)
    assert all(np.array_equal(a.features, b.features) for a, b in zip(seqs, train1))
    assert all(len(s.features) in range(10, 100) and s.features.shape[1] == 9 for s in seqs)


def test_task12ax_target_rule():
    assert targets_12ax("1AX").tolist() == [0, 0, 1]
    assert targets_12ax("2BY3CX").tolist() == [0, 0, 1, 0, 0, 0]  # X right after a match: inner is empty
    assert targets_12ax("AX1BX2AY").tolist() == [0] * 8
    assert targets_12ax("13AZX").tolist() == [0, 0, 0, 0, 1]  # 3 keeps outer, Z changes nothing


def test_random_order_is_returnn_epoch_permutation():
    assert seq_order("random", np.ones(1000), 3).tolist() == np.random.RandomState(3).permutation(1000).tolist()


def test_dump_dataset_writes_the_epoch_in_training_order(tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"train": {"class": "Task12AXDataset", "num_seqs": 30},
                                  "network": {"output": {"class": "softmax", "loss": "ce"}}}))
    out = tmp_path / "e2.hdf"
    result = CliRunner().invoke(main, ["dump-dataset", str(config), "--epoch", "2", "-o", str(out),
                                       "++max_seq_length", "60"])
    assert result.exit_code == 0, result.output
    reader = HdfReader(out)
    seqs = Task12AXDataset(num_seqs=30).epoch_seqs(2)
    expected = [i for i in np.random.RandomState(2).permutation(30) if len(seqs[i].features) <= 60]
    assert reader.tags == [f"seq-{i}" for i in expected]
    assert np.array_equal(reader[0].features, seqs[expected[0]].features)
    assert np.array_equal(reader[1].targets["classes"], seqs[expected[1]].targets["classes"])
    assert reader.num_inputs == 9 and reader.target_dim("classes") == 2
    assert f"({30 - len(expected)} skipped" in result.output


def test_12ax_choice_makes_exactly_randints_draw():
    from netc.data.generating import choice

    for seed in range(50):
        expected, got = np.random.RandomState((seed, 3)), np.random.RandomState((seed, 3))
        for k in [2, 3, 9, 2, 5] * 40:
            options = tuple(str(i) for i in range(k))
            assert choice(got, options) == options[expected.randint(0, k)]
            assert got.random_sample() == expected.uniform()
