"""A safe evaluator of RETURNN Python configs: the subset configs use, walked on the `ast`, never run.

RETURNN runs a Python config with `exec` (`returnn/config.py: Config.load_file`, `util/basic.py:
custom_exec`). netc does not run it: this package interprets the statements and expressions configs use to
build their values (loops over layers, `"lstm%i" % i`, helper functions, `dict.update`), with budgets on
time and memory. What it cannot compute without running code (an import, a file, the environment, an
attribute outside the accepted list) becomes an `Opaque` value that says why; anything computed from an
opaque value is opaque too. `docs/netdict.md` ("Config files") lists the accepted subset.

Never: `eval`, `exec`, `compile`, executing an import, reading a file or the environment.

Modules: `values` (what the evaluator computes with), `facts` (what the syntax tree says without
evaluating), `statements`, `expressions`, `calls`, `strings` (the evaluator's parts), `library` (builtins and
the modules known without importing them), `evaluator` (the whole, and the export of config keys).
"""

from netc.ir.pyconfig.evaluator import Evaluator, evaluate
from netc.ir.pyconfig.values import CONFIG_MODULE_NAME, Budgets, Evaluated, Imported, Opaque, find_opaque

__all__ = ["CONFIG_MODULE_NAME", "Budgets", "Evaluated", "Evaluator", "Imported", "Opaque", "evaluate",
           "find_opaque"]
