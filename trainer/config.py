"""Training config keys (training.md) read from a Document, with `++key value` overrides."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from netc.ir import Document, NetcError
from netc.ir.read import NEEDED_KEYS, Opaque

OPTIMIZERS = ("sgd", "adam", "nadam", "adamw")
LR_CONTROLS = ("constant", "newbob", "newbob_abs", "newbob_multi_epoch")
ORDERINGS = ("default", "sorted", "sorted_reverse", "random")
EXTRA_KEYS = frozenset({"newbob_multi_num_epochs", "newbob_multi_update_interval",
                        # read by chunking.py, window.py and pretrain.py
                        "chunking", "min_chunk_size", "chunking_variance", "window", "pretrain",
                        "pretrain_learning_rate",
                        "pretrain_repetitions", "pretrain_construction_algo", "pretrain_copy_output_layer",
                        "pretrain_greedy"})
KNOWN_KEYS = NEEDED_KEYS | EXTRA_KEYS


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
    device: str = "auto"
    use_normalized_loss: bool = False


def parse_overrides(args: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """RETURNN's `++key value` command-line pairs (values read as literals; a bare word is a string)."""
    if len(args) % 2 or not all(a.startswith("++") for a in args[::2]):
        raise NetcError(f"expected '++key value' pairs, got {' '.join(args)}", hint="e.g. ++num_epochs 3")
    values: dict[str, Any] = {}
    for key, text in zip(args[::2], args[1::2]):
        try:
            values[key[2:]] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            values[key[2:]] = text
    return values


def ignored_keys(doc: Document) -> list[str]:
    """Config keys netc does not use; reported once, never silently dropped."""
    return sorted(k for k in doc.values if k not in KNOWN_KEYS)


def read_train_config(doc: Document) -> TrainConfig:
    """Check and convert every training key; errors name the file, line and key."""
    get = KeyReader(doc)
    optimizer, options = read_optimizer(doc, get)
    defaults = TrainConfig()
    fields = {name: get(name, type(getattr(defaults, name)), getattr(defaults, name))
              for name in ("num_epochs", "batch_size", "learning_rate", "optimizer_epsilon", "gradient_clip",
                           "gradient_clip_global_norm", "learning_rate_decay", "newbob_relative_error_threshold",
                           "newbob_error_threshold", "newbob_multi_num_epochs", "min_learning_rate", "model",
                           "save_interval", "target", "random_seed", "device", "use_normalized_loss")}
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
        value = self.doc.values[key]
        if isinstance(value, Opaque):
            raise self.error(key, "is not a literal", "write a literal value, or override it with ++key value")
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
    value = get.doc.values.get("start_epoch", "auto")
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
    if config.device not in ("auto", "cpu", "cuda"):
        raise get.error("device", f"unknown device {config.device!r}", "known: auto, cpu, cuda")
