"""The `rec` layer: an LSTM (netdict.md section 5), or a decoder when it has `encoder`."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from netc.ir.errors import NetcError
from netc.ir.layers.base import At, Layer, ShapeEnv, check_n_out, matching_n_out
from netc.ir.layers.theano_attention import TheanoAttention, read_theano_attention
from netc.ir.types import Direction, TensorType, TimeAxis, Unit

GRU = "rec/gru_cell"
TF_LSTM = {Unit.BASIC_LSTM: "rec/basic_lstm_cell", Unit.STANDARD_LSTM: "rec/lstm_cell"}
FORGET_BIAS = 1.0  # TF LSTMCell/BasicLSTMCell add it to the forget gate at run time
NATIVE = (Unit.LSTM, Unit.LOW_MEM_LSTM)  # RETURNN's native ops: unroll ignored, max_seq_len refused


UNIT_OPTS_HINT = "netc implements forget_bias (TF LSTM cells; native LSTMs: 0 only) and rec_weight_dropout (native)"


@dataclass(frozen=True)
class UnitOpts:
    """`unit_opts`, passed to the cell's `__init__` (RETURNN RecLayer._get_cell): NativeLstm2's `forget_bias` (it
    asserts 0) and `rec_weight_dropout` (training: dropout on `W_re`), TF LSTMCell/BasicLSTMCell's `forget_bias`."""

    forget_bias: float | None = None
    rec_weight_dropout: float = 0.0

    unsupported: ClassVar[dict[str, str]] = {key: UNIT_OPTS_HINT for key in (
        "rec_weight_dropout_shape", "use_peepholes", "cell_clip", "num_proj", "proj_clip", "activation",
        "state_is_tuple", "dropout", "kernel_initializer", "bias_initializer", "initializer")}


@dataclass(frozen=True)
class Rec(Layer):
    """LSTM with hidden size = cell size = n_out, gates j, i, f, o, masked by sequence length."""

    unit: Unit = Unit.LSTM
    n_out: int | None = None
    direction: Direction = Direction.FORWARD
    encoder: tuple[str, ...] | None = None
    sampling: int = 1  # RETURNN Theano's RecurrentUnitLayer: scan every n-th frame; 1 = every frame
    unroll: bool = False  # TF cells: a static_rnn over max_seq_len frames; the same numbers as the loop
    max_seq_len: int | None = None  # with unroll (TF cells only): the longest padded batch RETURNN accepts
    unit_opts: UnitOpts = UnitOpts()
    theano_attention: TheanoAttention | None = None  # keys recurrent_transform, attention_*, base (theano_attention.py)

    class_name: ClassVar[str] = "rec"
    grouped_keys: ClassVar[tuple[str, ...]] = ("base",)

    @classmethod
    def read_grouped(cls, options: dict[str, Any], where_of: At) -> dict[str, Any]:
        """RETURNN Theano's `recurrent_transform: attention_list` and its keys (ir/layers/theano_attention.py)."""
        return {"theano_attention": read_theano_attention(options, where_of)}

    @property
    def is_decoder(self) -> bool:
        return self.encoder is not None

    @property
    def dependencies(self) -> tuple[str, ...]:
        bases = self.theano_attention.base if self.theano_attention else ()
        return super().dependencies + (self.encoder or ()) + bases

    def check(self, at: At) -> None:
        check_n_out(self.n_out, at)
        if self.is_decoder and self.unit is not Unit.LSTM:
            raise NetcError(f"a decoder with unit {self.unit.value} is not supported", at("unit"),
                            "decoders (and their encoders) use the native LSTM")
        if self.is_decoder and self.sources:
            raise NetcError("a decoder (a rec layer with 'encoder') takes no input", at("from"),
                            'add "from": "null"; the decoder is driven by its encoders\' final states')
        if self.theano_attention and not self.is_decoder:
            raise NetcError("recurrent_transform attention_list on a rec layer without 'encoder'",
                            at("recurrent_transform"), "netc implements Theano's attention in a decoder: add "
                            '"encoder": [...] and "from": "null"')
        if self.encoder == ():
            raise NetcError("'encoder' is empty", at("encoder"), "list the encoder rec layers")
        if self.sampling != 1:
            # NOTE: Theano's sampling n runs n interleaved recurrences (frames s, s+n, ...) (NetworkRecurrentLayer.py)
            raise NetcError(f"sampling {self.sampling} is not supported; netc implements sampling 1 (every frame)",
                            at("sampling"), "remove sampling or set it to 1")
        self.check_unroll(at)
        self.check_unit_opts(at)
        super().check(at)

    def check_unit_opts(self, at: At) -> None:
        """`unit_opts` as each unit's cell accepts them."""
        opts, native = self.unit_opts, self.unit is Unit.LSTM
        if self.unit is Unit.LOW_MEM_LSTM and (opts.forget_bias is not None or opts.rec_weight_dropout):
            # NOTE: NativeLstmLowMemCell passes unit_opts to RecSeqCellOp.__init__, which takes neither (TypeError)
            raise NetcError("unit_opts forget_bias/rec_weight_dropout with unit NativeLstmLowMem: RETURNN's "
                            "NativeLstmLowMemCell accepts neither", at("unit_opts"),
                            "remove them, or use unit nativelstm2 (same numbers; it has rec_weight_dropout)")
        if opts.forget_bias is not None and (self.unit is Unit.GRU or native and opts.forget_bias != 0):
            why = "TF's GRUCell has none" if self.unit is Unit.GRU else "RETURNN's NativeLstm2 asserts it is 0"
            raise NetcError(f"unit_opts forget_bias {opts.forget_bias} with unit {self.unit.value}: {why}",
                            at("unit_opts"), "remove forget_bias (a native LSTM's forget bias is part of rec/b)")
        if opts.rec_weight_dropout and not native:
            raise NetcError(f"unit_opts rec_weight_dropout is an option of the native LSTM, not of {self.unit.value}",
                            at("unit_opts"), "remove rec_weight_dropout")
        if not 0.0 <= opts.rec_weight_dropout < 1.0:
            raise NetcError("rec_weight_dropout must be in [0, 1)", at("unit_opts"), f"got {opts.rec_weight_dropout}")

    @property
    def forget_bias(self) -> float:
        """What a TF LSTM cell adds to its forget gate at run time (TF's default 1, or unit_opts')."""
        return FORGET_BIAS if self.unit_opts.forget_bias is None else self.unit_opts.forget_bias

    def check_unroll(self, at: At) -> None:
        """`unroll`/`max_seq_len` as RETURNN's RecLayer._get_output_cell and its native units accept them."""
        # NOTE: RETURNN ignores unroll for native units and asserts max_seq_len is None for them; a TF cell
        # unrolls only with max_seq_len and asserts max_seq_len is None without unroll
        if self.max_seq_len is not None and self.max_seq_len < 1:
            raise NetcError("max_seq_len must be >= 1", at("max_seq_len"), f"got {self.max_seq_len}")
        tf_cell = self.unit not in NATIVE
        if self.max_seq_len is not None and not tf_cell:
            raise NetcError("max_seq_len with a native LSTM unit (lstm, nativelstm2, lstmp, ...): RETURNN asserts it "
                            "is unset for them (it limits a TF cell's unrolled loop or a subnetwork unit)",
                            at("max_seq_len"), "remove max_seq_len (netc's LSTM runs over every frame)")
        if self.max_seq_len is not None and not self.unroll:
            raise NetcError("max_seq_len without unroll: RETURNN's TF cell loop asserts it is unset",
                            at("max_seq_len"), 'remove max_seq_len, or add "unroll": true')
        if self.unroll and tf_cell and self.max_seq_len is None:
            raise NetcError(f"unroll of unit {self.unit.value} needs max_seq_len (RETURNN: 'specify max_seq_len "
                            "for unroll')", at("unroll"), 'add "max_seq_len": N (the longest sequence), or remove '
                            "unroll: it does not change the numbers")

    def out_type(self, x: TensorType | None, env: ShapeEnv, at: At) -> TensorType:
        """`[B, T, n_out]` over `[B, T, F]`; a decoder runs on the classes time axis."""
        if self.theano_attention:
            check_bases(self.theano_attention.base or self.encoder or (), env, at)
        if self.is_decoder:
            total = sum(env.feature(e) for e in self.encoder or ())
            return TensorType.seq(TimeAxis.CLASSES, matching_n_out(self.n_out, total, at,
                                                                   "the sum of the encoders' n_out"))
        if self.n_out is None:
            raise NetcError("n_out is required", at("n_out"), "set n_out to the LSTM size")
        if x is None or not x.is_seq or x.sparse:
            raise NetcError(f"an LSTM reads [B, T, F], got {x}", at("from"),
                            "merge the extra dims into the feature dim first (merge_dims)")
        return x.with_feature(self.n_out)

    def param_shapes(self, n_in: int, n_out: int) -> dict[str, tuple[int, ...]]:
        """RETURNN TF's variables per unit (TF cells keep their kernels over `[x, h]`)."""
        both = n_in + n_out
        if self.unit is Unit.GRU:
            return {f"{GRU}/gates/kernel": (both, 2 * n_out), f"{GRU}/gates/bias": (2 * n_out,),
                    f"{GRU}/candidate/kernel": (both, n_out), f"{GRU}/candidate/bias": (n_out,)}
        if self.unit in TF_LSTM:
            return {f"{TF_LSTM[self.unit]}/kernel": (both, 4 * n_out), f"{TF_LSTM[self.unit]}/bias": (4 * n_out,)}
        if self.unit is Unit.LOW_MEM_LSTM:  # returnn/tf/native_op.py NativeLstmLowMemCell: W over [x, h]
            return {"rec/W": (both, 4 * n_out), "rec/b": (4 * n_out,)}
        attention = self.theano_attention.param_shapes(n_out) if self.theano_attention else {}
        return {"rec/W": (n_in, 4 * n_out), "rec/W_re": (n_out, 4 * n_out), "rec/b": (4 * n_out,)} | attention

    def param_init_limits(self, n_in: int, n_out: int) -> dict[str, float]:
        both = n_in + n_out
        if self.unit is Unit.GRU:
            return {f"{GRU}/gates/kernel": math.sqrt(6.0 / (both + 2 * n_out)),
                    f"{GRU}/candidate/kernel": math.sqrt(6.0 / (both + n_out))}
        if self.unit in TF_LSTM:
            return {f"{TF_LSTM[self.unit]}/kernel": math.sqrt(6.0 / (both + 4 * n_out))}
        if self.unit is Unit.LOW_MEM_LSTM:
            return {"rec/W": math.sqrt(6.0 / (both + 4 * n_out))}
        attention = self.theano_attention.param_init_limits(n_out) if self.theano_attention else {}
        return {"rec/W": math.sqrt(6.0 / (n_in + 4 * n_out)), "rec/W_re": math.sqrt(6.0 / (5 * n_out))} | attention

    def with_graph_dims(self, feature: Callable[[str], int]) -> Rec:
        """A decoder's Theano attention with its bases' feature dims, which shape its parameters."""
        if self.theano_attention is None:
            return self
        return replace(self, theano_attention=self.theano_attention.with_base_dims(feature, self.encoder or ()))

    def param_init_constants(self, layer: str) -> dict[str, float]:
        return {f"{GRU}/gates/bias": 1.0} if self.unit is Unit.GRU else {}  # TF GRUCell's default


def check_bases(bases: tuple[str, ...], env: ShapeEnv, at: At) -> None:
    """Theano attends over each base's frames `[B, T, F]` (AttentionList.create_vars: `B = e.output`)."""
    for name in bases:
        t = env.type_of(name)
        if not t.is_seq or t.sparse:
            raise NetcError(f"the attention base {name!r} is {t}; attention_list attends over [B, T, F] frames",
                            at("base"), "name layers with a time axis and a feature dim")
