"""`Model`: a compiled netc model served on onnxruntime, batched by frames, safe to share between threads."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort
from netc.ir import NetcError, Where

from .batching import DEFAULT_BATCH_FRAMES, buckets, pad
from .checks import (
    LIST_POSITIONS,
    SeqNames,
    as_features,
    check_labels,
    check_lengths,
    check_sequences,
    check_targets,
    nonempty,
)
from .info import DATA, DATA_LENGTHS, OUTPUT, OUTPUT_LENGTHS, TARGET_LENGTHS, read_info
from .session import CUDA, open_session

if TYPE_CHECKING:
    from .search import Decoder, Hypothesis
    from .stream import Stream


class Model:
    """A compiled model: `model(list_of_(T, F)_arrays) -> list_of_(T, C)_arrays`; a model compiled for class
    indices (sparse `data`, e.g. a language model) takes `(T,)` integer arrays instead, and `run` `[B, T]`.

    `device`: auto, cpu or cuda (cuda without CUDA falls back to the CPU with a warning). `threads`:
    onnxruntime's intra-op threads. `share`: threads sleep instead of spinning, for processes that also
    run torch. `batch_frames`: the padded frames (max_len x count) per onnxruntime call.
    """

    def __init__(self, path: str | Path, device: str = "auto", threads: int | None = None, share: bool = False,
                 batch_frames: int = DEFAULT_BATCH_FRAMES):
        self.decoder: Decoder | None = None
        if Path(path).is_dir():  # an encoder-decoder: encoder.onnx, decoder_step.onnx, decoder.json (search.py)
            from .search import Decoder

            self.decoder = Decoder(path, device, threads, share, batch_frames)
            self.info, self.device, self.batch_frames = self.decoder.info, self.decoder.device, batch_frames
            self.num_outputs = self.decoder.num_labels
            return
        self.session = open_session(path, device, threads, share)
        self.info = read_info(self.session, str(path))
        self.device = "cuda" if CUDA in self.session.get_providers() else "cpu"
        self.batch_frames = batch_frames
        self.num_outputs = self.info.num_outputs or 0  # the C of a (0, C) output
        outputs = {a.name for a in self.session.get_outputs()}
        self.output_names = [OUTPUT] + [OUTPUT_LENGTHS] * (OUTPUT_LENGTHS in outputs)
        self.output_names += [s.output for s in self.info.states]

    def __call__(self, seqs: Sequence[np.ndarray], target_lengths: Sequence[int] | None = None,
                 names: SeqNames = LIST_POSITIONS, targets: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
        """Per-sequence outputs `(T'_i, C)` in input order; sequences of similar length are batched together.

        A sequence without output frames (0 input frames; for an encoder–decoder, target length 0) gets a
        `(0, C)` output without any onnxruntime call. `names` says how errors name a sequence (netc run: file
        index, tag and file). A compiled encoder-decoder folder takes `targets` (one `(S_i,)` label array per
        sequence) and returns the teacher-forced log-probs `(S_i, V)` (search.py `Decoder.score`).
        """
        if self.decoder is not None:
            if targets is None:
                raise NetcError("this encoder-decoder scores given targets, or searches",
                                hint="pass targets=[label arrays], or call model.search(seqs)")
            return self.decoder.score(seqs, targets, names)
        if targets is not None:
            raise NetcError("targets given, but the model is not a compiled encoder-decoder folder",
                            hint="targets are for models compiled from a rec unit with a choice; drop them")
        arrays = check_sequences(seqs, self.info, names)
        targets = check_targets(target_lengths, len(arrays), self.info)
        lens = np.array([len(a) for a in arrays], np.int64)
        results = [np.zeros((0, self.num_outputs), np.float32) for _ in arrays]
        todo = nonempty(lens, targets)
        for bucket in buckets(lens[todo], self.batch_frames):
            batch = todo[bucket]
            data, batch_lens = pad([arrays[i] for i in batch])
            out, out_lens = self.run_checked(data, batch_lens, None if targets is None else targets[batch])
            for b, i in enumerate(batch):
                results[i] = out[b, : out_lens[b]].copy()
        return results

    def search(self, seqs: Sequence[np.ndarray], beam_size: int | None = None, names: SeqNames = LIST_POSITIONS
               ) -> list[list[Hypothesis]]:
        """Beam search of a compiled encoder-decoder: per sequence (each searched alone, RETURNN's `choice`) its
        final beam best first, `(labels, score)` pairs (search.py `Hypothesis`: also `log_prob_sum`, `ended`).
        `beam_size` defaults to the config's. NetcError for a model that is not an encoder-decoder folder."""
        if self.decoder is None:
            raise NetcError("search needs an encoder-decoder compiled from a rec unit with a choice (a folder)",
                            Where(self.info.path), "compile such a config with netc compile -o FOLDER")
        return self.decoder.search(seqs, beam_size, names)

    def ctc_greedy(self, seqs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """A CTC model's best-path labels per sequence (int32 arrays; repeats merged, blanks dropped).

        Raises NetcError for a model not compiled from a CTC output layer (runtime/ctc.py).
        """
        from .ctc import ctc_blank, greedy_labels

        blank = ctc_blank(self.info)
        return [greedy_labels(out, blank) for out in self(seqs)]

    def run(self, data: np.ndarray, lens: np.ndarray, target_lengths: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
        """One padded batch `[B, T, F]` with lengths `[B]` -> `output` `[B, T', C]` and `output:size1` `[B]`.

        Lengths may be 0: rows without output frames are kept out of the onnxruntime call and come back as
        zeros, length 0.
        """
        if self.decoder is not None:
            raise NetcError("an encoder-decoder folder runs per sequence: model(seqs, targets=...) or model.search",
                            Where(self.info.path))
        data = as_features(data, "data", 3, self.info)  # a sparse-input model: int32 [B, T]
        lens = check_lengths(lens, "lens", data.shape[0], data.shape[1])
        check_labels(data, lens, self.info, lambda b: f"data[{b}]")
        targets = check_targets(target_lengths, data.shape[0], self.info)
        todo = nonempty(lens, targets)
        if len(todo) == len(lens):
            return self.run_checked(data, lens, targets)
        out_time = data.shape[1] if targets is None else int(targets.max(initial=0))
        out = np.zeros((len(lens), out_time, self.num_outputs), np.float32)
        out_lens = np.zeros(len(lens), np.int32)
        if len(todo):
            part, part_lens = self.run_checked(data[todo], lens[todo], None if targets is None else targets[todo])
            out[todo, : part.shape[1]], out_lens[todo] = part, part_lens
        return out, out_lens

    def run_checked(self, data: np.ndarray, lens: np.ndarray, targets: np.ndarray | None
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Run validated inputs (zero states for a streaming model)."""
        states = {s.input: np.zeros((len(lens), s.size), np.float32) for s in self.info.states}
        outputs = self.execute(self.feeds(data, lens, targets, states))
        out_lens = outputs.get(OUTPUT_LENGTHS, lens if targets is None else targets)
        return outputs[OUTPUT], np.asarray(out_lens, np.int32)

    def feeds(self, data: np.ndarray, lens: np.ndarray, targets: np.ndarray | None,
              states: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The graph inputs by name."""
        feeds = {DATA: data, DATA_LENGTHS: lens, **states}
        if targets is not None:
            feeds[TARGET_LENGTHS] = targets
        return feeds

    def execute(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One onnxruntime call; on CUDA through IO binding. Safe from many threads at once."""
        if self.device == "cuda":
            return self.execute_bound(feeds)
        return dict(zip(self.output_names, self.session.run(self.output_names, feeds)))

    def execute_bound(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """CUDA: features go to the GPU once; lengths stay in host memory, where the LSTM kernel reads them."""
        binding = self.session.io_binding()
        for name, value in feeds.items():
            if value.dtype == np.int32:
                binding.bind_cpu_input(name, value)
            else:
                binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(value, "cuda", 0))
        for name in self.output_names:
            binding.bind_output(name, "cpu")
        self.session.run_with_iobinding(binding)
        return dict(zip(self.output_names, binding.copy_outputs_to_cpu()))

    def stream(self) -> Stream:
        """A stateful stream over one sequence (models compiled with --streaming)."""
        from .stream import Stream

        return Stream(self)

