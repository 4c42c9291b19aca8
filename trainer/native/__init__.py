"""The CPU LSTM kernel (lstm.cpp), compiled on first use and cached, as RETURNN does with NativeLstm2.

The build takes about half a minute once per machine, torch version and source; later runs load the
cached library in milliseconds. Without a C++ compiler, training falls back to the portable kernel.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import torch
from netc.ir.files import atomic_output

SOURCE = Path(__file__).with_name("lstm.cpp")
DISABLE = "NETC_NATIVE_LSTM"  # set to 0 to use the portable kernel


def cache_dir() -> Path:
    """`$NETC_CACHE_DIR` or `~/.cache/netc` (else the temp folder), one folder per source, torch and Python."""
    key = hashlib.sha256(b"\0".join([SOURCE.read_bytes(), torch.__version__.encode(), sys.version.encode(),
                                     platform.machine().encode()])).hexdigest()[:16]
    root = Path(os.environ.get("NETC_CACHE_DIR") or Path.home() / ".cache" / "netc")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        root = Path(tempfile.gettempdir()) / f"netc-cache-{os.getuid()}"
    return root / "native" / f"lstm-{key}"


@functools.cache
def load() -> bool:
    """Make `torch.ops.netc.lstm_forward/backward` available; False (with a warning) if it cannot be built.

    Decided once per process: every LSTM call asks, and a failed build is neither retried nor re-warned.
    """
    if os.environ.get(DISABLE, "1") == "0":
        return False
    if hasattr(torch.ops.netc, "lstm_forward"):
        return True
    directory = cache_dir()
    library = directory / "netc_lstm.so"
    try:
        if library.exists():
            torch.ops.load_library(str(library))
        else:
            build(directory)
    except Exception as error:  # whatever stops the build (no compiler, no ninja, ...): use the portable kernel
        warnings.warn(f"the native LSTM kernel could not be built ({type(error).__name__}: {error}); training "
                      f"uses the portable kernel, slower on small layers. Install a C++ compiler (g++) to fix.",
                      stacklevel=2)
        return False
    return True


def build(directory: Path) -> None:
    """Compile in a private temporary folder inside `directory` and load; the library then appears under its
    cached name atomically, so a process starting meanwhile (another torchrun rank) never loads a half-written
    file, and processes building at once (torchrun ranks) each build on their own."""
    from torch.utils import cpp_extension  # imports setuptools: only when a build is needed

    directory.mkdir(parents=True, exist_ok=True)
    print(f"netc: building the native LSTM kernel in {directory} (once)", file=sys.stderr, flush=True)
    # NOTE: a private build folder per process. A shared one holds cpp_extension's `lock` file while building:
    # a build killed there (Ctrl-C, kill -9) left the lock, and every later build in any process waited on it
    # forever; and test sessions, torchrun ranks or users building at once shared half-built objects.
    with tempfile.TemporaryDirectory(prefix="build-", dir=directory) as build_dir:
        built = cpp_extension.load(name="netc_lstm", sources=[str(SOURCE)], build_directory=build_dir,
                                   extra_cflags=["-O3"], is_python_module=False, verbose=False)
        with atomic_output(directory / "netc_lstm.so", "native LSTM kernel") as temporary:
            shutil.copyfile(built, temporary)
