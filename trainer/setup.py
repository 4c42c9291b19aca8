"""From a config file to what training needs: the config, the datasets, the typed graph (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from netc.data import Corpus, Dataset, dataset_from_config
from netc.data.datasets import ignored_options
from netc.ir import Dims, Document, Graph, NetcError, graph_from_document, read_file
from netc.ir.pretrain import Pretrain, read_pretrain

from .chunking import ChunkCorpus, Chunking, read_chunking
from .config import TrainConfig, ignored_keys, parse_overrides, read_train_config
from .ordering import make_batches, seq_order, skip_long
from .window import WindowCorpus, read_window

ROLES = ("train", "dev", "eval")


@dataclass(frozen=True)
class Setup:
    """A read training config: keys, datasets by role, and (when built) the graph."""

    doc: Document
    config: TrainConfig
    datasets: dict[str, Dataset]
    ignored: tuple[str, ...]
    chunking: Chunking | None = None  # training sequences cut into chunks (chunking.py)
    window: int = 1  # input frames with their neighbours (window.py)
    pretrain: Pretrain | None = None  # the network grown over the first epochs (pretrain.py)

    def graph(self, network: dict[str, Any] | None = None) -> Graph:
        """The typed IR (of `network`, a pretrain net dict, if given); dims missing from the config come
        from the training data, its input dim times `window`."""
        train = self.datasets["train"]
        fallback = Dims(train.num_inputs * self.window, tuple(sorted(train.target_dims.items())))
        doc = self.doc if network is None else replace(self.doc, values=self.doc.values | {"network": network})
        return graph_from_document(doc, fallback_dims=fallback)

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

    def pieces(self, role: str, epoch: int) -> tuple[Corpus, np.ndarray, np.ndarray, int]:
        """What the trainer reads of a role in an epoch, as `epoch` returns it: with `window` applied, and
        training sequences cut into chunks (in sequence order; `max_seq_length` then counts chunk lengths,
        as RETURNN's `_generate_batches` does)."""
        if role != "train" or self.chunking is None:
            corpus, lengths, order, skipped = self.epoch(role, epoch)
            return self.windowed(corpus), lengths, order, skipped
        corpus, lengths = self.datasets[role].corpus(epoch)
        seq, start, end = self.chunking.cut(seq_order(self.config.batching, lengths, epoch), lengths, epoch,
                                            self.config.max_seq_length)
        order, skipped = skip_long(np.arange(len(seq)), end - start, self.config.max_seq_length)
        return ChunkCorpus(self.windowed(corpus), seq, start, end), end - start, order, skipped

    def windowed(self, corpus: Corpus) -> Corpus:
        """`window` applies to whole sequences (RETURNN's datasets window before chunks are cut)."""
        return corpus if self.window == 1 else WindowCorpus(corpus, self.window)

    def batches(self, lengths: np.ndarray, order: np.ndarray) -> list[np.ndarray]:
        return make_batches(order, lengths, self.config.batch_size, self.config.max_seqs)


def prepare(path: str, overrides: list[str] | tuple[str, ...] = (), exec_config: bool = False) -> Setup:
    """Read the config file, apply `++key value` overrides, open the datasets."""
    doc = read_file(path, exec_config, parse_overrides(overrides))
    config = read_train_config(doc)
    if "train" not in doc.values:
        raise NetcError("the config has no 'train' dataset", doc.where(), 'set train = "data.hdf" or a dataset dict')
    datasets = {role: dataset_from_config(doc.values[role], doc.where(role, key=role))
                for role in ROLES if doc.values.get(role) is not None}
    dataset_options = [f"{role}.{option}" for role in datasets for option in ignored_options(doc.values[role])]
    return Setup(doc, config, datasets, tuple(ignored_keys(doc) + dataset_options), read_chunking(doc),
                 read_window(doc), read_pretrain(doc))
