"""Training config keys (training.md) read from a Document, with `++key value` overrides."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from netc.ir import Document, NetcError
from netc.ir.keys import needed
from netc.ir.keys import parse_overrides as parse_overrides  # re-exported: `++key value` pairs

OPTIMIZERS = ("sgd", "adam", "nadam", "adamw")
LR_CONTROLS = ("constant", "newbob", "newbob_abs", "newbob_multi_epoch")
ORDERINGS = ("default", "sorted", "sorted_reverse", "random")
DEVICES = "auto, cpu, gpu (= cuda), gpuN, cuda, cuda:N"
MAX_VERBOSITY = 5


@dataclass(frozen=True)
class TrainConfig:
    """Every training key netc uses, with RETURNN's defaults."""

    num_epochs: int = 5
    batch_size: int = 5000
    max_seqs: int | None = None
    max_seq_length: int | None = None
    batching: str = "random"
    learning_rate: float = 1.0
    learning_rates: tuple[float, ...] = ()
    optimizer: str = "sgd"
    optimizer_options: tuple[tuple[str, Any], ...] = ()
    optimizer_epsilon: float = 1e-16
    gradient_clip: float = 0.0
    gradient_clip_global_norm: float = 0.0
    learning_rate_control: str = "constant"
    learning_rate_decay: float = 0.5
    newbob_relative_error_threshold: float = -0.01
    newbob_error_threshold: float = -0.01
    newbob_multi_num_epochs: int = 5
    newbob_multi_update_interval: int | None = None  # RETURNN's default: newbob_multi_num_epochs
    min_learning_rate: float = 0.0
    learning_rate_file: str | None = None
    model: str = "model"
    save_interval: int = 1
    start_epoch: str | int = "auto"
    target: str = "classes"
    random_seed: int = 42
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    use_normalized_loss: bool = False
    log: tuple[str, ...] = ()  # files that get the log lines too
    log_verbosity: tuple[int, ...] = ()  # per log file (RETURNN: one value for all, default 3)


def read_data_config(doc: Document) -> TrainConfig:
    """Only the keys that pick an epoch's sequences and order (`netc dump-dataset`); the rest keep defaults."""
    get = KeyReader(doc)
    config = TrainConfig(batching=read_ordering(get), max_seq_length=get("max_seq_length", int, None))
    check_ranges(config, get)
    return config


def read_train_config(doc: Document) -> TrainConfig:
    """Check and convert every training key; errors name the file, line and key."""
    get = KeyReader(doc)
    read_task(get)
    optimizer, options = read_optimizer(doc, get)
    defaults = TrainConfig()
    fields = {name: get(name, type(getattr(defaults, name)), getattr(defaults, name))
              for name in ("num_epochs", "batch_size", "learning_rate", "optimizer_epsilon", "gradient_clip",
                           "gradient_clip_global_norm", "newbob_relative_error_threshold",
                           "newbob_error_threshold", "newbob_multi_num_epochs", "min_learning_rate", "model",
                           "save_interval", "target", "random_seed", "use_normalized_loss")}
    # RETURNN: learning_rate_decay, else its older name newbob_learning_rate_decay (learning_rate_control.py)
    fields["learning_rate_decay"] = get("learning_rate_decay", float,
                                        get("newbob_learning_rate_decay", float, defaults.learning_rate_decay))
    fields.update(device=read_device(get), log=read_logs(get), log_verbosity=read_verbosity(get))
    fields.update(
        max_seqs=get("max_seqs", int, None), max_seq_length=get("max_seq_length", int, None),
        newbob_multi_update_interval=get("newbob_multi_update_interval", int, None),
        batching=read_ordering(get), learning_rates=tuple(get("learning_rates", list, [])),
        learning_rate_control=get.choice("learning_rate_control", LR_CONTROLS, "constant"),
        learning_rate_file=get("learning_rate_file", str, None), start_epoch=read_start_epoch(get),
        optimizer=optimizer, optimizer_options=options)
    config = TrainConfig(**fields)
    check_ranges(config, get)
    return config


class KeyReader:
    """Reads one config key with a type check; a wrong value is a located NetcError."""

    def __init__(self, doc: Document):
        self.doc = doc

    def __call__(self, key: str, kind: type, default: Any) -> Any:
        if key not in self.doc.values or self.doc.values[key] is None:
            return default
        value = needed(self.doc, key)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is list and isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise self.error(key, f"must be of type {kind.__name__}, got {value!r}")
        if kind is list and not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise self.error(key, f"must be a list of numbers, got {value!r}")
        return [float(v) for v in value] if kind is list else value

    def choice(self, key: str, known: tuple[str, ...], default: str) -> str:
        value = self(key, str, default)
        if value not in known:
            raise self.error(key, f"unknown value {value!r}", "known: " + ", ".join(known))
        return value

    def error(self, key: str, message: str, hint: str | None = None) -> NetcError:
        return NetcError(message, self.doc.where(key, key=key), hint)


def read_ordering(get: KeyReader) -> str:
    """`batching` (or `seq_ordering`): default, sorted, sorted_reverse, random, laplace:N."""
    key = "batching" if "batching" in get.doc.values else "seq_ordering"
    value = get(key, str, "random")
    if value in ORDERINGS:
        return value
    if value.startswith("laplace"):
        size = value.partition(":")[2].lstrip(".")
        if size.isdigit() and int(size) > 0:
            return f"laplace:{int(size)}"
    raise get.error(key, f"unknown ordering {value!r}", "known: " + ", ".join(ORDERINGS) + ", laplace:N")


def read_optimizer(doc: Document, get: KeyReader) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """`optimizer = {"class": "adam", ...}`, or the legacy flags `adam = True`, `nadam = True`."""
    spec = get("optimizer", dict, None)
    if spec is None:
        for legacy in ("adam", "nadam"):
            if get(legacy, bool, False):
                return legacy, ()
        return "sgd", ()
    name = str(spec.get("class", "")).lower()
    if name not in OPTIMIZERS:
        known = ", ".join(OPTIMIZERS)
        raise get.error("optimizer", f"unknown optimizer class {spec.get('class')!r}", f"known: {known}")
    return name, tuple(sorted((k, v) for k, v in spec.items() if k != "class"))


def read_start_epoch(get: KeyReader) -> str | int:
    value = needed(get.doc, "start_epoch", "auto")
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise get.error("start_epoch", f"must be 'auto' or an epoch >= 1, got {value!r}")


def check_ranges(config: TrainConfig, get: KeyReader) -> None:
    """Values that must be positive."""
    for key in ("num_epochs", "batch_size", "save_interval", "max_seqs", "max_seq_length",
                "newbob_multi_num_epochs", "newbob_multi_update_interval"):
        value = getattr(config, key)
        if value is not None and value < 1:
            raise get.error(key, f"must be >= 1, got {value}")


def read_task(get: KeyReader) -> None:
    """`task`: RETURNN's action; `netc train` only trains (returnn/__main__.py: execute_main_task)."""
    task = get("task", str, "train")
    if task != "train":
        raise get.error("task", f"task {task!r}: netc train only trains",
                        "set task train (or ++task train); to forward, netc compile the network with --params "
                        "CHECKPOINT and use netc run")


def read_device(get: KeyReader) -> str:
    """`device` in RETURNN's forms: gpu (= cuda), gpuN / gpuX (Theano), cpu / cpuN, and torch's cuda[:N].

    RETURNN: config.py `tf_should_use_gpu`, torch/engine.py `get_device_from_config_opt`, Theano Device.py.
    Several devices ("gpu0,gpu1", a list) are refused: netc runs one process per device under torchrun.
    """
    value = needed(get.doc, "device")
    if isinstance(value, (list, tuple)) or (isinstance(value, str) and "," in value):
        raise get.error("device", f"several devices {value!r}: one netc process trains on one device",
                        "set device gpu and run torchrun --nproc-per-node N -m netc train CONFIG")
    name = (get("device", str, "auto") or "auto").strip().lower()
    if name in ("auto", "cpu", "cuda") or (name.startswith("cpu") and name[3:].isdigit()):
        return "cpu" if name.startswith("cpu") else name
    if name in ("gpu", "gpux"):
        return "cuda"
    index = name[3:] if name.startswith("gpu") else name[5:] if name.startswith("cuda:") else ""
    if index.isdigit():
        return f"cuda:{int(index)}"
    raise get.error("device", f"unknown device {name!r}", f"known: {DEVICES}")


def read_logs(get: KeyReader) -> tuple[str, ...]:
    """`log`: a file name or a list of them (RETURNN's `config.list("log")`); "stdout" is netc's default output.

    "$date" in a name becomes the UTC start time, as RETURNN's log.py does; "|command" targets are refused
    (netc never runs commands named in a config).
    """
    value = needed(get.doc, "log")
    items = [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]
    names = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise get.error("log", f"a log target is a file name, got {item!r}")
        if item.startswith("|"):
            raise get.error("log", f"log target {item!r} pipes into a command; netc never runs commands",
                            "give a file name")
        if item != "stdout":
            names.append(item.replace("$date", time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())))
    return tuple(names)


def read_verbosity(get: KeyReader) -> tuple[int, ...]:
    """`log_verbosity`: an int or a list (one per log target), each 0..5 (RETURNN log.py)."""
    value = needed(get.doc, "log_verbosity")
    items = [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_VERBOSITY for v in items):
        raise get.error("log_verbosity", f"must be a verbosity 0..{MAX_VERBOSITY} or a list of them, got {value!r}")
    return tuple(items)
