"""`--exec-config`: run a trusted Python config as RETURNN does, with RETURNN's `config` object and legacy
module names (`returnn/config.py: Config.load_file`, `returnn/__old_mod_loader__.py`)."""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import importlib.util
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from typing import Any

import numpy as np

from .config_functions import top_level_functions
from .errors import NetcError, Where
from .pyconfig import CONFIG_MODULE_NAME, Opaque
from .read import MAX_DEPTH, Document, Path_, parse_python

# RETURNN's legacy module names (`returnn/__old_mod_loader__.py: old_to_new_mod_mapping`), named in the
# error when RETURNN is not installed.
LEGACY_MODULES = frozenset({
    "rnn", "better_exchook", "BundleFile", "CachedDataset", "CachedDataset2", "Config", "Dataset",
    "DebugHelpers", "Debug", "EngineBase", "EngineBatch", "Fsa", "GeneratingDataset", "HDFDataset",
    "HyperParamTuning", "LearningRateControl", "LmDataset", "Log", "MetaDataset", "NativeOp",
    "NormalizationData", "NumpyDumpDataset", "Pretrain", "RawWavDataset", "SprintCache", "SprintControl",
    "SprintDataset", "SprintErrorSignals", "SprintExternInterface", "SprintInterface", "StereoDataset",
    "TaskSystem", "TFCompat", "TFDataPipeline", "TFDistributed", "TFEngine", "TFHorovod", "TFKenLM",
    "TFNativeOp", "TFNetwork", "TFNetworkLayer", "TFNetworkRecLayer", "TFNetworkSegModLayer",
    "TFNetworkSigProcLayer", "TFSprint", "TFUpdater", "TFUtil", "Util",
})


class NeedsReturnn(ImportError):
    """An import of RETURNN (or of one of its legacy module names) where RETURNN is not installed."""


def returnn_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
    """`__import__` for an executed config: RETURNN's legacy names resolve as RETURNN resolves them.

    Importing the `returnn` package runs its old-module loader (`returnn/__init__.py` calls
    `__old_mod_loader__.setup`), which registers `Util`, `TFUtil`, `Pretrain`, ... in `sys.modules`.
    """
    top = name.split(".")[0]
    if level == 0 and (top in LEGACY_MODULES or top == "returnn") and top not in sys.modules:
        if importlib.util.find_spec("returnn") is None:
            raise NeedsReturnn(name)
        importlib.import_module("returnn")
    return builtins.__import__(name, globals, locals, fromlist, level)


class ConfigView:
    """The `config` object an executed config sees: RETURNN's reading API over the values assigned so far
    (`returnn/config.py: Config`, its `typed_dict` branches; the namespace is the typed dict, as in RETURNN).
    """

    def __init__(self, typed_dict: dict[str, Any]):
        self.typed_dict = typed_dict

    def has(self, key: str) -> bool:
        return key in self.typed_dict

    is_typed = has

    def typed_value(self, key: str, default: Any = None, index: int | None = None) -> Any:
        value = self.typed_dict.get(key, default)
        if index is not None:
            if isinstance(value, (list, tuple)):
                value = value[index]
            else:
                assert index == 0
        return value

    def opt_typed_value(self, key: str, default: Any = None) -> Any:
        return self.typed_dict[key] if key in self.typed_dict else default

    def value(self, key: str, default: Any, index: int | None = None, list_join_str: str = ",") -> Any:
        if key not in self.typed_dict:
            return default
        value = self.typed_dict[key]
        if index is not None:
            return str(value[index])
        if isinstance(value, (list, tuple)):
            return list_join_str.join(str(v) for v in value)
        return default if value is None else str(value)

    def int(self, key: str, default: Any, index: int = 0) -> Any:
        value = self.typed_value(key, default, index) if key in self.typed_dict else default
        assert value is None or isinstance(value, int)
        return value

    def bool(self, key: str, default: Any, index: int = 0) -> Any:
        value = self.typed_value(key, default, index) if key in self.typed_dict else default
        return bool(value) if isinstance(value, int) else value

    def is_true(self, key: str, default: bool = False) -> bool:
        return bool(self.typed_dict[key]) if key in self.typed_dict else default

    def float(self, key: str, default: Any, index: int = 0) -> Any:
        value = self.typed_value(key, default, index) if key in self.typed_dict else default
        return float(value) if isinstance(value, str) else value

    def list(self, key: str, default: Any = None) -> Any:
        default = [] if default is None else default
        value = self.typed_dict.get(key, default)
        if value is None:
            return default
        return list(value) if isinstance(value, (list, tuple)) else [value]

    int_list = float_list = list

    def is_of_type(self, key: str, types: Any) -> bool:
        return key in self.typed_dict and isinstance(self.typed_dict[key], types)

    def get_of_type(self, key: str, types: Any, default: Any = None) -> Any:
        return self.typed_dict[key] if self.is_of_type(key, types) else default

    def set(self, key: str, value: Any) -> None:
        self.typed_dict[key] = value

    def update(self, values: dict[str, Any]) -> None:
        self.typed_dict.update(values)


EXEC_SECONDS = 300.0  # a config that runs longer (an endless loop, `input()`) is an error, not a hang


class TooLong(BaseException):
    """Raised in the config's code when it runs past the time limit (a BaseException: `except Exception`
    in the config cannot swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TooLong in the running code after `seconds` (SIGALRM; only in the main thread, else no limit)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise TooLong()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def exec_python_config(file: str, text: str, seconds: float = EXEC_SECONDS) -> Document:
    """Run a trusted config as Python, as RETURNN does (`--exec-config`; `Config.load_file`, `custom_exec`).

    The config sees `config` (RETURNN's reading API), `__file__` and `__name__` as in RETURNN, and imports
    RETURNN's legacy module names (`import Util`, `from Pretrain import ...`) through RETURNN when it is
    installed. Errors: NetcError at the failing line (naming the import that needs RETURNN), also when it
    runs longer than `seconds`.
    """
    tree, notes = parse_python(file, text)
    scope: dict[str, Any] = {"__file__": file, "__name__": CONFIG_MODULE_NAME,
                             "__builtins__": {**vars(builtins), "__import__": returnn_import}}
    scope["config"] = ConfigView(scope)
    try:
        with time_limit(seconds):
            exec(compile(tree, file, "exec"), scope)  # noqa: S102 - the user asked to run this trusted config
    except TooLong as e:
        raise NetcError(f"running the config takes longer than {seconds:g} s", Where(file, failing_line(e, file)),
                        "RETURNN would wait here too; fix the loop or the input() it waits in") from None
    except NeedsReturnn as e:
        raise NetcError(f"importing {e} needs RETURNN, which is not installed", Where(file, failing_line(e, file)),
                        "install RETURNN (pip install returnn), or remove the import") from None
    except ModuleNotFoundError as e:
        raise NetcError(f"running the config failed: it imports {e.name!r}, which is not installed",
                        Where(file, failing_line(e, file)), f"install {e.name!r} where netc runs (RETURNN needs it "
                        "too); without --exec-config netc reads the config without running it") from None
    except (Exception, SystemExit) as e:  # noqa: BLE001 - user code may raise anything; report it located
        raise NetcError(f"running the config failed: {type(e).__name__}: {e}",
                        Where(file, failing_line(e, file)),
                        "RETURNN would stop here too; without --exec-config netc reads the config without running "
                        "it") from None
    stores = sorted((node.lineno, node.col_offset + 1, node.id) for node in ast.walk(tree)
                    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store))
    assigned = {name: (line, col) for line, col, name in stores}
    values: dict[str, Any] = {}
    positions: dict[Path_, tuple[int, int]] = {}
    for key, value in scope.items():
        if key.startswith("_") or key == "config" or callable(value) or type(value).__name__ == "module":
            continue
        at = assigned.get(key, (1, 1))
        positions[(key,)] = at
        value = plain(value)
        values[key] = value if is_plain(value) else Opaque(
            *at, f"--exec-config ran it, but {unplain_part(value, key)} is no plain data",
            hint="build it from dicts, lists, strings, numbers, booleans and None (what a network dict holds)")
    return Document(file, values, positions, notes, kind="python", functions=top_level_functions(tree))


def failing_line(error: BaseException, file: str) -> int | None:
    """The config line where an exception raised while running it started."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == file]
    return lines[-1] if lines else None


def plain(value: Any, depth: int = 0) -> Any:
    """`value` with numpy scalars and arrays inside it as the Python numbers and (nested) lists they hold
    (`numpy.float32(0.1)` -> 0.1 as float32 rounds it): RETURNN's network construction takes them where it takes
    Python numbers (TF converts both), so a config that computes `dropout` with numpy is RETURNN-valid. Other
    values are returned unchanged (containers rebuilt only where something inside changed)."""
    if depth > MAX_DEPTH:
        return value
    if isinstance(value, (np.generic, np.ndarray)) and value.dtype.kind in "biuf":
        return value.tolist()
    if isinstance(value, dict):
        items = {k: plain(v, depth + 1) for k, v in value.items()}
        return items if any(items[k] is not v for k, v in value.items()) else value
    if isinstance(value, (list, tuple)):
        converted = [plain(v, depth + 1) for v in value]
        if all(c is v for c, v in zip(converted, value, strict=True)):
            return value
        return converted if isinstance(value, list) else tuple(converted)
    return value


def unplain_part(value: Any, name: str, depth: int = 0) -> str:
    """`name` and the type of the first value in it that `is_plain` refuses (`network['out']['dropout'] (of type
    Foo)`)."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for k, v in items:
        if depth < MAX_DEPTH and not is_plain(v, depth + 1):
            return unplain_part(v, f"{name}[{k!r}]", depth + 1)
    if isinstance(value, dict) and not all(isinstance(k, (str, int)) for k in value):
        key = next(k for k in value if not isinstance(k, (str, int)))
        return f"{name} (a dict with a key of type {type(key).__name__})"
    return f"{name} (of type {type(value).__name__})"


def is_plain(value: Any, depth: int = 0) -> bool:
    """Config values netc can use: nested literals."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and is_plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(is_plain(v, depth + 1) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))
