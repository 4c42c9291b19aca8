"""Runtime under load: 8 threads call one Model with random ragged batches, a fixed number of calls each.

Every result equals the sequential result of the same sequences, and resident memory stops growing.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from netc.compiler import compile_graph, save_model
from netc.ir import Document, graph_from_document
from netc.runtime import Model

NET = {"fw": {"class": "rec", "n_out": 16}, "bw": {"class": "rec", "n_out": 16, "direction": -1},
       "output": {"class": "softmax", "from": ["fw", "bw"]}}
# NOTE: a fixed number of calls, not a time budget: on a loaded machine a thread may get few calls in a few
# seconds, and the test then failed on its own progress checks, not on the runtime.
THREADS, CALLS, POOL, HANG = 8, 40, 40, 600.0


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_eight_threads_match_sequential_results_and_memory_stays_flat(tmp_path: Path) -> None:
    graph = graph_from_document(Document("load.json", NET), 6, 11)
    save_model(compile_graph(graph, seed=3), tmp_path / "m.onnx")
    model = Model(tmp_path / "m.onnx", device="cpu", threads=1, batch_frames=200)
    rng = np.random.default_rng(0)
    pool = [rng.standard_normal((int(n), 6)).astype(np.float32) for n in rng.integers(1, 60, POOL)]
    expected = [model([seq])[0] for seq in pool]
    failures: list[str] = []
    calls = [0] * THREADS
    memory: list[int] = []

    def worker(k: int) -> None:
        local = np.random.default_rng(k)
        for _ in range(CALLS):
            if failures:
                return
            picks = local.choice(POOL, size=int(local.integers(1, 9)))
            for i, out in zip(picks, model([pool[i] for i in picks])):
                if not np.array_equal(out, expected[i]):
                    failures.append(f"thread {k}: sequence {i} differs")
            calls[k] += 1
            if k == 0 and calls[0] % 5 == 0:
                memory.append(resident_bytes())

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=HANG)
    assert not any(t.is_alive() for t in threads), "a call hung"
    assert not failures, failures[:3]
    assert calls == [CALLS] * THREADS, f"every thread made all its calls: {calls}"
    assert len(memory) == CALLS // 5
    half = len(memory) // 2
    assert max(memory[half:]) - max(memory[:half]) < 16 << 20, f"memory grows: {memory}"
