"""Random valid networks: ORT of the compiled model equals the trainer's torch forward (atol 1e-5).

CI runs 200 networks; the longer run is `NETC_RANDOM_NETS=500 python -m pytest tests/hardening/test_random_networks.py`.
Hand-picked edge cases (and any shrunk failure found later) are kept below as `@example`s.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from netc.compiler import compile_graph
from netc.compiler.onnx import CompileOptions
from netc.ir import Act, Document, graph_from_document, param_specs
from netc.trainer.model import NetModel

from tests.helpers import ragged_batch, session

NUM_INPUTS, NUM_OUTPUTS = 3, 5
ACTS = [a.value for a in Act if a not in (Act.EXP, Act.SQUARE)]  # unbounded ones overflow in deep random nets


@st.composite
def networks(draw: st.DrawFn) -> dict:
    """A net dict of 1-5 stages over `data`, optionally an encoder-decoder, ending in `output`."""
    net: dict = {}
    data_time = ["data"]

    def add(name: str, layer: dict, pool: list[str]) -> None:
        net[name] = layer
        pool.append(name)

    def sources(pool: list[str]) -> list[str]:
        return draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))

    def stage(i: int, pool: list[str]) -> None:
        kind = draw(st.sampled_from(["blstm", "lstm", "linear", "activation", "copy"]))
        src = sources(pool)
        if kind == "blstm":
            n = draw(st.integers(1, 6))
            add(f"fw{i}", {"class": "rec", "n_out": n, "from": src}, pool)
            add(f"bw{i}", {"class": "rec", "n_out": n, "direction": -1, "from": src}, pool)
        elif kind == "lstm":
            add(f"l{i}", {"class": "rec", "n_out": draw(st.integers(1, 6)), "from": src,
                          "direction": draw(st.sampled_from([1, -1]))}, pool)
        elif kind == "linear":
            add(f"h{i}", {"class": "linear", "n_out": draw(st.integers(1, 6)), "from": src,
                          "activation": draw(st.sampled_from(ACTS)), "with_bias": draw(st.booleans())}, pool)
        else:
            layer = {"class": kind, "from": src, "dropout": 0.5}
            if kind == "activation":
                layer["activation"] = draw(st.sampled_from(ACTS))
            add(f"{kind[0]}{i}", layer, pool)

    for i in range(draw(st.integers(1, 4))):
        stage(i, data_time)
    pool = data_time
    recs = [n for n in data_time if n != "data" and net[n]["class"] == "rec"]
    if recs and draw(st.booleans()):
        pool = []
        for k in range(draw(st.integers(1, 2))):
            add(f"dec{k}", {"class": "rec", "from": None, "direction": draw(st.sampled_from([1, -1])),
                            "encoder": draw(st.lists(st.sampled_from(recs), min_size=1, max_size=2, unique=True))},
                pool)
        for i in range(draw(st.integers(0, 2))):
            stage(10 + i, pool)
    net["output"] = {"class": draw(st.sampled_from(["softmax", "linear"])), "from": sources(pool),
                     "with_bias": draw(st.booleans())}
    if net["output"]["class"] == "linear":
        net["output"]["n_out"] = NUM_OUTPUTS
    return net


def random_params(graph, rng: np.random.Generator) -> dict[str, np.ndarray]:  # noqa: ANN001
    return {s.name: rng.uniform(-0.6, 0.6, s.shape).astype(np.float32) for s in param_specs(graph)}


@settings(max_examples=int(os.environ.get("NETC_RANDOM_NETS", "200")), deadline=None, database=None,
          derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(net=networks(), lengths=st.lists(st.integers(1, 7), min_size=1, max_size=4),
       target_lengths=st.lists(st.integers(1, 6), min_size=4, max_size=4))
@example(net={"l0": {"class": "rec", "n_out": 2, "from": ["data"], "direction": -1},
              "dec0": {"class": "rec", "from": None, "encoder": ["l0"], "direction": -1},
              "output": {"class": "softmax", "from": ["dec0", "dec0"], "with_bias": False}},
         lengths=[1, 7], target_lengths=[6, 1, 1, 1])
def test_random_network_onnx_equals_torch(net: dict, lengths: list[int], target_lengths: list[int]) -> None:
    graph = graph_from_document(Document("random.json", net), NUM_INPUTS, NUM_OUTPUTS)
    rng = np.random.default_rng(len(lengths))
    params = random_params(graph, rng)
    x, lens = ragged_batch(rng, lengths, NUM_INPUTS)
    feeds = {"data": x, "data:size1": lens}
    out_lens = lens
    if graph.is_encoder_decoder:
        out_lens = feeds["classes:size1"] = np.asarray(target_lengths[: len(lengths)], np.int32)
    expected, got_lens = session(compile_graph(graph, params, options=CompileOptions(output_kind="probs"))).run(
        None, feeds)
    with torch.no_grad():
        ctx = NetModel(graph, params).eval()(torch.from_numpy(x), torch.from_numpy(lens).long(),
                                             torch.from_numpy(out_lens).long() if graph.is_encoder_decoder else None)
    got = ctx.padded("output").numpy()
    np.testing.assert_array_equal(got_lens, out_lens)
    for b, n in enumerate(out_lens):
        np.testing.assert_allclose(got[b, :n], expected[b, :n], atol=1e-5, rtol=0, err_msg=str(net))
