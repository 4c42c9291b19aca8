"""Config keys RETURNN TF accepts and ignores, so netc accepts and ignores them too, saying so once.

Used by `netc check` (which must not import the trainer) and `netc train` (trainer/config.py). Each reason
names what RETURNN does instead (docs/training.md, "Optimizers and learning rates").
"""

from __future__ import annotations

from .read import Document

IGNORED_BY_RETURNN = {
    # returnn/tf/updater.py: _create_default_optimizer builds AdadeltaOptimizer without a rho
    "adadelta_decay": "RETURNN TF ignores it (Adadelta's rho stays 0.95); so does netc; "
                      "set optimizer = {'class': 'adadelta', 'rho': ...} to change it",
    # never read by RETURNN TF (a Theano-era key)
    "nesterov_momentum": "RETURNN TF ignores it (no Nesterov momentum from this key); so does netc; "
                         "set optimizer = {'class': 'momentum', 'momentum': ..., 'use_nesterov': True}",
}


def ignored_by_returnn(doc: Document) -> tuple[str, ...]:
    """One line `key: reason` for each key of `doc` that RETURNN TF ignores (a value of None does not count)."""
    return tuple(f"{key}: {reason}" for key, reason in IGNORED_BY_RETURNN.items() if doc.values.get(key) is not None)
