"""An independent numpy reference of RETURNN TF's attention encoder-decoders (the 2018 LibriSpeech layout).

Written from RETURNN's source (returnn==1.20261022.211313, TensorFlow 2.21; `returnn/` below is
site-packages/returnn), not from netc: the oracle of netc's attention decoders, teacher forcing and search.
Float64 throughout; one sequence at a time (netc searches each sequence alone, docs/search.md).

API (all arrays numpy; `net` is the RETURNN net dict, `params` maps RETURNN checkpoint names to arrays):
- `encode(net, params, x[T, F]) -> dict[name, array]`: the outer layers the decoder reads (`enc_ctx` [T', K],
  `inv_fertility` [T', H], `enc_value` [T', H, D], `encoder` [T', 2n], ...), T' = ceil(T / 2) per pool of 2.
- `Decoder(net, params, encoded)`: `.initial()` -> `State`; `.step(state) -> (log_probs[V], state')` runs one
  decoder frame from the previous frame's layers; `.feed(state, label) -> state` makes `label` the frame's
  `output` (sets `target_embed`).
- `teacher_forced(net, params, x, targets[S]) -> log_probs[S, V]`: the ground truth fed back, as in training;
  `ce_losses(log_probs, targets, label_smoothing) -> [S]`: RETURNN's ce loss per frame.
- `search(net, params, x, beam_size) -> list[Hypothesis]`: RETURNN's final beam, RETURNN's order; each with
  `labels` (without the end label), `score` (RETURNN's search-output score), `log_prob_sum`, `ended`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tests.reference import log_softmax, lstm, sigmoid

CLIP = "tf.clip_by_value(source(0), -3.0, 3.0)"
ACCUM = "source(0) + source(1) * source(2) * 0.5"
LSTM_CELL = "rec/lstm_cell"
FILTERED = -1.0e30  # filter_ended_scores' score_rem (returnn/tf/util/basic.py:6228)
UNIT = {  # the decoder layout this reference implements: layer -> class (checked, so other layouts fail loudly)
    "output": "choice", "end": "compare", "target_embed": "linear", "weight_feedback": "linear",
    "s_transformed": "linear", "energy_in": "combine", "energy_tanh": "activation", "energy": "linear",
    "att_weights": "softmax_over_spatial", "accum_att_weights": "eval", "att0": "generic_attention",
    "att": "merge_dims", "s": "rnn_cell", "readout_in": "linear", "readout": "reduce_out", "output_prob": "softmax"}


def _sources(layer: dict) -> list[str]:
    src = layer.get("from", ["data"])
    return [src] if isinstance(src, str) else list(src)


def encode(net: dict, params: dict, x: np.ndarray) -> dict[str, np.ndarray]:
    """The outer layers of `net` for one sequence `x` [T, F] (no padding: the sequence alone).

    `eval` clip (tf.clip_by_value), `rec` NativeLstm2 (tests/reference.lstm: gates j, i, f, o, returnn/native_op.py
    NativeLstm2), `pool` max with padding "same" (returnn/tf/layers/basic.py:7106 PoolLayer -> tf.nn.pool):
    T' = ceil(T / size) windows of `size` frames at stride `size`, shifted left by TF's "SAME" padding
    ((T' - 1) size + size - T frames, the smaller half before the first frame); padding never wins a max
    (a sequence alone has no padded frames; RETURNN in a batch takes a batch's padded frames into the max,
    docs/search.md), `copy` and concatenation of
    `from` on the feature axis, `linear`/`softmax` (x @ W + b, basic.py:2075), `split_dims` (basic.py:4835).
    Raises AssertionError on any other layer class or option.
    """
    values: dict[str, np.ndarray] = {"data": np.asarray(x, np.float64)}

    def value(name: str) -> np.ndarray:
        if name not in values:
            values[name] = layer_value(name, net[name])
        return values[name]

    def layer_value(name: str, layer: dict) -> np.ndarray:
        cls = layer["class"]
        src = np.concatenate([value(s) for s in _sources(layer)], axis=-1)
        if cls == "eval":
            assert layer["eval"] == CLIP, layer["eval"]
            return np.clip(src, -3.0, 3.0)
        if cls == "rec":
            assert layer["unit"].lower() == "nativelstm2", layer["unit"]
            W, W_re, b = (np.asarray(params[f"{name}/rec/{p}"], np.float64) for p in ("W", "W_re", "b"))
            zero = np.zeros((1, W_re.shape[0]))
            lens = np.array([len(src)])
            return lstm(src[None], lens, W, W_re, b, layer.get("direction", 1), zero, zero).x[0]
        if cls == "pool":
            assert layer["mode"] == "max" and layer["padding"] == "same", layer
            size = layer["pool_size"][0]
            assert layer.get("strides", size) in (size, [size], (size,)), layer
            out = -(-len(src) // size)
            before = max((out - 1) * size + size - len(src), 0) // 2  # TF's "SAME": the smaller half first
            return np.stack([src[max(t * size - before, 0):t * size - before + size].max(axis=0) for t in range(out)])
        if cls == "copy":
            return src
        if cls in ("linear", "softmax"):
            y = src @ params[f"{name}/W"] + (params[f"{name}/b"] if layer.get("with_bias", True) else 0.0)
            act = "softmax" if cls == "softmax" else layer.get("activation")
            return np.exp(log_softmax(y)) if act == "softmax" else sigmoid(y) if act == "sigmoid" else \
                np.tanh(y) if act == "tanh" else y
        if cls == "split_dims":
            assert layer["axis"] == "F", layer
            return src.reshape(len(src), *layer["dims"])
        raise AssertionError(f"encode: layer {name!r} of class {cls!r} is not in this reference")

    for name in ("enc_ctx", "inv_fertility", "enc_value", "encoder"):
        value(name)
    return values


@dataclass(frozen=True)
class State:
    """The previous frame's layers a decoder frame reads (`prev:` in the unit): `target_embed` [E], `att`
    [H*D], `accum_att_weights` [T', H], the LSTM cell `c` and output `h` of `s` [S]. `initial_output` 0 makes
    each zeros at the first frame (returnn/tf/layers/rec.py get_rec_initial_output; for `target_embed` the
    zero vector, NOT the embedding of label 0)."""

    target_embed: np.ndarray
    att: np.ndarray
    accum_att_weights: np.ndarray
    c: np.ndarray
    h: np.ndarray


class Decoder:
    """One decoder frame of the unit (RETURNN's formulas, layer by layer; `p(name)` is `output/rec/name/...`)."""

    def __init__(self, net: dict, params: dict, encoded: dict[str, np.ndarray]) -> None:
        unit = net["output"]["unit"]
        assert {k: v["class"] for k, v in unit.items()} == UNIT, sorted(unit)
        assert unit["accum_att_weights"]["eval"] == ACCUM, unit["accum_att_weights"]["eval"]
        assert unit["energy_in"]["kind"] == "add" and unit["readout"]["mode"] == "max", unit
        assert unit["s"]["unit"] == "LSTMBlock" and not unit["s"].get("unit_opts"), unit["s"]
        assert unit["target_embed"].get("initial_output") == 0, unit["target_embed"]
        self.unit = unit
        self.params = {k: np.asarray(v, np.float64) for k, v in params.items()}
        self.enc = encoded
        self.end = unit["end"]["value"]

    def p(self, name: str) -> np.ndarray:
        return self.params[f"output/rec/{name}"]

    def initial(self) -> State:
        heads = self.enc["inv_fertility"].shape[1]
        n = self.p(f"s/{LSTM_CELL}/bias").shape[0] // 4
        return State(np.zeros(self.p("target_embed/W").shape[1]), np.zeros(self.enc["enc_value"][0].size),
                     np.zeros((len(self.enc["encoder"]), heads)), np.zeros(n), np.zeros(n))

    def feed(self, state: State, label: int) -> State:
        """`output` = `label` at this frame: `target_embed` = W[label] (linear on a sparse input, no bias)."""
        return replace(state, target_embed=self.p("target_embed/W")[label])

    def step(self, prev: State) -> tuple[np.ndarray, State]:
        """log_probs [V] of `output_prob` and this frame's layers (target_embed still the previous one: `feed`).

        - `s`: rnn_cell "LSTMBlock" is, under TensorFlow 2, `StandardLSTM` = tf.compat.v1.nn.rnn_cell.LSTMCell
          (returnn/tf/layers/rec.py:719-724 and :679); its call (tensorflow/python/keras/layers/legacy_rnn/
          rnn_cell_impl.py LSTMCell.call): a = [x, h_prev] @ kernel + bias, gates i, j, f, o in that order,
          c = sigmoid(f + forget_bias) * c_prev + sigmoid(i) * tanh(j) with forget_bias 1.0 always added,
          h = sigmoid(o) * tanh(c). x = [prev:target_embed, prev:att] (the `from` order).
        - `weight_feedback` = prev:accum_att_weights [T', H] @ W; `s_transformed` = s @ W; `energy_in` = enc_ctx
          + weight_feedback + s_transformed (combine add, broadcast over T'); `energy` = tanh(energy_in) @ W
          [T', H]; `att_weights` = softmax over T' per head (SoftmaxOverSpatialLayer, basic.py:2412).
        - `accum_att_weights` = prev + att_weights * inv_fertility * 0.5 (the eval string).
        - `att0` (GenericAttentionLayer, rec.py:7364) = sum_t att_weights[t, h] * enc_value[t, h, :] [H, D];
          `att` = merge_dims of (H, D), head-major (MergeDimsLayer without keep_order sorts the axes first,
          basic.py:4382-4406).
        - `readout_in` = [s, prev:target_embed, att] @ W + b; `readout` = reduce_out max 2 = max over adjacent
          pairs (ReduceOutLayer reshapes [..., dim/2, 2], basic.py:8008); `output_prob` = softmax(readout @ W + b),
          its log-probs as ChoiceLayer takes them: log_softmax of the logits (rec.py:6458-6460).
        """
        enc = self.enc
        n = prev.c.shape[0]
        a = np.concatenate([prev.target_embed, prev.att, prev.h]) @ self.p(f"s/{LSTM_CELL}/kernel") \
            + self.p(f"s/{LSTM_CELL}/bias")
        i, j, f, o = (a[k * n:(k + 1) * n] for k in range(4))
        c = sigmoid(f + 1.0) * prev.c + sigmoid(i) * np.tanh(j)
        h = sigmoid(o) * np.tanh(c)
        energy_in = enc["enc_ctx"] + prev.accum_att_weights @ self.p("weight_feedback/W") + h @ self.p(
            "s_transformed/W")
        energy = np.tanh(energy_in) @ self.p("energy/W")  # [T', H]
        weights = np.exp(log_softmax(energy.T)).T  # softmax over T' per head
        accum = prev.accum_att_weights + weights * enc["inv_fertility"] * 0.5
        att = np.einsum("th,thd->hd", weights, enc["enc_value"]).reshape(-1)
        readout_in = np.concatenate([h, prev.target_embed, att]) @ self.p("readout_in/W") + self.p("readout_in/b")
        readout = readout_in.reshape(-1, 2).max(axis=-1)
        logits = readout @ self.p("output_prob/W") + self.p("output_prob/b")
        return log_softmax(logits), State(prev.target_embed, att, accum, c, h)


def teacher_forced(net: dict, params: dict, x: np.ndarray, targets: list[int] | np.ndarray) -> np.ndarray:
    """log_probs [S, V] of `output_prob` with the ground truth fed back (training: ChoiceLayer outputs the
    target, rec.py:6386-6402), S = len(targets) including the end label."""
    decoder = Decoder(net, params, encode(net, params, x))
    state, out = decoder.initial(), []
    for label in targets:
        log_probs, state = decoder.step(state)
        out.append(log_probs)
        state = decoder.feed(state, int(label))
    return np.stack(out)


def ce_losses(log_probs: np.ndarray, targets: list[int] | np.ndarray, label_smoothing: float = 0.0) -> np.ndarray:
    """RETURNN's `ce` loss per target frame [S] from log_probs [S, V] (CrossEntropyLoss, returnn/tf/layers/
    basic.py:12358-12450). With `loss_opts` label_smoothing ls (tf/util/basic.py:4985-5042 smoothing_cross_entropy):
    soft targets 1 - ls on the target and ls / (V - 1) elsewhere, and the soft targets' entropy subtracted:
    -sum_v q_v log p_v - H(q), H(q) = -((1 - ls) log(1 - ls) + (V - 1) low log(low + 1e-20)), low = ls / (V - 1).
    RETURNN sums it over the frames; the logged cost divides by the number of frames."""
    S, V = log_probs.shape
    confidence, low = 1.0 - label_smoothing, label_smoothing / (V - 1)
    q = np.full((S, V), low)
    q[np.arange(S), np.asarray(targets)] = confidence
    entropy = -(confidence * np.log(confidence) + (V - 1) * low * np.log(low + 1e-20))
    return -(q * log_probs).sum(axis=-1) - entropy


@dataclass(frozen=True)
class Hypothesis:
    """One entry of RETURNN's final beam: `labels` without the end label (the rec layer's output up to its
    sequence length), `score` as RETURNN's search writes it, `log_prob_sum` the plain sum of the log-probs of
    the labels and, if `ended`, of the end label."""

    labels: tuple[int, ...]
    score: float
    log_prob_sum: float
    ended: bool


def search(net: dict, params: dict, x: np.ndarray, beam_size: int) -> list[Hypothesis]:
    """RETURNN's beam search over one sequence alone (a batch of one), ChoiceLayer with its defaults
    (input_type "prob", length_normalization True, no cheating). Per frame t = 0, 1, ...:

    1. Each hypothesis k of the incoming beam (1 at t = 0) gives log_probs_k [V] (`Decoder.step`).
    2. Length normalization (rec.py:6162-6181): the running score of an ended hypothesis is multiplied by
       (t + 1) / t, so that score_t / (t + 1) stays score_{t_end} / (t_end + 1).
    3. filter_ended_scores (rec.py:6184-6192, tf/util/basic.py:6228-6268): an ended hypothesis scores 0 for the
       end label and -1e30 for every other label.
    4. Candidates running score + scores (rec.py:6244-6248), flattened [beam_in * V]; tf.nn.top_k keeps the
       best beam_size, ties to the lower flat index (tf/util/basic.py:6171); with fewer candidates than
       beam_size the rest are label 0 from beam 0 scored -inf (basic.py:6172-6175). src = index // V,
       label = index % V (basic.py:6183-6184).
    5. end = (label == end label) or the source hypothesis ended (the `end` layer is or-ed with prev:end,
       rec.py:2223-2236); its length grows by 1 unless end (include_eos False, rec.py:3373-3379).
    6. The loop stops when every hypothesis ended or after max_seq_len = the encoder length frames
       (`max_len_from('base:encoder')`, rec.py:471-489).
    Finally (ChoiceLayer.post_process_final_rec_vars_outputs, rec.py:6878-6896) every running score is divided
    by max(length) + 1 over the final beam. That is the score RETURNN's search writes (Engine.search fetches the
    rec layer's beam_scores, tf/engine.py:2485). For an ended hypothesis of length L in a loop of N frames it is
    sum / (L + 1) * N / (max_length + 1), which is sum / (L + 1) when the last hypothesis ended in the loop
    (N = max_length + 1), and not when the loop was cut at max_seq_len (N = max_seq_len = max_length).
    """
    decoder = Decoder(net, params, encode(net, params, x))
    end, max_len = decoder.end, len(decoder.enc["encoder"])
    states = [decoder.initial()]
    labels: list[tuple[int, ...]] = [()]
    ended, scores, sums = [False], np.zeros(1), np.zeros(1)
    for t in range(max_len):
        steps = [decoder.step(s) for s in states]
        lp = np.stack([s[0] for s in steps])  # [beam_in, V]
        V = lp.shape[1]
        if t > 0:
            scores = np.where(ended, scores * ((t + 1) / t), scores)
        filtered = np.where(np.asarray(ended)[:, None], np.where(np.arange(V) == end, 0.0, FILTERED), lp)
        flat = (scores[:, None] + filtered).reshape(-1)
        order = np.argsort(-flat, kind="stable")[:beam_size]
        pad = beam_size - len(order)
        new_scores = np.concatenate([flat[order], np.full(pad, -np.inf)])
        order = np.concatenate([order, np.zeros(pad, int)])
        src, label = order // V, order % V
        new_ended = [bool(ended[b] or lab == end) for b, lab in zip(src, label)]
        labels = [labels[b] + (() if e else (int(lab),)) for b, lab, e in zip(src, label, new_ended)]
        sums = np.array([sums[b] + (0.0 if ended[b] else lp[b, lab]) for b, lab in zip(src, label)])
        sums[len(sums) - pad:] = -np.inf  # top_k's padding: no hypothesis
        states = [decoder.feed(steps[b][1], int(lab)) for b, lab in zip(src, label)]
        ended, scores = new_ended, new_scores
        if all(ended):
            break
    final = scores / (max(len(h) for h in labels) + 1)
    return [Hypothesis(h, float(s), float(lps), e) for h, s, lps, e in zip(labels, final, sums, ended)]

