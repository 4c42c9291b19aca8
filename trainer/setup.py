"""From a config file to what training needs: the config, the datasets, the typed graph (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from netc.data import Corpus, Dataset, dataset_from_config
from netc.data.datasets import ignored_options
from netc.ir import Dims, Document, Graph, NetcError, graph_from_document, read_file

from .config import TrainConfig, ignored_keys, parse_overrides, read_train_config
from .ordering import make_batches, seq_order, skip_long

ROLES = ("train", "dev", "eval")


@dataclass(frozen=True)
class Setup:
    """A read training config: keys, datasets by role, and (when built) the graph."""

    doc: Document
    config: TrainConfig
    datasets: dict[str, Dataset]
    ignored: tuple[str, ...]

    def graph(self) -> Graph:
        """The typed IR; dims missing from the config come from the training data."""
        train = self.datasets["train"]
        fallback = Dims(train.num_inputs, tuple(sorted(train.target_dims.items())))
        return graph_from_document(self.doc, fallback_dims=fallback)

    def epoch(self, role: str, epoch: int) -> tuple[Corpus, np.ndarray, np.ndarray, int]:
        """A role's corpus, sequence lengths, reading order and skipped count for one epoch.

        Training uses `batching`/`seq_ordering` and skips sequences over `max_seq_length`;
        dev and eval sets are read in corpus order, every sequence.
        """
        corpus, lengths = self.datasets[role].corpus(epoch)
        if role != "train":
            return corpus, lengths, np.arange(len(lengths)), 0
        order = seq_order(self.config.batching, lengths, epoch)
        order, skipped = skip_long(order, lengths, self.config.max_seq_length)
        return corpus, lengths, order, skipped

    def batches(self, lengths: np.ndarray, order: np.ndarray) -> list[np.ndarray]:
        """RETURNN's batches (0-frame sequences included), less any batch without a single frame.

        RETURNN stops on such a batch (`assert shape[0].max_value() > 0` in datasets/basic.py
        `shape_for_batches`); it has nothing to learn from, so netc leaves it out (training.md).
        """
        batches = make_batches(order, lengths, self.config.batch_size, self.config.max_seqs)
        return [b for b in batches if int(lengths[b].max(initial=0)) > 0]


def prepare(path: str, overrides: list[str] | tuple[str, ...] = (), exec_config: bool = False) -> Setup:
    """Read the config file, apply `++key value` overrides, open the datasets."""
    doc = read_file(path, exec_config, parse_overrides(overrides))
    config = read_train_config(doc)
    if "train" not in doc.values:
        raise NetcError("the config has no 'train' dataset", doc.where(), 'set train = "data.hdf" or a dataset dict')
    datasets = {role: dataset_from_config(doc.values[role], doc.where(role, key=role))
                for role in ROLES if doc.values.get(role) is not None}
    dataset_options = [f"{role}.{option}" for role in datasets for option in ignored_options(doc.values[role])]
    return Setup(doc, config, datasets, tuple(ignored_keys(doc) + dataset_options))
