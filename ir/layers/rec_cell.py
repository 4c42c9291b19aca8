"""`rnn_cell` and `get_last_hidden_state` (returnn/tf/layers/rec.py RnnCellLayer, GetLastHiddenStateLayer): one
step of a recurrent cell inside a rec unit, `[B, n_in] -> [B, n_out]`, its state carried from step to step.

RETURNN's `RecLayer.get_rnn_cell_class(unit, cell_only=True)` picks the cell: with TensorFlow 2, `LSTMBlock` and
`LSTMBlockFused` become TF's `LSTMCell` ("StandardLSTM": kernel over `[x, h]`, gates i, j, f,
o, forget bias 1 added at run time, parameters `rec/lstm_cell/kernel|bias`); `BasicLSTM` TF's BasicLSTMCell (the
same step, parameters `rec/basic_lstm_cell/kernel|bias`); `NativeLSTM2` and `lstm` stay RETURNN's native cell
(`rec/W`, `rec/W_re`, `rec/b`, gates j, i, f, o; RETURNN 1.2026 with TensorFlow 2 fails to build it as an rnn_cell,
asserting a TF RNNCell, and netc computes the native cell's step); `GRU` is TF's GRUCell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from netc.ir.errors import NetcError
from netc.ir.layers.base import At, Layer, ShapeEnv, check_n_out, matching_n_out, required
from netc.ir.layers.rec import FORGET_BIAS, Rec, UnitOpts
from netc.ir.types import BATCH, ConfigEnum, TensorType, Unit, feature_dim


class CellUnit(ConfigEnum):
    """The cells `rnn_cell` runs, by what RETURNN TF 2 builds for each name (cell_only)."""

    STANDARD_LSTM = "standardlstm"
    BASIC_LSTM = "basiclstm"  # TF's BasicLSTMCell: LSTMCell's step, parameters rec/basic_lstm_cell/kernel|bias
    NATIVE_LSTM = "nativelstm2"
    GRU = "gru"

    @classmethod
    def aliases(cls) -> dict[str, ConfigEnum]:
        return {"lstmblock": cls.STANDARD_LSTM, "lstmblockfused": cls.STANDARD_LSTM,
                "lstmcell": cls.STANDARD_LSTM, "nativelstm": cls.NATIVE_LSTM, "lstm": cls.NATIVE_LSTM,
                "lstmp": cls.NATIVE_LSTM}

    @classmethod
    def from_config(cls, value: Any) -> ConfigEnum:
        return super().from_config(value.lower() if isinstance(value, str) else value)

    @property
    def rec_unit(self) -> Unit:
        """The rec layer unit with the same parameters and step."""
        return {CellUnit.STANDARD_LSTM: Unit.STANDARD_LSTM, CellUnit.BASIC_LSTM: Unit.BASIC_LSTM,
                CellUnit.NATIVE_LSTM: Unit.LSTM,
                CellUnit.GRU: Unit.GRU}[self]


@dataclass(frozen=True)
class InitialState:
    """`initial_state` of a cell: zeros, or the value of a layer (`base:x`: h, and c alike for an LSTM; RETURNN's
    `RnnCellLayer.get_rec_initial_state` with a layer), or per part `{"c": ..., "h": ...}`."""

    c: str | None = None
    h: str | None = None

    @classmethod
    def from_config(cls, value: Any) -> InitialState:
        if value in (None, "zeros", 0):
            return cls()
        if isinstance(value, str):
            return cls(value, value)
        if isinstance(value, dict) and set(value) <= {"c", "h"}:
            parts = {k: None if v in (None, "zeros", 0) else v for k, v in value.items()}
            if all(v is None or isinstance(v, str) for v in parts.values()):
                return cls(parts.get("c"), parts.get("h"))
        raise ValueError("netc reads initial_state 'zeros', a layer name, or {'c': ..., 'h': ...} of those")

    def plain(self) -> Any:
        return {"c": self.c, "h": self.h}

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v for v in (self.c, self.h) if v is not None))


@dataclass(frozen=True)
class RnnCell(Layer):
    """One step of `unit` over the concatenated sources `[B, n_in]`: `[B, n_out]` (h), state (c, h) kept."""

    n_out: int | None = None
    unit: CellUnit | None = None
    unit_opts: UnitOpts = UnitOpts()
    initial_state: InitialState = InitialState()
    weights_init: str = "xavier"

    class_name: ClassVar[str] = "rnn_cell"

    def check(self, at: At) -> None:
        super().check(at)
        required(self.n_out, "n_out", at, '"n_out": 1000')
        required(self.unit, "unit", at, '"unit": "LSTMBlock"')
        check_n_out(self.n_out, at)
        if self.weights_init != "xavier":
            raise NetcError("weights_init other than xavier (RETURNN's default) is not implemented by netc",
                            at("weights_init"), "remove weights_init")
        if self.unit_opts.rec_weight_dropout:
            raise NetcError("rec_weight_dropout in an rnn_cell is not implemented by netc", at("unit_opts"),
                            "remove it")
        if self.unit is CellUnit.NATIVE_LSTM and self.unit_opts.forget_bias not in (None, 0.0):
            raise NetcError("RETURNN's native LSTM asserts forget_bias is 0", at("unit_opts"), "remove forget_bias")

    @property
    def named_layers(self) -> tuple[str, ...]:
        return super().named_layers + self.initial_state.layers

    @property
    def forget_bias(self) -> float:
        """What TF's LSTMCell adds to its forget gate at run time."""
        return FORGET_BIAS if self.unit_opts.forget_bias is None else self.unit_opts.forget_bias

    @property
    def state_size(self) -> int:
        """The size of the whole state (c and h of an LSTM, h of a GRU)."""
        assert self.n_out is not None
        return self.n_out if self.unit is CellUnit.GRU else 2 * self.n_out

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        assert self.n_out is not None
        if x is None or x.sparse or x.dims[:1] != (BATCH,) or len(x.dims) != 2:
            raise NetcError(f"rnn_cell reads one frame [B, F] per step, got {x}", at("from"),
                            "use rnn_cell inside a rec unit, on [B, F] sources (a rec layer runs over time)")
        for name in self.initial_state.layers:
            t = env.type_of(name)
            if t.dims != (BATCH, t.dims[-1]):
                raise NetcError(f"initial_state {name!r} is {t}; the cell's state is [B, {self.n_out}]",
                                at("initial_state"), f"give a [B, {self.n_out}] layer")
            if t.feature != self.n_out:
                raise NetcError(f"initial_state {name!r} has dim {t.feature}; the cell's state has {self.n_out}",
                                at("initial_state"), f"give a [B, {self.n_out}] layer")
        return TensorType((BATCH, feature_dim(self.n_out)))

    def own_type(self, env: ShapeEnv, at: At) -> TensorType | None:
        assert self.n_out is not None
        return TensorType((BATCH, feature_dim(self.n_out)))

    def as_rec(self) -> Rec:
        """The rec layer with the same cell: its parameter layout and step (trainer, compiler)."""
        assert self.unit is not None
        return Rec(unit=self.unit.rec_unit, n_out=self.n_out, unit_opts=self.unit_opts)

    def param_shapes(self, n_in: int, n_out: int) -> dict[str, tuple[int, ...]]:
        return self.as_rec().param_shapes(n_in, n_out)

    def param_init_limits(self, n_in: int, n_out: int) -> dict[str, float]:
        return self.as_rec().param_init_limits(n_in, n_out)

    def param_init_constants(self, layer: str) -> dict[str, float]:
        return self.as_rec().param_init_constants(layer)


@dataclass(frozen=True)
class GetLastHiddenState(Layer):
    """The state of an `rnn_cell` after this step: `key` `c`, `h`, or `*` (all parts concatenated, RETURNN's
    `combine: "concat"` in the cell's state order: c then h)."""

    n_out: int | None = None
    key: str = "*"
    combine: str = "concat"

    class_name: ClassVar[str] = "get_last_hidden_state"

    def check(self, at: At) -> None:
        super().check(at)
        if self.combine != "concat":
            raise NetcError("netc's get_last_hidden_state concatenates the state's parts", at("combine"),
                            'remove combine (RETURNN\'s default is "concat")')
        if self.key not in ("*", "c", "h"):
            raise NetcError(f"key {self.key!r}: an LSTM's state has 'c' and 'h'", at("key"),
                            'write "c", "h" or "*" (both)')
        if len(self.sources) != 1:
            raise NetcError("get_last_hidden_state reads one layer (a rnn_cell or rec layer)", at("from"))

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        source = env.type_of(self.sources[0])
        cell = getattr(env, "layer_of", lambda _: None)(self.sources[0])
        if not isinstance(cell, RnnCell):
            raise NetcError(f"get_last_hidden_state reads the state of a rnn_cell, and {self.sources[0]!r} is not one"
                            f" ({source})", at("from"), "name a rnn_cell layer of the unit")
        size = cell.state_size if self.key == "*" else cell.n_out
        assert size is not None
        matching_n_out(self.n_out, size, at, f"the dim of state {self.key!r}")
        return TensorType((BATCH, feature_dim(size)))
