"""The encoder and decoder-step models of attention decoders (compiler/onnx/rec_loop.py) against RETURNN TF goldens
(tests/decoder_goldens.py), driven here by the documented I/O alone (docs/onnx-contract.md, "Encoder-decoders with
search"); the search over them is tests/runtime/test_search.py."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from netc.compiler import compile_graph, save_model
from netc.compiler.onnx import CompileOptions
from netc.compiler.onnx.lower import IR_VERSION
from netc.ir import NetcError

from tests.decoder_goldens import ATOL, GOLDENS, compiled, golden_id, graph_of, inputs_of, load, params_of, targets_of
from tests.helpers import ragged_batch, session

FILES = ("encoder.onnx", "decoder_step.onnx", "decoder.json")


@pytest.fixture(scope="module", params=GOLDENS, ids=golden_id)
def golden(request: pytest.FixtureRequest) -> dict:
    return load(request.param)


@pytest.fixture(scope="module")
def folder(golden: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compiled(golden, tmp_path_factory.mktemp("decoder") / "model")


def test_goldens_exist() -> None:
    assert GOLDENS, "no RETURNN goldens of attention decoders under tests/compiler/data/"


def test_models_pass_full_check_with_pinned_versions(folder: Path) -> None:
    for name in FILES[:2]:
        model = onnx.load(folder / name)
        onnx.checker.check_model(model, full_check=True)
        assert model.ir_version == IR_VERSION[17] and [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
        assert {p.key: p.value for p in model.metadata_props}["netc.decoder_part"] == name.split(".")[0]
        session(folder / name)  # strict shape and type inference


def test_compiles_byte_identical(golden: dict, tmp_path: Path) -> None:
    first, second = compiled(golden, tmp_path / "a"), compiled(golden, tmp_path / "b")
    for name in FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def encode(folder: Path, golden: dict) -> dict[str, np.ndarray]:
    """The golden's sequences in one ragged batch with garbage padding (length 1 among them) through the encoder."""
    xs = inputs_of(golden)
    x, lens = ragged_batch(np.random.default_rng(3), [len(s) + 2 * (b % 2) for b, s in enumerate(xs)], x_dim(golden))
    lens[:] = [len(s) for s in xs]
    for b, s in enumerate(xs):
        x[b, :len(s)] = s
    encoder = session(folder / "encoder.onnx")
    return dict(zip([o.name for o in encoder.get_outputs()], encoder.run(None, {"data": x, "data:size1": lens})))


def x_dim(golden: dict) -> int:
    return golden["extern_data"]["data"]["dim"]


def test_encoder_pads_with_zeros(folder: Path, golden: dict) -> None:
    spec = json.loads((folder / "decoder.json").read_text())
    out = encode(folder, golden)
    for name, axis in spec["time_axes"].items():
        if axis is None or not name.startswith("base:"):
            continue
        value, lens = out[name], out[name + ":size1"]
        assert lens.min() >= 1 and value.shape[axis] >= lens.max(), name
        for b, n in enumerate(lens):
            assert not np.take(value[b], np.arange(n, value.shape[axis]), axis=axis - 1).any(), name


def test_step_model_teacher_forced_matches_returnn(folder: Path, golden: dict) -> None:
    """All sequences batched, garbage (finite) in the padded encoder frames: at step t the label input is target
    t-1 (0 and `first` at t = 0), the state inputs the previous step's state outputs."""
    spec = json.loads((folder / "decoder.json").read_text())
    step = session(folder / "decoder_step.onnx")
    feeds = {n: v for n, v in encode(folder, golden).items() if n in spec["step_inputs"]}
    for name, axis in spec["time_axes"].items():
        if axis is not None and name in feeds and name.startswith("base:"):
            lens = next(v for n, v in feeds.items() if n.endswith(":size1"))
            for b, n in enumerate(lens):  # garbage past each length
                index = [b] + [slice(None)] * (axis - 1) + [slice(int(n), None)]
                feeds[name][tuple(index)] = 1e4
    ys = targets_of(golden)
    outputs = [o.name for o in step.get_outputs()]
    previous = np.zeros(len(ys), np.int32)
    got = []
    for t in range(max(len(y) for y in ys)):
        out = dict(zip(outputs, step.run(None, feeds | {"prev:output": previous, "first": np.full(len(ys), t == 0)})))
        got.append(out["log_probs"])
        feeds |= {s["input"]: out[s["output"]] for s in spec["states"]}
        previous = np.array([y[t] if t < len(y) else 0 for y in ys], np.int32)
    for b, (y, expected) in enumerate(zip(ys, golden["forward"])):
        np.testing.assert_allclose(np.stack(got)[:len(y), b], np.asarray(expected["log_probs"], np.float32),
                                   atol=ATOL, rtol=0, err_msg=f"sequence {b}")


def unit_of(golden: dict) -> tuple[dict, dict]:
    net = copy.deepcopy(golden["net"])
    return net, net["output"]["unit"]


def error_of(golden: dict, net: dict, **options: object) -> NetcError:
    with pytest.raises(NetcError) as caught:
        compile_graph(graph_of(golden | {"net": net}, "bad.json"), None, options=CompileOptions(**options))
    return caught.value


@pytest.mark.parametrize("change, layer, words", [
    (lambda u: u.pop("end"), "output/output", "needs an 'end' layer"),
    (lambda u: u["end"].update(kind="less"), "output/end", "the choice of one end label"),
    (lambda u: u["end"].update(value=9), "output/end", "not one of the 7 labels"),
    (lambda u: u["s"].update(**{"from": ["prev:embed_s", "prev:att"]}) or u.update(
        embed_s={"class": "combine", "kind": "add", "from": ["target_embed", "prev:target_embed"]}),
     "output/embed_s", "reads this step's choice and 'prev:target_embed'"),
    (lambda u: u["accum_att_weights"].update(initial_output="apply(0)"), "output/accum_att_weights", "apply(0)"),
    (lambda u: u.update(p={"class": "pool", "mode": "max", "padding": "same", "pool_size": [2], "from": "base:enc_ctx"},
                        p_max={"class": "reduce", "mode": "max", "axes": "T", "from": "prev:p"})
     or u["readout_in"]["from"].append("p_max"), "output/p", "a time axis the unit makes itself"),
])
def test_units_netc_cannot_step_are_located_errors(change, layer: str, words: str) -> None:  # noqa: ANN001
    golden = load(GOLDENS[0])
    net, unit = unit_of(golden)
    change(unit)
    error = error_of(golden, net)
    assert f"layer '{layer}'" in str(error) and words in str(error) and "bad.json" in str(error), str(error)


def test_a_decoder_without_max_seq_len_is_a_located_error() -> None:
    golden = load(GOLDENS[0])
    net, _ = unit_of(golden)
    del net["output"]["max_seq_len"]
    error = error_of(golden, net)
    assert "layer 'output'" in str(error) and "needs max_seq_len" in str(error)


def test_single_model_options_are_refused_for_a_decoder() -> None:
    golden = load(GOLDENS[0])
    error = error_of(golden, golden["net"], streaming=True)
    assert "--streaming" in str(error) and error.hint


def test_the_folder_replaces_only_a_decoder_folder(tmp_path: Path) -> None:
    golden = load(GOLDENS[0])
    model = compile_graph(graph_of(golden), params_of(golden))
    (tmp_path / "file").write_text("keep")
    with pytest.raises(NetcError, match="is a file or a folder with other files"):
        save_model(model, tmp_path / "file")
    assert (tmp_path / "file").read_text() == "keep"
    save_model(model, tmp_path / "model")
    save_model(model, tmp_path / "model")  # an existing decoder folder is replaced
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == sorted(FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "model"]  # no temporary folder left


def test_get_last_hidden_state_h_is_the_cell_output(tmp_path: Path) -> None:
    """RETURNN 1.2026 cannot build get_last_hidden_state of an LSTMCell in the loop (no golden): its `h` must give
    exactly the rnn_cell's output, and `c`/`*` the other parts."""
    golden = load(GOLDENS[0])
    net, unit = unit_of(golden)
    unit["s_h"] = {"class": "get_last_hidden_state", "from": "s", "key": "h", "n_out": unit["s"]["n_out"]}
    unit["readout_in"]["from"] = ["s_h", *unit["readout_in"]["from"][1:]]
    folder = compiled(golden | {"net": net}, tmp_path / "h")
    step = session(folder / "decoder_step.onnx")
    spec = json.loads((folder / "decoder.json").read_text())
    feeds = {n: v[:1] for n, v in encode(folder, golden).items() if n in spec["step_inputs"]}
    feeds |= {"prev:output": np.zeros(1, np.int32), "first": np.ones(1, bool)}
    for name in ("s:h0", "s:c0"):
        feeds[name] = np.random.default_rng(0).standard_normal(feeds[name].shape).astype(np.float32)
    reference = session(compiled(golden, tmp_path / "plain") / "decoder_step.onnx").run(["log_probs"], feeds)[0]
    np.testing.assert_array_equal(step.run(["log_probs"], feeds)[0], reference)


def test_a_decoder_that_is_not_the_output_is_a_located_error() -> None:
    """A net whose output is its CTC softmax, with the decoder loop beside it: no single model holds the loop."""
    golden = next(load(p) for p in GOLDENS if "ctc" in load(p)["net"])
    net = copy.deepcopy(golden["net"])
    net["dec"] = net.pop("output")
    net["decision"]["from"] = ["dec"]
    net["output"] = net.pop("ctc")
    error = error_of(golden, net)
    assert "layer 'dec'" in str(error) and "compiled only as the network's output" in str(error), str(error)


def test_label_embedding_is_folded_into_its_readers(folder: Path, golden: dict) -> None:
    """target_embed (a linear of the choice, no bias) reaches the LSTM and readout_in as rows of E W gathered by
    the label (numbers: test_step_model_teacher_forced_matches_returnn); no MatMul multiplies the embedding."""
    unit = golden["net"]["output"]["unit"]
    step = onnx.load(folder / "decoder_step.onnx")
    made = {o: n for n in step.graph.node for o in n.output}
    readers = [k for k, v in unit.items() if "prev:target_embed" in v.get("from", ())
               and v["class"] in ("linear", "rnn_cell") and "gru" not in v.get("unit", "").lower()]  # a GRU: ONNX GRU
    assert readers and all(f"{k}/label_rows" in {n.name.rsplit("/", 1)[0] for n in step.graph.node} for k in readers)
    gathers = [n for n in step.graph.node if n.op_type == "Gather" and n.input[1] == "prev:output"]
    unfolded = any("prev:target_embed" in v.get("from", ()) and "gru" in v.get("unit", "").lower()
                   for v in unit.values())
    # target_embed's own Gather is dropped unless a reader (a GRU) reads the embedding itself
    assert len(gathers) == len(readers) + unfolded, [n.name for n in gathers]
    for n in step.graph.node:
        if n.op_type == "MatMul" and not unfolded:
            assert not any(made.get(x) is not None and made[x].name.startswith("prev:target_embed") for x in n.input)


def test_a_linear_of_one_feature_is_a_mul(folder: Path, golden: dict) -> None:
    """weight_feedback (a linear of prev:accum_att_weights, `[N, T, 1]` with one head): a broadcast Mul, no MatMul
    with K = 1 (several heads: a MatMul)."""
    unit = golden["net"]["output"]["unit"]
    one = unit.get("accum_att_weights", {}).get("out_type", {}).get("dim") == 1  # one head
    ones = [k for k, v in unit.items() if one and v["class"] == "linear"
            and v.get("from") in (["prev:accum_att_weights"], "prev:accum_att_weights")]
    names = {n.name: n.op_type for n in onnx.load(folder / "decoder_step.onnx").graph.node}
    assert all(names.get(f"{k}/outer/Mul") == "Mul" and not any(n.startswith(f"{k}/matmul") for n in names)
               for k in ones), names
