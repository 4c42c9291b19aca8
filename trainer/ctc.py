"""CTC for the trainer: feasibility of targets, best-path and TensorFlow's beam search decoding, edit distance.

RETURNN's `CtcLoss.get_error` decodes with `tf.nn.ctc_greedy_decoder` in training and with
`tf.nn.ctc_beam_search_decoder` (width `beam_width`) on dev/eval, then takes `tf.edit_distance` to the target
labels. Both decoders read the raw logits `[T, C]`; the blank is the last class. Numpy only.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NEG_INF = np.float32(-np.inf)


def required_frames(target: np.ndarray) -> int:
    """Frames a CTC alignment of `target` needs: one per label, plus a blank between repeated labels."""
    return len(target) + int(np.sum(target[1:] == target[:-1])) if len(target) else 0


def greedy_decode(logits: np.ndarray, blank: int) -> np.ndarray:
    """Best path `[T, C] -> labels`: argmax per frame (first maximum), repeats merged, blanks dropped.

    As `tf.nn.ctc_greedy_decoder` (merge_repeated=True) and RETURNN's `ctc_greedy_decode`.
    """
    return collapse(np.argmax(logits, axis=-1) if len(logits) else np.zeros(0, np.int64), blank)


def collapse(best: np.ndarray, blank: int) -> np.ndarray:
    """Frame labels -> CTC labels: repeats merged, then blanks dropped."""
    keep = (best != blank) & np.concatenate([[True], best[1:] != best[:-1]])
    return best[keep].astype(np.int32)


def edit_distance(hypothesis: Sequence[int], truth: Sequence[int]) -> int:
    """Levenshtein distance (insertions, deletions, substitutions cost 1), as `tf.edit_distance(normalize=False)`."""
    truth = np.asarray(truth)
    steps = np.arange(len(truth) + 1)
    row = steps
    for i, h in enumerate(hypothesis, 1):
        # Deletions and substitutions first; insertions along the row are a running minimum of row - j.
        best = np.concatenate([[i], np.minimum(row[1:] + 1, row[:-1] + (truth != h))])
        row = np.minimum.accumulate(best - steps) + steps
    return int(row[-1])


def log_sum_exp(a: np.float32, b: np.float32) -> np.float32:
    """TensorFlow's `ctc::LogSumExp` in float32 (log zero is -inf)."""
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    high, low = (a, b) if a > b else (b, a)
    return np.float32(high + np.log1p(np.exp(np.float32(low - high))))


@dataclass
class Prob:
    """Log-probabilities of a prefix: ending in blank, ending in its last label, and their sum."""

    blank: np.float32 = NEG_INF
    label: np.float32 = NEG_INF
    total: np.float32 = NEG_INF


def beam_search(logits: np.ndarray, beam_width: int) -> np.ndarray:
    """The best path of `tf.nn.ctc_beam_search_decoder` (TF 2: merge_repeated=False, top_paths=1) on `[T, C]`.

    A port of TensorFlow's `CTCBeamSearchDecoder::Step` (tensorflow/core/util/ctc/ctc_beam_search.h) with its
    default scorer: per frame the kept prefixes (at most `beam_width`) are updated, then extended in
    descending order of their previous probability by the frame's log-softmax; a prefix that falls out of the
    beam loses its probability. Matches TF 2.21 on tests/trainer/data/tf_ctc_decode.npz (widths 1, 2, 3, 100);
    exact ties may break differently.
    """
    leaves: dict[tuple[int, ...], Prob] = {(): Prob(np.float32(0.0), NEG_INF, np.float32(0.0))}
    for frame in np.asarray(logits, np.float32):
        leaves = beam_step(leaves, frame, beam_width)
    best = max(leaves.items(), key=lambda kv: kv[1].total)[0]
    return np.array(best, np.int32)


class Beam:
    """The kept prefixes with their probabilities, and a heap for the bottom (TF's `gtl::TopN` of leaves)."""

    def __init__(self, width: int):
        self.width, self.probs, self.order = width, {}, itertools.count()
        self.heap: list[tuple[np.float32, int, tuple[int, ...], Prob]] = []

    def __contains__(self, prefix: tuple[int, ...]) -> bool:
        return prefix in self.probs

    def push(self, prefix: tuple[int, ...], prob: Prob) -> None:
        """Add a prefix; when the beam is full the bottom drops out."""
        if len(self.probs) >= self.width:
            del self.probs[self.bottom()[0]]
        self.probs[prefix] = prob
        heapq.heappush(self.heap, (prob.total, next(self.order), prefix, prob))

    def bottom(self) -> tuple[tuple[int, ...], np.float32]:
        """The kept prefix of lowest probability and that probability (stale heap entries skipped)."""
        while self.probs.get(self.heap[0][2]) is not self.heap[0][3]:
            heapq.heappop(self.heap)
        return self.heap[0][2], self.heap[0][0]

    def is_candidate(self, total: np.float32) -> bool:
        """TF: a nonzero probability, and room in the beam or better than its bottom."""
        return bool(total > NEG_INF and (len(self.probs) < self.width or total > self.bottom()[1]))


def beam_step(leaves: dict[tuple[int, ...], Prob], frame: np.ndarray, width: int) -> dict[tuple[int, ...], Prob]:
    """One frame: update the kept prefixes, then grow children into the beam."""
    centered = frame - frame.max()  # float32, as TF: log-softmax by max and log-sum-exp
    shifted = (centered - np.log(np.exp(centered).sum())).astype(np.float32)
    blank = len(frame) - 1
    branches = sorted(leaves.items(), key=lambda kv: -kv[1].total)  # TopN::Extract: best first
    old = {prefix: Prob(p.blank, p.label, p.total) for prefix, p in branches}
    kept = Beam(width)
    for prefix, p in branches:
        new = Prob(label=p.label)
        if prefix:
            parent = prefix[:-1]
            if parent in old:  # the parent is still active
                parent_last = parent[-1] if parent else -1
                previous = old[parent].blank if prefix[-1] == parent_last else old[parent].total
                new.label = log_sum_exp(new.label, previous)
            new.label = np.float32(new.label + shifted[prefix[-1]])
        new.blank = np.float32(p.total + shifted[blank])
        new.total = log_sum_exp(new.blank, new.label)
        kept.push(prefix, new)
    children: dict[tuple[int, ...], list[int]] = {}
    for prefix in old:
        if prefix:
            children.setdefault(prefix[:-1], []).append(prefix[-1])
    for prefix, _ in branches:
        grow_children(kept, old, prefix, children.get(prefix, []), shifted[:blank])
    return kept.probs


def grow_children(kept: Beam, old: dict[tuple[int, ...], Prob], prefix: tuple[int, ...], known: list[int],
                  shifted: np.ndarray) -> None:
    """Offer, in label order, every one-label extension of `prefix` that is not in the beam.

    As TF's `gtl::TopN` with `is_candidate`: a child enters if the beam has room or it beats the bottom, which
    then drops out. A refused child that was a prefix of the last frame loses its old probability too
    (TF resets its `oldp`), so it grows no children of its own later in this frame.
    """
    p = old[prefix]
    if not kept.is_candidate(p.total):
        return
    last = prefix[-1] if prefix else -1
    scores = (shifted + np.where(np.arange(len(shifted)) == last, p.blank, p.total)).astype(np.float32)
    floor = kept.bottom()[1] if len(kept.probs) >= kept.width else NEG_INF
    hopeful = set(np.flatnonzero(scores > floor).tolist())  # the floor only rises: the rest is refused
    for label in sorted(hopeful | set(known)):
        child = prefix + (label,)
        if child in kept:
            continue
        if label in hopeful and kept.is_candidate(scores[label]):
            kept.push(child, Prob(NEG_INF, scores[label], scores[label]))
        elif child in old:
            old[child] = Prob()
