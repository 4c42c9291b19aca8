"""`netc train` refuses `data` as class indices up front, located at the key that declares it (trainer/setup.py)."""

from __future__ import annotations

import pytest
from netc.ir import NetcError
from netc.trainer.setup import prepare

NET = 'network = {"output": {"class": "softmax", "loss": "ce", "from": "data"}}\n'
TRAIN = 'train = {"class": "DummyDataset", "input_dim": 7, "output_dim": 7, "num_seqs": 4, "seq_len": 5}\n'


@pytest.mark.parametrize(("dims", "key"), [
    ('extern_data = {"data": {"dim": 7, "sparse": True}, "classes": {"dim": 7, "sparse": True}}', "extern_data"),
    ('num_outputs = {"data": [7, 1], "classes": [7, 1]}', "num_outputs"),
    ("num_inputs = 7\nnum_outputs = 7\nsparse_input = True", "sparse_input"),
])
def test_sparse_data_is_refused_at_its_key(tmp_path, dims: str, key: str) -> None:
    config = tmp_path / "lm.config"
    config.write_text(f"#!rnn.py\n{dims}\n{TRAIN}{NET}")
    with pytest.raises(NetcError, match="netc train cannot train a net whose data is class indices") as e:
        prepare(str(config))
    line = next(i for i, text in enumerate(config.read_text().splitlines(), 1) if text.startswith(key))
    assert (e.value.where.key, e.value.where.line) == (key, line)
    assert "netc check and netc compile" in (e.value.hint or "")


def test_dense_data_passes(tmp_path) -> None:
    config = tmp_path / "am.config"
    config.write_text(f'#!rnn.py\nextern_data = {{"data": {{"dim": 7}}, "classes": {{"dim": 7, "sparse": True}}}}\n'
                      f"{TRAIN}{NET}")
    assert prepare(str(config)).graph().input_type.sparse is False
