"""netc.trainer: train the typed IR with PyTorch, RETURNN training semantics."""
