"""The closed vocabularies of the IR: time axes, sequence types, activations, directions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from netc.ir.errors import did_you_mean


class TimeAxis(Enum):
    """Which time axis a tensor lives on: the input's or the decoder targets'."""

    DATA = "data"
    CLASSES = "classes"


@dataclass(frozen=True)
class SeqType:
    """The static type of a layer output `[batch, time, feature]`; batch is implicit."""

    time: TimeAxis
    feature: int
    dtype: str = "float32"

    def __str__(self) -> str:
        return f"[B,T_{self.time.value},{self.feature}]"


class ConfigEnum(Enum):
    """An enum read from a config word, with aliases; `known()` lists accepted words."""

    @classmethod
    def aliases(cls) -> dict[str, ConfigEnum]:
        return {}

    @classmethod
    def from_config(cls, value: Any) -> ConfigEnum:
        words = {m.value: m for m in cls} | cls.aliases()
        key = value.lower() if isinstance(value, str) else value
        if key in words:
            return words[key]
        raise ValueError(value)

    @classmethod
    def known(cls) -> list[str]:
        return [str(w) for w in ({m.value: m for m in cls} | cls.aliases())]

    @classmethod
    def hint(cls, value: Any) -> str:
        """What to write instead of an unknown value."""
        return did_you_mean(str(value), cls.known())


class Act(ConfigEnum):
    """Element-wise (or feature-wise) activation functions."""

    IDENTITY = "identity"
    RELU = "relu"
    TANH = "tanh"
    SIGMOID = "sigmoid"
    SOFTMAX = "softmax"
    LOG_SOFTMAX = "log_softmax"
    ELU = "elu"
    SELU = "selu"
    GELU = "gelu"
    SOFTPLUS = "softplus"
    SWISH = "swish"
    ABS = "abs"
    EXP = "exp"
    SQUARE = "square"

    @classmethod
    def aliases(cls) -> dict[str, ConfigEnum]:
        return {"none": cls.IDENTITY, "null": cls.IDENTITY, None: cls.IDENTITY,
                "logistic": cls.SIGMOID, "silu": cls.SWISH}


class Direction(ConfigEnum):
    """LSTM direction: 1 runs frame 0 to len-1, -1 runs each sequence from its own end."""

    FORWARD = 1
    BACKWARD = -1


class Unit(ConfigEnum):
    """Recurrent units; all supported names mean the LSTM of netdict.md section 5."""

    LSTM = "lstm"

    @classmethod
    def aliases(cls) -> dict[str, ConfigEnum]:
        return {"nativelstm": cls.LSTM, "nativelstm2": cls.LSTM, "lstmp": cls.LSTM}

    @classmethod
    def hint(cls, value: Any) -> str:
        supported = "supported units: " + ", ".join(cls.known()) + " (all the LSTM of netdict.md section 5)"
        if str(value).lower() in ("standardlstm", "basiclstm", "lstmblock"):
            return f"{value} adds a forget-gate bias of 1 and stores its weights differently; {supported}"
        return supported


class Loss(ConfigEnum):
    """Training losses (RETURNN `CrossEntropyLoss`, `CtcLoss`)."""

    CE = "ce"
    CTC = "ctc"

    def output_dim(self, target_dim: int) -> int:
        """The loss layer's n_out for a target of `target_dim` classes: CTC adds the blank (RETURNN
        `Loss.get_auto_output_layer_dim`)."""
        return target_dim + 1 if self is Loss.CTC else target_dim


class DropoutNoise(ConfigEnum):
    """How the dropout mask is shared: per feature (RETURNN default) or per element."""

    PER_FEATURE = "per_feature"
    PER_ELEMENT = "per_element"

    @classmethod
    def from_config(cls, value: Any) -> ConfigEnum:
        if value is None:
            return cls.PER_FEATURE
        if value == {"*": None}:
            return cls.PER_ELEMENT
        raise ValueError(value)

    @classmethod
    def known(cls) -> list[str]:
        return ["null (one mask per feature)", '{"*": null} (one mask per element)']
