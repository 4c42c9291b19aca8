"""Beam search and teacher-forced scoring over a compiled encoder-decoder (a folder written by `netc compile`:
encoder.onnx, decoder_step.onnx, decoder.json; docs/onnx-contract.md, "Encoder-decoders with search").

The search follows RETURNN TF's `choice` in a rec unit (returnn/tf/layers/rec.py ChoiceLayer.__init__ with
search, returnn/tf/util/basic.py beam_search and filter_ended_scores, _SubnetworkRecCell's loop), in float32 as
RETURNN computes it:

- step t: combined scores = log-probs * prob_scale + beam scores * base_beam_score_scale, where an ended
  hypothesis' log-probs are 0 for label 0 and -1e30 for every other label (filter_ended_scores), and with
  length_normalization its beam score is first multiplied by ((t+1)/t)^exponent (so a finished hypothesis keeps
  its score per label as the others grow);
- the `beam_size` best of hypotheses x labels (tf.nn.top_k: ties to the lower index hypothesis*V+label); at step
  0 the beam has one hypothesis, and fewer candidates than beam_size are filled with label 0 at -inf;
- a hypothesis ends when it chooses the end label (the unit's `end`), and stays ended; its length counts the
  labels before the end label; the loop stops when all hypotheses ended or after max_seq_len steps (a number, or
  RETURNN's max_len_from('base:x') * k: the longest time of x, for one sequence its length);
- each sequence is searched alone (a batch of one in RETURNN); several sequences share onnxruntime calls, which
  changes none of their numbers' dependencies.

Per sequence the result is RETURNN's final beam, best first: `Hypothesis(labels, score)` with the beam score
RETURNN writes (with length_normalization: the beam score above divided by the longest hypothesis' length + 1,
ChoiceLayer.post_process_final_rec_vars_outputs) and `log_prob_sum`, the plain sum of the chosen labels' log-probs
(with the end label's where the hypothesis ended).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from netc.ir import NetcError, Where

from .batching import DEFAULT_BATCH_FRAMES, DEFAULT_STEP_COST, buckets, pad
from .checks import LIST_POSITIONS, SeqNames, check_sequences
from .info import DATA, DATA_LENGTHS, ModelInfo
from .session import CUDA, open_session

SPEC_FILE, SPEC_FORMAT = "decoder.json", "netc-decoder-1"
SPEC_KEYS = {"encoder", "decoder_step", "num_inputs", "sparse_input", "num_labels", "end_label", "initial_label",
             "beam_size", "length_normalization", "length_normalization_exponent", "prob_scale",
             "base_beam_score_scale", "max_seq_len", "states", "time_axes", "lengths"}
LABEL, FIRST, LOG_PROBS = "prev:output", "first", "log_probs"
ENDED_SCORE = np.float32(-1.0e30)  # filter_ended_scores' score_rem
# What one decoder step costs beyond its rows, in sequences (batching.buckets' step_cost): each step reads every
# decoder weight once, whatever the rows, so sequences searched in lockstep share it.
SEARCH_STEP_COST = 8.0


class Hypothesis(tuple):
    """`(labels, score)` (unpacks as a pair) with `log_prob_sum` beside it.

    `labels`: int32 array without the end label; `score`: RETURNN's beam score; `log_prob_sum`: the sum of the
    chosen labels' log-probs, the end label's included for an ended hypothesis; `ended`: it chose the end label
    before max_seq_len."""

    labels: np.ndarray
    score: float
    log_prob_sum: float
    ended: bool

    def __new__(cls, labels: np.ndarray, score: float, log_prob_sum: float, ended: bool) -> Hypothesis:
        self = super().__new__(cls, (labels, score))
        self.labels, self.score, self.log_prob_sum, self.ended = labels, score, log_prob_sum, ended
        return self


def read_spec(path: Path) -> dict[str, Any]:
    """decoder.json of a compiled encoder-decoder folder; a located NetcError when missing or foreign."""
    file = path / SPEC_FILE
    try:
        spec = json.loads(file.read_text())
    except FileNotFoundError:
        raise NetcError(f"a model folder holds {SPEC_FILE}, encoder.onnx and decoder_step.onnx; {SPEC_FILE} is "
                        "missing", Where(str(path)), "give a model file, or a folder written by netc compile") from None
    except (OSError, ValueError) as e:
        raise NetcError(f"unreadable {SPEC_FILE}: {e}", Where(str(file)), "recompile with netc compile") from None
    missing = sorted(SPEC_KEYS - set(spec)) if isinstance(spec, dict) else []
    if not isinstance(spec, dict) or spec.get("format") != SPEC_FORMAT or missing:
        raise NetcError(f"not a netc decoder spec (format {SPEC_FORMAT!r})" + (f": no {missing}" if missing else ""),
                        Where(str(file)), "recompile with netc compile")
    return spec


@dataclass
class Rows:
    """The step model's batch: per row (hypothesis) the state and encoder values it reads, by input name."""

    feeds: dict[str, np.ndarray]

    def keep(self, seqs: np.ndarray, width: int) -> Rows:
        """The rows of the sequences where `seqs` (bool, per sequence) is true, `width` rows each (axis 0 of any
        shape). Where they are the first sequences, views (no copy of the encoder values)."""
        count = int(seqs.sum())
        if seqs[:count].all():
            return Rows({k: v[:count * width] for k, v in self.feeds.items()})
        rows = np.flatnonzero(np.repeat(seqs, width))
        return Rows({k: v.take(rows, axis=0) for k, v in self.feeds.items()})


class Decoder:
    """The encoder and decoder-step sessions of a compiled encoder-decoder folder, and search over them."""

    def __init__(self, path: str | Path, device: str = "auto", threads: int | None = None, share: bool = False,
                 batch_frames: int = DEFAULT_BATCH_FRAMES):
        self.path = Path(path)
        self.spec = read_spec(self.path)
        # Both sessions' threads sleep between operators, `share` or not: one step is ~30 ms of small operators
        # with numpy work between steps, and spinning threads only burn the cores a loaded machine lacks
        # (exp3 at LibriSpeech size, 2 threads at load average ~10 on 2 cores: per step 46 -> 31 ms CPU and 137 ->
        # 104 ms wall; the encoder of 4 sequences 1.70 -> 1.10 s CPU, 4.2 -> 2.6-3.7 s wall).
        self.encoder = open_session(self.path / self.spec["encoder"], device, threads, share=True)
        self.step = open_session(self.path / self.spec["decoder_step"], device, threads, share=True)
        self.device = "cuda" if CUDA in self.step.get_providers() else "cpu"
        self.batch_frames = batch_frames
        self.enc_outputs = [o.name for o in self.encoder.get_outputs()]
        self.step_inputs = [i.name for i in self.step.get_inputs()]
        self.step_outputs = [o.name for o in self.step.get_outputs()]
        self.states = [(s["input"], s["output"]) for s in self.spec["states"]]
        self.time_axes: dict[str, int | None] = self.spec["time_axes"]
        self.num_labels = int(self.spec["num_labels"])
        self.info = ModelInfo(str(path), int(self.spec["num_inputs"]), self.num_labels, False, (),
                              {"netc.version": self.spec.get("netc.version", "")}, bool(self.spec["sparse_input"]))
        missing = [n for n in self.step_inputs if n not in (LABEL, FIRST) and n not in self.enc_outputs]
        if missing:
            raise NetcError(f"the decoder step reads {missing}, which the encoder does not give", Where(str(path)),
                            "recompile the folder with netc compile")

    # --- the encoder ------------------------------------------------------------------------------------------

    def encode(self, arrays: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        """Per sequence its encoder outputs `[1, ...]`, cut to its own length on their time axes."""
        results: list[dict[str, np.ndarray]] = [{} for _ in arrays]
        lens = [len(a) for a in arrays]
        for batch in buckets(lens, self.batch_frames):
            data, batch_lens = pad([arrays[i] for i in batch])
            values = dict(zip(self.enc_outputs, self.encoder.run(self.enc_outputs, {DATA: data,
                                                                                   DATA_LENGTHS: batch_lens})))
            for b, i in enumerate(batch):
                for name, value in values.items():
                    if name.endswith(":size1"):
                        results[i][name] = value[b:b + 1]
                        continue
                    axis = self.time_axes.get(name)
                    row = value[b:b + 1]
                    if axis is not None:
                        steps = int(values[self.spec["lengths"][name]][b])
                        row = np.take(row, np.arange(steps), axis=axis)
                    results[i][name] = np.ascontiguousarray(row)
        return results

    def max_steps(self, encoded: dict[str, np.ndarray]) -> int:
        """RETURNN's max_seq_len for one sequence: a number of steps, or k times the length of an encoder layer."""
        rule = self.spec["max_seq_len"]
        if rule["steps"] is not None:
            return int(rule["steps"])
        return int(int(encoded[f"base:{rule['layer']}:size1"][0]) * rule["factor"])

    def groups(self, encoded: list[dict[str, np.ndarray]], lengths: list[int], max_frames: int,
               step_cost: float = DEFAULT_STEP_COST) -> list[list[int]]:
        """runtime/batching.py `buckets` of the sequences (`lengths`: steps of each), except that a sequence with
        an encoder time axis of 0 frames is a group of its own: padded to its batch-mates' time, all its frames
        would be masked and the step's attention softmax NaN; alone it attends over nothing (context 0), as
        RETURNN's loop does on 0 encoder frames (a constant max_seq_len still runs its steps)."""
        empty = [i for i, e in enumerate(encoded)
                 if any(e[name].shape[axis] == 0 for name, axis in self.time_axes.items()
                        if axis is not None and name in e)]
        others = sorted(set(range(len(encoded))) - set(empty))
        grouped = buckets([lengths[i] for i in others], max_frames, step_cost=step_cost)
        return [[others[g] for g in group] for group in grouped] + [[i] for i in empty]

    # --- one step over many rows ------------------------------------------------------------------------------

    def rows_of(self, encoded: list[dict[str, np.ndarray]], seqs: np.ndarray) -> Rows:
        """Encoder values and initial states of one row per sequence in `seqs`, padded to a common time."""
        feeds: dict[str, np.ndarray] = {}
        for name in self.step_inputs:
            if name in (LABEL, FIRST):
                continue
            parts = [encoded[s][name] for s in seqs]
            axis = self.time_axes.get(name)
            if axis is not None:
                longest = max(p.shape[axis] for p in parts)
                parts = [np.pad(p, [(0, longest - p.shape[axis]) if k == axis else (0, 0) for k in range(p.ndim)])
                         for p in parts]
            feeds[name] = np.concatenate(parts)
        return Rows(feeds)

    def run_step(self, rows: Rows, labels: np.ndarray, first: bool) -> dict[str, np.ndarray]:
        feeds = dict(rows.feeds)
        feeds[LABEL] = labels.astype(np.int32)
        feeds[FIRST] = np.full(len(labels), first)
        return dict(zip(self.step_outputs, self.step.run(self.step_outputs, feeds)))

    def advance(self, rows: Rows, out: dict[str, np.ndarray], src: np.ndarray) -> None:
        """The state after this step, of the rows' source hypotheses (`src`: row indices), as the next input."""
        for name_in, name_out in self.states:
            rows.feeds[name_in] = out[name_out][src]

    # --- search -----------------------------------------------------------------------------------------------

    def search(self, seqs: Sequence[np.ndarray], beam_size: int | None = None, names: SeqNames = LIST_POSITIONS
               ) -> list[list[Hypothesis]]:
        """Beam search per sequence (each alone, RETURNN's `choice`; module docstring): per sequence its final beam
        best first. `beam_size` defaults to the choice's. Raises NetcError for bad sequences or beam sizes."""
        beam = self.spec["beam_size"] if beam_size is None else beam_size
        if isinstance(beam, bool) or not isinstance(beam, (int, np.integer)) or beam < 1:
            source = " (the decoder.json's beam_size)" if beam_size is None else ""
            raise NetcError(f"beam_size must be an integer >= 1, got {beam!r}{source}")
        arrays = check_sequences(seqs, self.info, names)
        encoded = self.encode(arrays) if arrays else []
        results: list[list[Hypothesis]] = [[] for _ in arrays]
        enc_lens = [max(1, self.max_steps(e)) for e in encoded]
        for group in self.groups(encoded, enc_lens, self.batch_frames * 4 // beam + 1, SEARCH_STEP_COST):
            for i, hyps in zip(group, self.search_group(encoded, np.array(group), beam)):
                results[i] = hyps
        return results

    def search_group(self, encoded: list[dict[str, np.ndarray]], seqs: np.ndarray, beam: int
                     ) -> list[list[Hypothesis]]:
        """Lockstep beam search of several sequences, each alone: rows are sequence-major, `width` hypotheses per
        sequence (1 at step 0, then `beam`); a sequence leaves the batch when its search stops."""
        spec, V = self.spec, self.num_labels
        end, norm = int(spec["end_label"]), bool(spec["length_normalization"])
        exponent, prob_scale = np.float32(spec["length_normalization_exponent"]), float(spec["prob_scale"])
        base_scale = float(spec["base_beam_score_scale"])
        results: list[list[Hypothesis]] = [[] for _ in seqs]
        index = np.arange(len(seqs))  # group position of each sequence still searched
        limits = np.array([self.max_steps(encoded[s]) for s in seqs])
        for i in np.flatnonzero(limits <= 0):  # no step at all: RETURNN's loop does not run
            results[i] = [Hypothesis(np.zeros(0, np.int32), 0.0, 0.0, False)]
        index, limits = index[limits > 0], limits[limits > 0]
        longest_first = np.argsort(-limits, kind="stable")  # those that stop first leave from the end: a slice
        index, limits = index[longest_first], limits[longest_first]
        n, width, t = len(index), 1, 0
        if not n:
            return results
        rows = self.rows_of(encoded, seqs[index])
        labels = np.full((n, 1), int(spec["initial_label"]), np.int32)
        scores = np.zeros((n, 1), np.float32)
        sums = np.zeros((n, 1), np.float64)
        ended = np.zeros((n, 1), bool)
        lengths = np.zeros((n, 1), np.int64)
        history = np.zeros((n, 1, 0), np.int32)
        while n:
            out = self.run_step(rows, labels.reshape(-1), first=t == 0)
            log_probs = out[LOG_PROBS].reshape(n, width, V)
            scores_in = np.where(ended[..., None], ENDED_SCORE, log_probs)  # filter_ended_scores
            scores_in[..., 0] = np.where(ended, np.float32(0), scores_in[..., 0])
            base = scores
            if norm and t > 0:
                factor = np.power(np.float32(t + 1) / np.float32(t), exponent, dtype=np.float32)
                base = np.where(ended, base * factor, base).astype(np.float32)
            if prob_scale != 1:
                scores_in = scores_in * np.float32(prob_scale)
            if base_scale != 1:
                base = base * np.float32(base_scale)
            flat = (scores_in + base[..., None]).reshape(n, width * V)
            k = min(beam, width * V)
            best = top_k(flat, k)
            new_scores = np.take_along_axis(flat, best, axis=1)
            if k < beam:  # beam_search's fill: label 0 of hypothesis 0 at -inf
                best = np.concatenate([best, np.zeros((n, beam - k), best.dtype)], axis=1)
                new_scores = np.concatenate([new_scores, np.full((n, beam - k), -np.inf, np.float32)], axis=1)
            src, labels = best // V, (best % V).astype(np.int32)
            prev_ended = np.take_along_axis(ended, src, axis=1)
            chosen = np.take_along_axis(log_probs.reshape(n, width * V), best, axis=1).astype(np.float64)
            sums = np.take_along_axis(sums, src, axis=1) + np.where(prev_ended, 0.0, chosen)
            ended = prev_ended | (labels == end)
            lengths = np.take_along_axis(lengths, src, axis=1) + ~ended
            history = np.concatenate([np.take_along_axis(history, src[..., None], axis=1), labels[..., None]], axis=2)
            scores = new_scores.astype(np.float32)
            flat_src = (src + np.arange(n)[:, None] * width).reshape(-1)
            if width == 1 and beam > 1:  # the padded encoder values of step 0, each row `beam` times
                rows = Rows({k: np.repeat(v, beam, axis=0) for k, v in rows.feeds.items()})
            self.advance(rows, out, flat_src)
            width, t = beam, t + 1
            done = (t >= limits) | ended.all(axis=1)
            for d in np.flatnonzero(done):
                final = scores[d]
                if norm:  # ChoiceLayer.post_process_final_rec_vars_outputs: / (longest hypothesis + 1)
                    final = final / np.float32(lengths[d].max() + 1)
                results[index[d]] = self.hypotheses(history[d], lengths[d], final, sums[d], ended[d])
            if done.any():
                keep = ~done
                rows = rows.keep(keep, width)
                index, limits, labels, scores, sums, ended, lengths, history = (
                    a[keep] for a in (index, limits, labels, scores, sums, ended, lengths, history))
                n = len(index)
        return results

    @staticmethod
    def hypotheses(history: np.ndarray, lengths: np.ndarray, scores: np.ndarray, sums: np.ndarray,
                   ended: np.ndarray) -> list[Hypothesis]:
        return [Hypothesis(history[k, :lengths[k]].copy(), float(scores[k]), float(sums[k]), bool(ended[k]))
                for k in range(len(scores))]

    # --- teacher forcing --------------------------------------------------------------------------------------

    def score(self, seqs: Sequence[np.ndarray], targets: Sequence[np.ndarray], names: SeqNames = LIST_POSITIONS
              ) -> list[np.ndarray]:
        """Teacher-forced log-probs `[S_i, V]` per sequence: at step t the decoder reads target label t-1 (the
        choice's initial_output at t = 0), as RETURNN's training computes the choice's source."""
        arrays = check_sequences(seqs, self.info, names)
        labels = check_target_labels(targets, len(arrays), self.num_labels, names)
        results = [np.zeros((0, self.num_labels), np.float32) for _ in arrays]
        todo = [i for i, y in enumerate(labels) if len(y)]
        encoded = self.encode([arrays[i] for i in todo]) if todo else []
        for group in self.groups(encoded, [len(labels[i]) for i in todo], self.batch_frames):
            seqs_ = np.array(group)
            rows = self.rows_of(encoded, seqs_)
            ys = [labels[todo[g]] for g in group]
            steps = max(len(y) for y in ys)
            previous = np.full(len(group), int(self.spec["initial_label"]), np.int32)
            out_all = np.zeros((len(group), steps, self.num_labels), np.float32)
            for t in range(steps):
                out = self.run_step(rows, previous, first=t == 0)
                out_all[:, t] = out[LOG_PROBS]
                self.advance(rows, out, np.arange(len(group)))
                previous = np.array([y[t] if t < len(y) else 0 for y in ys], np.int32)
            for b, g in enumerate(group):
                results[todo[g]] = out_all[b, :len(ys[b])].copy()
        return results


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Per row the indices of the `k` largest scores, best first, ties to the lower index (tf.nn.top_k with
    sorted=True): a partition, then a stable sort of the candidates at or above the k-th largest value."""
    if k >= scores.shape[1]:
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(scores, part, axis=1).min(axis=1)
    rows = []
    for row, threshold in zip(scores, kth):
        candidates = np.flatnonzero(row >= threshold)  # ascending indices: ties keep the lower index first
        rows.append(candidates[np.argsort(-row[candidates], kind="stable")[:k]])
    return np.stack(rows)


def check_target_labels(targets: Sequence[object], count: int, num_labels: int, names: SeqNames) -> list[np.ndarray]:
    """One int label sequence `(S,)` per input sequence, each label in 0..num_labels-1."""
    if isinstance(targets, np.ndarray) or len(targets) != count:
        raise NetcError(f"targets: expected a list of {count} label arrays (one per sequence)", names.where,
                        "pass targets=[np.array([...], np.int32), ...]")
    out = []
    for i, y in enumerate(targets):
        array = np.asarray(y)
        if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
            raise NetcError(f"targets of {names(i)}: expected a (S,) integer array, got shape {array.shape} dtype "
                            f"{array.dtype}", names.where)
        bad = np.flatnonzero((array < 0) | (array >= num_labels))
        if len(bad):
            raise NetcError(f"targets of {names(i)}, position {int(bad[0])}: label {int(array[bad[0]])} is out of "
                            f"range 0..{num_labels - 1}", names.where, f"the decoder has {num_labels} labels")
        out.append(array.astype(np.int32))
    return out


def run_hdf_search(model: Any, source: str | Path, target: str | Path,  # a runtime.Model
                   progress: Callable[[int], None] | None = None, beam_size: int | None = None) -> int:
    """`netc run --search`: every sequence of the HDF file `source` searched; `target` (written atomically) is a
    JSON object `{tag: [{"labels": [...], "score": s, "log_prob_sum": x, "ended": b}, ...]}`, each list
    RETURNN's final beam best first. Returns the number of sequences."""
    from netc.ir.files import atomic_output

    from .hdf import WINDOW_BATCHES, check_writable, open_checked, windows

    if Path(target).suffix.lower() != ".json":
        raise NetcError("--search writes its hypotheses as JSON; give the output a .json name",
                        Where(str(target)), f"-o {Path(target).with_suffix('.json')}")
    if model.decoder is None:
        raise NetcError("--search needs an encoder-decoder compiled from a rec unit with a choice (a folder)",
                        Where(model.info.path), "compile such a config with netc compile -o FOLDER")
    check_writable(Path(target))
    found: dict[str, list[dict[str, Any]]] = {}
    with open_checked(model, source) as reader:
        for start, end in windows(reader.input_lengths, model.batch_frames * WINDOW_BATCHES):
            read = reader.labels if model.info.sparse_input else (lambda i: reader[i].features)
            names = SeqNames(reader.path, reader.tags[start:end], start)
            hyps = model.search([read(i) for i in range(start, end)], beam_size, names)
            for i, beam in zip(range(start, end), hyps):
                found[reader.tags[i]] = [{"labels": h.labels.tolist(), "score": h.score,
                                          "log_prob_sum": h.log_prob_sum, "ended": h.ended} for h in beam]
            if progress is not None:
                progress(int(reader.input_lengths[start:end].sum()))
    with atomic_output(target, "output") as tmp:
        tmp.write_text(json.dumps(found, indent=1) + "\n")
    return len(found)
