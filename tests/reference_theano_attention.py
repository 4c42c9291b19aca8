"""An independent numpy reference of RETURNN Theano's decoder LSTM with `"recurrent_transform": "attention_list"`.

Transcribed from RETURNN 1.20190515.205601 (`pip download --no-deps returnn==1.20190515.205601`), not from netc:
`RecurrentTransform.py` (RT below) `AttentionBase`/`AttentionList` and `NetworkRecurrentLayer.py` (NRL below)
`RecurrentUnitLayer`/`LSTME`. Each sequence runs alone (a batch of one, as netc defines it: Theano's batched
padding leaks into its means and sums), in float64, in Theano's own layout: gates i, f, o, j (NRL lines
161-164) and Theano's parameter names without the layer prefix (`W_re`, `b`, `W_att_in_0_attention_list`, ...).
`theano_params` converts netc's parameters (gates j, i, f, o) into that layout, so the gate mapping is checked
too. Every formula names its source line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tests.reference import Reference, Seq, sigmoid

SUFFIX = "_attention_list"
NETC_GATES, THEANO_GATES = "jifo", "ifoj"


@dataclass(frozen=True)
class Options:
    """attention_list's options as Theano's `attrs` holds them (RT line 264: `attention_` stripped)."""

    template: int = 128
    distance: str = "l2"
    norm: str = "exp"
    sharpening: float = 1.0
    nbest: int = 0
    glimpse: int = 1

    @classmethod
    def of(cls, layer: dict) -> Options:
        return cls(**{k: layer[f"attention_{k}"] for k in cls.__dataclass_fields__ if f"attention_{k}" in layer})


def to_theano_gates(value: np.ndarray) -> np.ndarray:
    """The last axis `[4n]` from netc's gate blocks j, i, f, o to Theano's i, f, o, j (NRL lines 161-164)."""
    n = value.shape[-1] // 4
    blocks = value.reshape(*value.shape[:-1], 4, n)
    return blocks[..., [NETC_GATES.index(g) for g in THEANO_GATES], :].reshape(value.shape)


def theano_params(params: dict[str, np.ndarray], layer: str) -> dict[str, np.ndarray]:
    """netc's parameters of decoder `layer` under Theano's names, gate blocks in Theano's order."""
    own = {k[len(layer) + 1:]: np.asarray(v, np.float64) for k, v in params.items() if k.startswith(layer + "/")}
    result = {"W_re": to_theano_gates(own.pop("rec/W_re")), "b": to_theano_gates(own.pop("rec/b"))}
    own.pop("rec/W")  # a decoder reads no input: no rows
    for name, value in own.items():
        result[name] = to_theano_gates(value) if name.startswith(("W_att_in", "b_att_in")) else value
    return result


def base_C(B: np.ndarray, p: dict[str, np.ndarray], i: int, template: int) -> np.ndarray:
    """RT lines 491-501: the base itself where its dim is the template, else `tanh(B W_att_bs + b_att_bs)` minus
    its mean over the sequence's frames (RT line 501; `i_f` is all ones for a sequence alone)."""
    if B.shape[1] == template:
        return B
    h_att = np.tanh(B @ p[f"W_att_bs_{i}{SUFFIX}"] + p[f"b_att_bs_{i}{SUFFIX}"])  # RT line 496
    return h_att - h_att.sum(axis=0, keepdims=True) / B.shape[0]  # RT line 501


def distance(C: np.ndarray, H: np.ndarray, opts: Options, p: dict[str, np.ndarray]) -> np.ndarray:
    """RT AttentionBase.distance, lines 331-357: `[T]` from C `[T, K]` and H `[K]` (RT line 334 repeats H)."""
    if opts.distance == "l2":
        return np.sqrt(np.sum((C - H) ** 2, axis=1))  # RT line 337
    if opts.distance == "logl2":
        return np.sqrt(np.sum((np.log((C + 1) / 2) - np.log((H + 1) / 2)) ** 2, axis=1))  # RT line 339
    if opts.distance == "sqr":
        return np.mean((C - H) ** 2, axis=1)  # RT line 341
    if opts.distance == "dot":
        return np.sum(C * H, axis=1)  # RT line 343
    if opts.distance == "l1":
        return np.sum(np.abs(C - H), axis=1)  # RT line 345
    if opts.distance == "cos":
        J = H / (np.sqrt(np.sum(H ** 2)) + 1e-5)  # RT line 347
        K = C / (np.sqrt(np.sum(C ** 2, axis=1, keepdims=True)) + 1e-5)  # RT line 348
        return np.sum(K * J, axis=1)  # RT line 349
    assert opts.distance == "transpose", opts.distance
    return np.sum(p[f"W_T{SUFFIX}"] * np.tanh(C + H), axis=1)  # RT line 354


def weights(D: np.ndarray, opts: Options) -> np.ndarray:
    """RT AttentionBase.softmax, lines 390-421, with the index I all ones (a sequence alone)."""
    D = D * opts.sharpening  # RT line 391
    if opts.norm == "exp":
        D = D - D.mean(axis=0, keepdims=True)  # RT line 393
        E = np.exp(-D)  # RT line 394
        E = E / max(E.sum(), 1e-20)  # RT line 395
    elif opts.norm == "linear":
        E = 1 - D / max(D.sum(), 1e-20)  # RT lines 397-398
    else:
        assert opts.norm == "sigmoid", opts.norm
        E = 1 - np.tanh(D) ** 2  # RT line 400
    if opts.nbest > 1:
        opt = min(opts.nbest, E.shape[0])  # RT line 418
        score = np.sort(E)[-opt]  # RT line 419: the opt-th largest weight
        E = np.where(E < score, 0.0, E)  # RT line 420
    return E


def attend(y_p: np.ndarray, bases: list[np.ndarray], opts: Options, p: dict[str, np.ndarray], n: int,
           direction: int) -> np.ndarray:
    """RT AttentionList.attend, lines 575-627 (with get, lines 544-573): the `[4n]` the transform adds to the
    LSTM's gate inputs. `bases[i]` is `[T_i, F_i]`, in time order (RT line 486 reverses it for direction -1,
    which changes no sum or sort; `T.argmax` then finds the last of equal maxima in time order)."""
    inp = np.zeros(4 * n)
    glimpses: list[np.ndarray] = []  # RT line 306 (one list shared by all bases; [-1] is always this base's)
    for i, B in enumerate(bases):
        C = base_C(B, p, i, opts.template)
        for g in range(max(opts.glimpse, 1)):  # RT lines 307, 578
            if opts.template != n:
                z_p = y_p @ p[f"W_att_re_{i}{SUFFIX}"] + p[f"b_att_re_{i}{SUFFIX}"]  # RT line 558
            else:
                z_p = y_p  # RT line 560
            if g > 0:
                z_p = z_p + glimpses[-1]  # RT line 571
            H = np.tanh(z_p)  # RT line 572
            w = weights(distance(C, H, opts, p), opts)  # RT lines 580-581
            glimpses.append(np.sum(C * w[:, None], axis=0))  # RT line 598
        if opts.nbest == 1:
            best = int(np.argmax(w)) if direction == 1 else B.shape[0] - 1 - int(np.argmax(w[::-1]))
            z = B[best]  # RT line 620
        else:
            z = np.sum(B * w[:, None], axis=0)  # RT line 622
        inp = inp + z @ p[f"W_att_in_{i}{SUFFIX}"] + p[f"b_att_in_{i}{SUFFIX}"]  # RT line 625
    return inp


def lstme_step(y_p: np.ndarray, c_p: np.ndarray, z_r: np.ndarray, p: dict[str, np.ndarray]
               ) -> tuple[np.ndarray, np.ndarray]:
    """NRL LSTME.step, lines 148-170, on a valid frame: the decoder's input is its bias alone (NRL line 728
    `z = self.b`, line 862 adds zeros), plus the transform's `z_r` (line 156) and `y_p W_re` (line 159)."""
    z_t = p["b"] + z_r + y_p @ p["W_re"]
    n = z_t.shape[0] // 4
    ingate, forgetgate, outgate = (sigmoid(z_t[k * n:(k + 1) * n]) for k in range(3))  # NRL lines 161-163
    net_input = np.tanh(z_t[3 * n:])  # NRL line 164
    c_t = forgetgate * c_p + ingate * net_input  # NRL line 165
    return outgate * np.tanh(c_t), c_t  # NRL line 166


def attention_decoder(bases: list[Seq], h0: np.ndarray, c0: np.ndarray, target_lens: np.ndarray, opts: Options,
                      p: dict[str, np.ndarray], direction: int) -> Seq:
    """The decoder's output `[B, S, n]` (padded frames 0), each sequence alone: its frames 0..len-1 (backwards
    for direction -1, Theano's `go_backwards`, NRL line 903), from the encoders' final states (NRL line 859)."""
    n = p["W_re"].shape[0]
    y = np.zeros((len(target_lens), int(max(target_lens)), n))
    for s, length in enumerate(target_lens):
        own = [b.x[s, :b.lens[s]].astype(np.float64) for b in bases]
        h, c = h0[s], c0[s]
        for t in range(length) if direction == 1 else range(length - 1, -1, -1):
            h, c = lstme_step(h, c, attend(h, own, opts, p, n, direction), p)
            y[s, t] = h
    return Seq(y, np.asarray(target_lens))


class AttentionReference(Reference):
    """tests/reference.py's network evaluation, with Theano's attention_list in decoders that have it."""

    def rec(self, name: str, layer: dict) -> Seq:
        if layer.get("recurrent_transform", "none") == "none":
            return super().rec(name, layer)
        finals = [self.value(e).final for e in layer["encoder"]]
        h0 = np.concatenate([f[0] for f in finals], axis=-1)
        c0 = np.concatenate([f[1] for f in finals], axis=-1)
        names = layer.get("base") or layer["encoder"]  # NRL lines 659-662
        bases = [self.value(b) for b in (names.split(",") if isinstance(names, str) else names)]
        p = theano_params(self.params, name)
        return attention_decoder(bases, h0, c0, self.target_lens, Options.of(layer), p, layer.get("direction", 1))


def reference_output(net: dict, params: dict[str, np.ndarray], x: np.ndarray, lens: np.ndarray,
                     target_lens: np.ndarray, output_kind: str = "probs") -> tuple[np.ndarray, np.ndarray]:
    """The contract's (`output`, `output:size1`) of a net dict with Theano attention decoders."""
    return AttentionReference(net, params, x, lens, target_lens, output_kind=output_kind).run()
