"""From a config file to what training needs: the config, the datasets, the typed graph (torch-free)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from netc.data import Corpus, Dataset, dataset_from_config
from netc.data.datasets import IGNORED_OPTIONS, differing_options, ignored_options
from netc.ir import Dims, Document, Graph, NetcError, Where, graph_from_document, read_file
from netc.ir.build import build_graph
from netc.ir.keys import TRAIN, account, needed
from netc.ir.pretrain import Pretrain, read_pretrain

from .chunking import ChunkCorpus, Chunking, read_chunking
from .config import TrainConfig, parse_overrides, read_data_config, read_train_config
from .input_window import WindowCorpus, read_window
from .ordering import INPUT_KEY, LengthLimit, data_key_lengths, make_batches, seq_order, skip_long

ROLES = ("train", "dev", "eval")


@dataclass(frozen=True)
class Setup:
    """A read training config: keys, datasets by role, and (when built) the graph."""

    doc: Document
    config: TrainConfig
    datasets: dict[str, Dataset]
    warnings: tuple[str, ...]  # the keys netc ignores or does not implement, one line per reason
    chunking: Chunking | None = None  # training sequences cut into chunks (chunking.py)
    window: int = 1  # input frames with their neighbours (input_window.py)
    pretrain: Pretrain | None = None  # the network grown over the first epochs (ir/pretrain.py)

    def graph(self, network: dict[str, Any] | None = None) -> Graph:
        """The typed IR (of `network`, a pretrain net dict, if given); dims missing from the config come
        from the training data, its input dim times `window`."""
        train = self.datasets["train"]
        fallback = Dims(train.num_inputs * self.window, tuple(sorted(train.target_dims.items())))
        doc = self.doc if network is None else replace(self.doc, values=self.doc.values | {"network": network})
        graph = graph_from_document(doc, fallback_dims=fallback)
        if graph.dims.input_key != "data":
            key = graph.dims.input_key
            raise NetcError(f"the network reads data:{key}; netc train feeds the network the dataset's data stream",
                            self.doc.where("network", key="network"),
                            f"netc check and netc compile read this network (the model's input is data:{key}); "
                            'to train it with netc, read "data" and give the target as another data key')
        if graph.input_type.sparse and self.window > 1:
            raise NetcError("window applies to feature frames; this net's data is class indices (sparse)",
                            self.doc.where("window", key="window"), "remove window for a language model")
        return graph

    def epoch(self, role: str, epoch: int) -> tuple[Corpus, np.ndarray, np.ndarray, int]:
        """A role's corpus, sequence lengths, reading order and skipped count for one epoch.

        Training uses `batching`/`seq_ordering` and skips sequences over `max_seq_length`;
        dev and eval sets are read in corpus order, every sequence.
        """
        corpus, lengths = self.corpus(role, epoch)
        if role != "train":
            return corpus, lengths, np.arange(len(lengths)), 0
        order = seq_order(self.config.batching, lengths, epoch)
        order, skipped = skip_long(order, self.key_lengths(corpus), self.config.max_seq_length)
        return corpus, lengths, order, skipped

    def key_lengths(self, corpus: Corpus) -> dict[str, np.ndarray]:
        """Each data key's lengths for `max_seq_length` (none read without a limit); a limit of a data key the
        dataset lacks is an error (RETURNN would ignore it)."""
        limit = self.config.max_seq_length
        if limit is None:
            return {}
        lengths = data_key_lengths(corpus)
        unknown = sorted({k for k, _ in limit.keys} - set(lengths))
        if unknown:
            raise NetcError(f"max_seq_length limits data key(s) {unknown} the train dataset does not have",
                            self.doc.where("max_seq_length", key="max_seq_length"),
                            "its data keys: " + ", ".join(lengths))
        return lengths

    def corpus(self, role: str, epoch: int) -> tuple[Corpus, np.ndarray]:
        """A role's sequences in an epoch; a dataset without any is an error (it would score a perfect 0)."""
        corpus, lengths = self.datasets[role].corpus(epoch)
        if not len(lengths):
            raise NetcError(f"the {role} dataset has no sequences", self.doc.where(role, key=role),
                            f"give it sequences, e.g. ++{role} data.hdf")
        return corpus, lengths

    def pieces(self, role: str, epoch: int) -> tuple[Corpus, np.ndarray, np.ndarray, int]:
        """What the trainer reads of a role in an epoch, as `epoch` returns it: with `window` applied, and
        training sequences cut into chunks (in sequence order; `max_seq_length` then counts chunk lengths,
        as RETURNN's `_generate_batches` does)."""
        if role != "train" or self.chunking is None:
            corpus, lengths, order, skipped = self.epoch(role, epoch)
            return self.windowed(corpus), lengths, order, skipped
        corpus, lengths = self.corpus(role, epoch)
        self.key_lengths(corpus)  # checks the limit's data keys
        # Every data key of a chunk is cut to its frames: the tightest limit of any key applies.
        limit = None if self.config.max_seq_length is None else self.config.max_seq_length.tightest
        seq, start, end = self.chunking.cut(seq_order(self.config.batching, lengths, epoch), lengths, epoch, limit)
        order, skipped = skip_long(np.arange(len(seq)), {INPUT_KEY: end - start},
                                   None if limit is None else LengthLimit(limit))
        return ChunkCorpus(self.windowed(corpus), seq, start, end), end - start, order, skipped

    def windowed(self, corpus: Corpus) -> Corpus:
        """`window` applies to whole sequences (RETURNN's datasets window before chunks are cut)."""
        return corpus if self.window == 1 else WindowCorpus(corpus, self.window)

    def batches(self, lengths: np.ndarray, order: np.ndarray) -> list[np.ndarray]:
        """RETURNN's batches (0-frame sequences included), less any batch without a single frame.

        RETURNN stops on such a batch (`assert shape[0].max_value() > 0` in datasets/basic.py
        `shape_for_batches`); it has nothing to learn from, so netc leaves it out (training.md).
        """
        batches = make_batches(order, lengths, self.config.batch_size, self.config.max_seqs)
        return [b for b in batches if int(lengths[b].max(initial=0)) > 0]


def prepare(path: str, overrides: list[str] | tuple[str, ...] = (), exec_config: bool = False,
            command: str = TRAIN, roles: tuple[str, ...] = ROLES) -> Setup:
    """Read the config file, apply `++key value` overrides, open the datasets of `roles`.

    `command` is `train` (every training key) or `dump-dataset` (only the keys that order the data); a
    command never reads another command's keys, so their opaque values do not stop it.
    """
    return setup_of(read_file(path, exec_config, parse_overrides(overrides)), command, roles)


def setup_of(doc: Document, command: str = TRAIN, roles: tuple[str, ...] = ROLES) -> Setup:
    """`prepare` for a read document: account for every key, read `command`'s keys, open the datasets."""
    values = {role: needed(doc, role) for role in roles}
    if command == TRAIN and not values["train"]:
        raise NetcError("the config has no 'train' dataset", doc.where("train", key="train"),
                        'set train = "data.hdf" or a dataset dict, or pass ++train data.hdf')
    if command == TRAIN:
        build_graph(doc, Dims())  # an unusable network is the first error, before any data file is opened
    present = [role for role in roles if values[role]]
    ignored = [(f"{role}.{option}", IGNORED_OPTIONS[option]) for role in present
               for option in ignored_options(values[role])]
    differs = [f"{role}.{option}" for role in present for option in differing_options(values[role])]
    warnings = account(doc, command, ignored, differs).warnings()
    config = read_train_config(doc) if command == TRAIN else read_data_config(doc)
    datasets = {role: dataset_from_config(values[role], doc.where(role, key=role), lambda name: needed(doc, name))
                for role in present}
    if command != TRAIN:
        return Setup(doc, config, datasets, tuple(warnings), window=read_window(doc))
    return Setup(doc, config, datasets, tuple(warnings), read_chunking(doc), read_window(doc), read_pretrain(doc))


def check_device(setup: Setup) -> None:
    """A GPU asked for in `device` must exist (RETURNN: "No GPU device found, but config requested 'gpu'")."""
    import torch

    device = setup.config.device
    if not device.startswith("cuda"):
        return
    if ":" in device and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise NetcError(f"device {device!r} names one GPU, but under torchrun each rank takes its own",
                        setup.doc.where("device", key="device"), "set device gpu (or ++device gpu)")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = int(device.partition(":")[2] or 0)
    if index >= count:
        found = f"only {count} GPU(s)" if count else "no GPU"
        raise NetcError(f"device {setup.doc.values.get('device', device)!r} asks for a GPU, but PyTorch finds {found}",
                        setup.doc.where("device", key="device"),
                        "train on the CPU with ++device cpu, or install a CUDA build of PyTorch")


class LogFiles:
    """The config's `log` files: each gets the log lines too, appended as RETURNN's log.py does.

    A file's folder is created; a file whose `log_verbosity` is 0 gets nothing (netc's lines are RETURNN's
    verbosity-1 summary lines).
    """

    def __init__(self, config: TrainConfig):
        verbosity = config.log_verbosity
        self.names = [name for i, name in enumerate(config.log)
                      if (verbosity[i] if i < len(verbosity) else verbosity[0] if len(verbosity) == 1 else 3) >= 1]
        self.files: list[TextIO] = []

    def write(self, line: str) -> None:
        """Append one line to every log file (opened on first use: only the rank that logs opens them)."""
        if len(self.files) < len(self.names):
            self.files = [open_log(name) for name in self.names]
        for file in self.files:
            file.write(line + "\n")
            file.flush()

    def close(self) -> None:
        for file in self.files:
            file.close()


def open_log(name: str) -> TextIO:
    try:
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        return open(name, "a", encoding="utf-8")  # noqa: SIM115 - held open for the whole run
    except OSError as e:
        raise NetcError(f"cannot open the log file: {e.strerror}", Where(name), "check the 'log' path") from None
