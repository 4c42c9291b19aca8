"""A plain numpy forward pass of a net dict: netdict.md sections 3-6 in code, written from the docs only.

It is the oracle of the compiler's parity tests, so it favours being obviously right over being fast:
float64 throughout, one Python loop over sequences and frames for every LSTM.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

NO_INPUT = ([], "null", ["null"], "none", None)
DATA_NAMES = ("data", "data:data")
GATES = "jifo"  # the order of the four gate blocks in rec/W, rec/W_re and rec/b (netdict.md section 8)
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946  # TF's
_erf = np.vectorize(math.erf, otypes=[np.float64])


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


ACTIVATIONS = {
    "identity": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "sigmoid": sigmoid,
    "softmax": lambda x: np.exp(log_softmax(x)),
    "log_softmax": log_softmax,
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0))),
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
    "softplus": lambda x: np.logaddexp(0.0, x),
    "swish": lambda x: x * sigmoid(x),
    "abs": np.abs,
    "exp": np.exp,
    "square": np.square,
    "relu6": lambda x: np.clip(x, 0.0, 6.0),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "softsign": lambda x: x / (1.0 + np.abs(x)),
    "log_sigmoid": lambda x: -np.logaddexp(0.0, -x),
    "negative": np.negative,
    "sin": np.sin,
    "cos": np.cos,
}
ALIASES = {"none": "identity", None: "identity", "null": "identity", "logistic": "sigmoid", "silu": "swish",
           "neg": "negative", "sqr": "square"}
OUTPUT_KINDS = {"probs": "softmax", "log-probs": "log_softmax", "logits": "identity"}


def activation(name: str | None) -> Callable[[np.ndarray], np.ndarray]:
    """The function of an activation name of netdict.md section 4."""
    return ACTIVATIONS[ALIASES.get(name, name)]


@dataclass
class Seq:
    """A layer's value: `[B, T, F]` (padded frames 0 unless said otherwise) and which lengths it runs on."""

    x: np.ndarray
    lens: np.ndarray
    final: tuple[np.ndarray, np.ndarray] | None = None  # (h, c) `[B, n]` of an LSTM


@dataclass
class Variant:
    """Deliberate departures from the spec, used only to prove that the parity tests can fail."""

    reverse_flips_padded: bool = False  # direction -1 flips the whole padded tensor instead of each sequence
    decoder_zero_c: bool = False  # decoders start from c = 0 instead of the encoders' final c
    decoder_zero_h: bool = False  # decoders start from h = 0 instead of the encoders' final h
    final_at_padded_end: bool = False  # a forward encoder's final h read at padded frame T-1 (Theano's quirk)


def sources(layer: dict) -> list[str]:
    """`from` as a list (section 3): absent is `data`, a string is one source, null forms are none."""
    if "from" not in layer:
        return ["data"]
    value = layer["from"]
    if any(value == empty and type(value) is type(empty) for empty in NO_INPUT):
        return []
    return [value] if isinstance(value, str) else list(value)


def lstm(x: np.ndarray, lens: np.ndarray, W: np.ndarray, W_re: np.ndarray, b: np.ndarray, direction: int,
         h0: np.ndarray, c0: np.ndarray, variant: Variant = Variant()) -> Seq:
    """Section 5: each sequence runs over its own frames only, backwards for direction -1."""
    if direction == -1 and variant.reverse_flips_padded:
        # the classic bug: reverse the padded tensor, run forward masked by length, reverse back
        flipped = lstm(x[:, ::-1], lens, W, W_re, b, 1, h0, c0)
        return Seq(flipped.x[:, ::-1], lens, flipped.final)
    B, T, _ = x.shape
    n = W_re.shape[0]
    y = np.zeros((B, T, n))
    h_final, c_final = np.zeros((B, n)), np.zeros((B, n))
    for s in range(B):
        h, c = h0[s], c0[s]
        frames = range(lens[s]) if direction == 1 else range(lens[s] - 1, -1, -1)
        for t in frames:
            a = x[s, t] @ W + b + h @ W_re
            j, i, f, o = (a[k * n:(k + 1) * n] for k in range(4))
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(j)
            h = sigmoid(o) * np.tanh(c)
            y[s, t] = h
        if variant.final_at_padded_end and direction == 1:
            h = y[s, T - 1]
        h_final[s], c_final[s] = h, c
    return Seq(y, lens, (h_final, c_final))


class Reference:
    """Evaluates a net dict for one batch; `run()` gives the `output` tensor as the ONNX contract defines it."""

    def __init__(self, net: dict, params: dict[str, np.ndarray], x: np.ndarray, lens: np.ndarray,
                 target_lens: np.ndarray | None = None, output_kind: str = "probs",
                 variant: Variant = Variant()) -> None:
        self.net = {k: v for k, v in net.items() if not k.startswith("#")}
        self.params = {k: np.asarray(v, np.float64) for k, v in params.items()}
        self.output_kind, self.variant = output_kind, variant
        self.target_lens = None if target_lens is None else np.asarray(target_lens)
        self.values = {"data": Seq(np.asarray(x, np.float64), np.asarray(lens))}

    def run(self) -> tuple[np.ndarray, np.ndarray]:
        """(`output` with padded frames 0, `output:size1`)."""
        with np.errstate(over="ignore", invalid="ignore"):  # padded garbage may overflow; masked below
            out = self.value("output", final=True)
        return mask(out.x, out.lens), out.lens

    def value(self, name: str, final: bool = False) -> Seq:
        name = "data" if name in DATA_NAMES else name
        if name not in self.values or final:
            self.values[name] = self.layer(name, self.net[name], final)
        return self.values[name]

    def inputs(self, layer: dict) -> Seq:
        """Concatenation of the sources on the feature axis, in `from` order."""
        parts = [self.value(s) for s in sources(layer)]
        for p in parts[1:]:
            assert np.array_equal(p.lens, parts[0].lens), "sources on different time axes"
        return Seq(np.concatenate([p.x for p in parts], axis=-1), parts[0].lens)

    def affine(self, name: str, x: np.ndarray) -> np.ndarray:
        y = x @ self.params[f"{name}/W"]
        return y + self.params[f"{name}/b"] if f"{name}/b" in self.params else y

    def layer(self, name: str, layer: dict, final: bool) -> Seq:
        cls = layer["class"]
        if cls == "rec":
            return self.rec(name, layer)
        src = self.inputs(layer)  # dropout of any layer: identity at inference
        if cls in ("copy", "dropout"):
            return Seq(mask(src.x, src.lens), src.lens)
        if cls == "activation":
            return Seq(mask(activation(layer["activation"])(src.x), src.lens), src.lens)
        logits = self.affine(name, src.x)
        if cls == "softmax":
            act = OUTPUT_KINDS[self.output_kind] if final else "softmax"
        else:
            assert cls in ("linear", "hidden", "forward"), cls
            act = layer.get("activation")
        return Seq(mask(activation(act)(logits), src.lens), src.lens)

    def rec(self, name: str, layer: dict) -> Seq:
        direction = layer.get("direction", 1)
        W, W_re, b = (self.params[f"{name}/rec/{p}"] for p in ("W", "W_re", "b"))
        n = W_re.shape[0]
        if "encoder" not in layer:
            src = self.inputs(layer)
            zero = np.zeros((src.x.shape[0], n))
            return lstm(src.x, src.lens, W, W_re, b, direction, zero, zero, self.variant)
        # a decoder (section 6): no input, initial h and c = encoders' final states, on the target axis
        finals = [self.value(e).final for e in layer["encoder"]]
        h0 = np.concatenate([f[0] for f in finals], axis=-1)
        c0 = np.concatenate([f[1] for f in finals], axis=-1)
        h0 = np.zeros_like(h0) if self.variant.decoder_zero_h else h0
        c0 = np.zeros_like(c0) if self.variant.decoder_zero_c else c0
        lens = self.target_lens
        x = np.zeros((len(lens), int(lens.max()), 0))
        return lstm(x, lens, W.reshape(0, 4 * n), W_re, b, direction, h0, c0, self.variant)


def mask(x: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Padded frames set to 0."""
    valid = np.arange(x.shape[1])[None, :] < np.asarray(lens)[:, None]
    return np.where(valid[:, :, None], x, 0.0)


def reference_output(net: dict, params: dict[str, np.ndarray], x: np.ndarray, lens: np.ndarray,
                     target_lens: np.ndarray | None = None, output_kind: str = "probs",
                     variant: Variant = Variant()) -> tuple[np.ndarray, np.ndarray]:
    """The contract's (`output`, `output:size1`) of a net dict, computed from the spec."""
    return Reference(net, params, x, lens, target_lens, output_kind=output_kind, variant=variant).run()


# ---------------------------------------------------------------- transformer layers (netdict.md "self_attention")

@dataclass
class TrafoVariant:
    """Deliberate departures from RETURNN's transformer layers, used only to prove that the tests can fail."""

    contiguous_qkv: bool = False  # QKV columns read as [q of all heads, k of all heads, v of all heads]
    keys_unmasked: bool = False  # a sequence's queries also attend to the padded frames of the batch
    positions_from_one: bool = False  # positional_encoding counts frames from 1


def sinusoid(position: np.ndarray, n: int) -> np.ndarray:
    """Tensor2Tensor's timing signal (RETURNN get_positional_encoding): `[sin(p w_i), cos(p w_i)]`,
    `w_i = 10000^(-i / (n // 2 - 1))`, one 0 channel more for odd n."""
    half = n // 2
    w = np.exp(-np.arange(half) * math.log(1e4) / max(half - 1, 1)) if half else np.zeros(0)
    scaled = np.asarray(position, np.float64)[..., None] * w
    signal = np.concatenate([np.sin(scaled), np.cos(scaled)], axis=-1)
    return np.concatenate([signal, np.zeros(signal.shape[:-1] + (n % 2,))], axis=-1)


def self_attention(x: np.ndarray, QKV: np.ndarray, heads: int, key_dim: int, causal: bool,
                   key_shift: np.ndarray | None = None, variant: TrafoVariant = TrafoVariant()) -> np.ndarray:
    """One sequence `[T, F]` -> `[T, V]`: per head h, `softmax_k(q_t . (k_k + key_shift[t, k]) / ...)` with
    q scaled by d_k^-0.5, k <= t if causal; head h's q, k, v are consecutive column blocks of its part of QKV."""
    T, value_dim = len(x), QKV.shape[1] - 2 * key_dim
    d_k, d_v = key_dim // heads, value_dim // heads
    y = x @ QKV
    out = np.zeros((T, value_dim))
    for h in range(heads):
        if variant.contiguous_qkv:
            q, k = y[:, h * d_k:(h + 1) * d_k], y[:, key_dim + h * d_k:key_dim + (h + 1) * d_k]
            v = y[:, 2 * key_dim + h * d_v:2 * key_dim + (h + 1) * d_v]
        else:
            part = y[:, h * (2 * d_k + d_v):(h + 1) * (2 * d_k + d_v)]
            q, k, v = part[:, :d_k], part[:, d_k:2 * d_k], part[:, 2 * d_k:]
        q = q * d_k ** -0.5
        for t in range(T):
            keys = range(t + 1) if causal else range(T)
            energy = np.array([q[t] @ (k[j] + (key_shift[t, j] if key_shift is not None else 0.0)) for j in keys])
            weights = np.exp(energy - energy.max())
            out[t, h * d_v:(h + 1) * d_v] = (weights / weights.sum()) @ v[list(keys)]
    return out


class TrafoReference(Reference):
    """Reference with self_attention, positional_encoding, relative_positional_encoding and length, each sequence
    on its own frames."""

    def __init__(self, *args: object, trafo: TrafoVariant = TrafoVariant(), **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.trafo = trafo

    def layer(self, name: str, layer: dict, final: bool) -> Seq:
        cls = layer["class"]
        if cls not in ("self_attention", "positional_encoding", "relative_positional_encoding", "length"):
            return super().layer(name, layer, final)
        src = self.inputs(layer)
        if cls == "length":
            return Seq(src.lens.astype(np.float64), src.lens)
        if cls == "relative_positional_encoding":
            T, c = src.x.shape[1], layer.get("clipping", 16)
            index = np.clip(np.arange(T)[None, :] - np.arange(T)[:, None], -c, c) + c
            matrix = (sinusoid(np.arange(2 * c + 1), layer["n_out"]) if layer.get("fixed")
                      else self.params[f"{name}/encoding_matrix"])
            return Seq(matrix[index], src.lens)
        y = np.zeros(src.x.shape[:2] + (layer.get("n_out") or src.x.shape[2],))
        for b, n in enumerate(src.lens):
            width = src.x.shape[1] if self.trafo.keys_unmasked else n
            if cls == "self_attention":
                shift = self.value(layer["key_shift"]).x[:width, :width] if layer.get("key_shift") else None
                y[b, :width] = self_attention(src.x[b, :width], self.params[f"{name}/QKV"], layer["num_heads"],
                                              layer["total_key_dim"], layer.get("attention_left_only", False),
                                              shift, self.trafo)[:width]
                continue
            position = np.arange(n) + (1 if self.trafo.positions_from_one else 0)
            if layer.get("constant", -1) > -1:
                position = np.full(n, layer["constant"])
            if layer.get("offset"):
                position = position + self.value(layer["offset"]).x[b]
            signal = sinusoid(position, y.shape[2])
            y[b, :n] = src.x[b, :n] + signal if layer.get("add_to_input") else signal
        return Seq(mask(y, src.lens), src.lens)
