"""Training config keys (training.md) read from a Document, with `++key value` overrides."""

from __future__ import annotations

import ast
import time
from dataclasses import dataclass
from typing import Any

from netc.ir import Document, NetcError
from netc.ir.keys import needed
from netc.ir.keys import parse_overrides as parse_overrides  # re-exported: `++key value` pairs

from .ordering import LengthLimit

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
    max_seq_length: LengthLimit | None = None  # None: no limit
    batching: str = "random"
    learning_rate: float = 1.0
    learning_rates: tuple[tuple[int, float], ...] = ()  # (epoch, rate) fixed by `learning_rates`
    optimizer: str = "sgd"  # a kind of optim.KINDS
    optimizer_options: tuple[tuple[str, Any], ...] = (("learning_rate_multiplier", 1.0),)  # TF's, all set
    optimizer_epsilon: float = 1e-16
    gradient_clip: float = 0.0
    gradient_clip_global_norm: float = 0.0
    gradient_noise: float = 0.0
    accum_grad_multiple_step: int = 0
    learning_rate_control: str = "constant"
    learning_rate_decay: float = 0.5
    learning_rate_control_error_measure: tuple[str, ...] = ()
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
    config = TrainConfig(batching=read_ordering(get), max_seq_length=read_max_seq_length(get))
    check_ranges(config, get)
    return config


def read_train_config(doc: Document) -> TrainConfig:
    """Check and convert every training key; errors name the file, line and key."""
    get = KeyReader(doc)
    read_task(get)
    defaults = TrainConfig()
    fields = {name: get(name, type(getattr(defaults, name)), getattr(defaults, name))
              for name in ("num_epochs", "batch_size", "learning_rate", "optimizer_epsilon", "gradient_clip",
                           "gradient_clip_global_norm", "gradient_noise", "newbob_relative_error_threshold",
                           "newbob_error_threshold", "newbob_multi_num_epochs", "min_learning_rate", "model",
                           "save_interval", "target", "random_seed", "use_normalized_loss")}
    fields.update(device=read_device(get), log=read_logs(get), log_verbosity=read_verbosity(get))
    fields.update(
        max_seqs=get("max_seqs", int, None), max_seq_length=read_max_seq_length(get),
        newbob_multi_update_interval=get("newbob_multi_update_interval", int, None),
        batching=read_ordering(get), accum_grad_multiple_step=get("accum_grad_multiple_step", int, 0),
        learning_rate_control=get.choice("learning_rate_control", LR_CONTROLS, "constant"),
        learning_rate_file=get("learning_rate_file", str, None), start_epoch=read_start_epoch(get))
    fields.update(read_learning_rates(get))
    fields.update(read_optimizer(get, fields["optimizer_epsilon"]))
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


def read_max_seq_length(get: KeyReader) -> LengthLimit | None:
    """`max_seq_length` as RETURNN's NumbersDict (trainer/ordering.py LengthLimit): an int limits every data key,
    a dict single keys (`{"classes": 75}`), -N is `{"classes": N}`, 0 or None no limit."""
    value = needed(get.doc, "max_seq_length", None)
    try:
        return LengthLimit.from_config(value)
    except ValueError as e:
        raise get.error("max_seq_length", str(e), 'e.g. max_seq_length = 1000 or {"classes": 75}') from None


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


# RETURNN TF's optimizer classes netc implements (`returnn/tf/updater.py: get_optimizer_class`, names
# lower-cased, with and without "Optimizer"): kind, and TF's constructor options with their defaults.
OPTIMIZER_CLASSES = {
    "gradientdescent": "sgd", "gradientdescentoptimizer": "sgd", "sgd": "sgd",
    "momentum": "momentum", "momentumoptimizer": "momentum",
    "adam": "adam", "adamoptimizer": "adam", "nadam": "nadam", "nadamoptimizer": "nadam",
    "adadelta": "adadelta", "adadeltaoptimizer": "adadelta", "adagrad": "adagrad", "adagradoptimizer": "adagrad",
    "rmsprop": "rmsprop", "rmspropoptimizer": "rmsprop", "adamw": "adamw",
}
OPTIMIZER_OPTIONS: dict[str, dict[str, Any]] = {
    "sgd": {},
    "momentum": {"momentum": None, "use_nesterov": False},  # momentum is required (TF's signature)
    "adam": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "nesterov": False},
    "nadam": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "nesterov": True},
    "adadelta": {"rho": 0.95, "epsilon": 1e-8},
    "adagrad": {"initial_accumulator_value": 0.1},
    "rmsprop": {"decay": 0.9, "momentum": 0.0, "epsilon": 1e-10, "centered": False},
    # Keras 3's AdamW (its option names): RETURNN 1.2026 cannot run it on TF 2.21 (docs/training.md)
    "adamw": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "weight_decay": 0.004, "nesterov": False},
}
INTERNAL_OPTIONS = ("nesterov",)  # set by the kind, not a TF constructor option
IGNORED_OPTIONS = ("use_locking", "name")  # TF constructor options without numeric effect
# Optimizers of RETURNN's Theano back end: RETURNN TF has none of them.
THEANO_OPTIMIZERS = ("adasecant", "smorms3", "mean_normalized_sgd", "update_multiple_models")
# The legacy flags in RETURNN's order of priority (`Updater._create_default_optimizer`).
LEGACY_FLAGS = ("adam", "nadam", "adadelta", "adagrad")


def read_optimizer(get: KeyReader, epsilon: float) -> dict[str, Any]:
    """The optimizer kind and its full TF options, as RETURNN TF's `Updater._create_default_optimizer` and
    `_create_optimizer` (returnn/tf/updater.py) choose them.

    `optimizer = {"class": NAME, OPTION: VALUE, ...}` wins; without it the legacy flags decide, by priority
    adam > nadam > adadelta > adagrad > rmsprop (a float: the decay) > momentum (a float) > SGD.
    `optimizer_epsilon` (`epsilon`, default 1e-16) is the epsilon of every class that has one, unless the
    dict sets it; `momentum` is the momentum of the classes that have one (momentum, rmsprop) unless set.
    Returns the TrainConfig fields `optimizer` and `optimizer_options`; errors name the key.
    """
    for name in THEANO_OPTIMIZERS:
        if needed(get.doc, name):
            raise get.error(name, f"{name!r} is an optimizer of RETURNN's Theano back end; RETURNN TF (which "
                                  "netc follows) has no such optimizer", "remove the key and choose an optimizer "
                                  "of RETURNN TF, e.g. optimizer = {'class': 'adam'} (docs/training.md)")
    momentum = get("momentum", float, 0.0)
    spec = needed(get.doc, "optimizer")
    if spec is not None:
        kind, options = read_optimizer_dict(get, epsilon, momentum)
    else:
        kind, options = read_legacy_flags(get, epsilon, momentum)
    return {"optimizer": kind, "optimizer_options": tuple(sorted(options.items()))}


def read_legacy_flags(get: KeyReader, epsilon: float, momentum: float) -> tuple[str, dict[str, Any]]:
    """`adam`, `nadam`, `adadelta`, `adagrad`, `rmsprop`, `momentum` as `_create_default_optimizer` reads them."""
    chosen = next((flag for flag in LEGACY_FLAGS if legacy_bool(get, flag)), None)
    if chosen is not None:
        if momentum:  # RETURNN: `assert not momentum`
            raise get.error("momentum", f"RETURNN TF refuses momentum {momentum} with the {chosen!r} optimizer",
                            f"remove momentum, or remove {chosen}")
        return chosen, full_options(chosen, {"epsilon": epsilon} if chosen != "adagrad" else {})
    rmsprop = needed(get.doc, "rmsprop")
    if isinstance(rmsprop, float) or legacy_bool(get, "rmsprop"):  # a float is the decay (even 0.0)
        decay = rmsprop if isinstance(rmsprop, float) else 0.9
        return "rmsprop", full_options("rmsprop", {"decay": decay, "momentum": momentum, "epsilon": epsilon})
    if momentum:
        return "momentum", full_options("momentum", {"momentum": momentum})
    return "sgd", full_options("sgd", {})


def legacy_bool(get: KeyReader, key: str) -> bool:
    """RETURNN's `config.bool`: a bool, an int (1 = true), or the words true/false/yes/no/1/0."""
    value = needed(get.doc, key)
    if value is None:
        return False
    if isinstance(value, (bool, int)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.strip().lower() in ("true", "yes", "1")
    if key == "rmsprop" and isinstance(value, float):
        return True
    raise get.error(key, f"must be True or False, got {value!r}", f"RETURNN reads {key} as a boolean")


def read_optimizer_dict(get: KeyReader, epsilon: float, momentum: float) -> tuple[str, dict[str, Any]]:
    """`optimizer = {"class": NAME, ...}` as `Updater._create_optimizer` builds it."""
    if isinstance(get.doc.values["optimizer"], str):  # RETURNN: `assert "class" in optim_config`
        raise get.error("optimizer", "a name alone is refused (RETURNN TF asserts a dict with a 'class')",
                        f"write optimizer = {{'class': {get.doc.values['optimizer']!r}}}")
    spec = get("optimizer", dict, None)
    name = spec.get("class")
    if not isinstance(name, str):
        raise get.error("optimizer", f"needs a 'class' naming the optimizer, got {spec!r}",
                        "e.g. optimizer = {'class': 'adam'}; known: " + ", ".join(sorted(set(OPTIMIZER_CLASSES))))
    kind = OPTIMIZER_CLASSES.get(name.lower())
    if kind is None:
        theano = " (an optimizer of RETURNN's Theano back end)" if name.lower() in THEANO_OPTIMIZERS else ""
        raise get.error("optimizer", f"unknown optimizer class {name!r}{theano}",
                        "netc implements RETURNN TF's " + ", ".join(sorted(set(OPTIMIZER_CLASSES))))
    given = {k: v for k, v in spec.items() if k != "class" and k not in IGNORED_OPTIONS}
    if "learning_rate" in given:  # RETURNN: `assert "learning_rate" not in optimizer_opts`
        raise get.error("optimizer", "the optimizer dict cannot set learning_rate (RETURNN sets it per epoch)",
                        "set the top-level learning_rate, or learning_rate_multiplier in the dict")
    known = [k for k in OPTIMIZER_OPTIONS[kind] if k not in INTERNAL_OPTIONS] + ["learning_rate_multiplier"]
    unknown = sorted(k for k in given if k not in known)
    if unknown:
        raise get.error("optimizer", f"options {unknown} are not options of {name!r}",
                        f"the options of {name!r} (TensorFlow's names): " + ", ".join(known))
    if "epsilon" in OPTIMIZER_OPTIONS[kind]:
        given.setdefault("epsilon", epsilon)
    if "momentum" in OPTIMIZER_OPTIONS[kind] and momentum:
        given.setdefault("momentum", momentum)
    if kind == "sgd" and name.lower() == "sgd" and momentum:  # Keras SGD would take it; netc has no Keras SGD
        raise get.error("momentum", "netc's {'class': 'sgd'} is plain gradient descent, without momentum",
                        "use optimizer = {'class': 'momentum', 'momentum': ...} (TF's MomentumOptimizer)")
    if kind == "momentum" and given.get("momentum") is None:
        raise get.error("optimizer", "the 'momentum' optimizer needs a momentum value",
                        "set optimizer = {'class': 'momentum', 'momentum': 0.9} or the top-level momentum")
    for key, value in given.items():
        if isinstance(value, bool) != isinstance(OPTIMIZER_OPTIONS[kind].get(key), bool) or not isinstance(
                value, (int, float)):
            raise get.error("optimizer", f"option {key!r} of {name!r} has the wrong type: {value!r}")
    return kind, full_options(kind, given)


def full_options(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    """TF's defaults of `kind` updated by `given`; numbers as floats, flags as bools."""
    options = OPTIMIZER_OPTIONS[kind] | {"learning_rate_multiplier": 1.0} | given
    return {k: v if isinstance(v, bool) else float(v) for k, v in options.items()}


def read_learning_rates(get: KeyReader) -> dict[str, Any]:
    """`learning_rates`, `learning_rate_decay`/`newbob_learning_rate_decay` and
    `learning_rate_control_error_measure` as `returnn/learning_rate_control.py: LearningRateControl` reads
    them: a list gives the rates of epochs 1, 2, ...; a dict `{epoch: rate}` fixes those epochs; a string
    holding such a dict is evaluated (as a literal: nothing runs); a string holding a list is refused, as
    RETURNN asserts a dict. Epochs not fixed follow learning_rate_control (lr_control.py)."""
    value = needed(get.doc, "learning_rates")
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise get.error("learning_rates", f"the string {value!r} is not a literal dict",
                            "write learning_rates = {1: 0.01, 10: 0.001} or a list") from None
        if not isinstance(value, dict):
            raise get.error("learning_rates", "a string holding a list is refused (RETURNN evaluates the "
                            "string and asserts a dict)", "write the list without quotes, or {epoch: rate}")
    if isinstance(value, (list, tuple)):
        value = {epoch: rate for epoch, rate in enumerate(value, 1)}
    if value is None or value == {}:
        value = {}
    if not isinstance(value, dict) or not all(
            isinstance(e, int) and not isinstance(e, bool) and e >= 1 and isinstance(r, (int, float))
            and not isinstance(r, bool) for e, r in value.items()):
        raise get.error("learning_rates", f"must be a list of rates or a dict {{epoch: rate}}, got {value!r}",
                        "e.g. learning_rates = [0.01, 0.005] or {1: 0.01, 10: 0.001}")
    decay_key = "learning_rate_decay" if get.doc.values.get("learning_rate_decay") is not None \
        else "newbob_learning_rate_decay"
    measure = needed(get.doc, "learning_rate_control_error_measure")
    if isinstance(measure, str):
        measure = [measure]
    if measure is not None and (not isinstance(measure, (list, tuple)) or not all(isinstance(m, str)
                                                                                  for m in measure)):
        raise get.error("learning_rate_control_error_measure", f"must be a score name or a list of them, got "
                        f"{measure!r}", "e.g. 'dev_score' or 'dev_error'")
    return {"learning_rates": tuple(sorted((e, float(r)) for e, r in value.items())),
            "learning_rate_decay": get(decay_key, float, 0.5),
            "learning_rate_control_error_measure": tuple(measure or ())}


def read_start_epoch(get: KeyReader) -> str | int:
    value = needed(get.doc, "start_epoch", "auto")
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise get.error("start_epoch", f"must be 'auto' or an epoch >= 1, got {value!r}")


def check_ranges(config: TrainConfig, get: KeyReader) -> None:
    """Values that must be positive."""
    for key in ("num_epochs", "batch_size", "save_interval", "max_seqs",
                "newbob_multi_num_epochs", "newbob_multi_update_interval"):
        value = getattr(config, key)
        if value is not None and value < 1:
            raise get.error(key, f"must be >= 1, got {value}")
    for key in ("gradient_clip", "gradient_clip_global_norm", "gradient_noise", "accum_grad_multiple_step"):
        if getattr(config, key) < 0:  # RETURNN asserts > 0 when set; 0 is off
            raise get.error(key, f"must be >= 0 (0 is off), got {getattr(config, key)}")


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
