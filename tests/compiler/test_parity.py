"""Compiled models on onnxruntime vs the numpy reference of netdict.md (tests/reference.py), frame by frame.

Every case draws all parameters (non-zero biases included) from the graph's own parameter specs, runs a
ragged batch whose padded frames hold large garbage, and demands atol 1e-5 on every valid frame and exact
zeros on padded frames of probabilities. The "teeth" tests below prove that the comparison fails for the
classic bugs: permuted gates, a reversal of the padded tensor, a decoder that loses its initial state.
"""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import onnx
import pytest
from netc.compiler import compile_graph
from netc.compiler.onnx import CompileOptions
from netc.ir import Document, graph_from_document, param_specs
from onnx import numpy_helper

from tests.helpers import EXAMPLES, ragged_batch, session
from tests.reference import ACTIVATIONS, GATES, Variant, reference_output

F = 5
ATOL = 1e-5
LENGTHS = [4, 1, 6, 3]  # a length-1 sequence and a full-length one, not sorted
TARGETS = [2, 7, 1, 5]  # decoder lengths, independent of LENGTHS (the longest exceeds the input's)


@dataclasses.dataclass(frozen=True)
class Case:
    """One parity case: a net dict, the batch's lengths and how to compile it."""

    id: str
    net: dict
    num_outputs: int = 4
    kind: str = "probs"
    opset: int = 17
    lengths: tuple[int, ...] = tuple(LENGTHS)
    targets: tuple[int, ...] | None = None


def rec(n: int, direction: int = 1, src: str | list[str] | None = None, **extra: object) -> dict:
    layer = {"class": "rec", "unit": "lstm", "n_out": n, "direction": direction, **extra}
    return layer if src is None else {**layer, "from": src}


def out(src: str | list[str], cls: str = "softmax", **extra: object) -> dict:
    return {"class": cls, "from": src, **extra}


def blstm(n: int, layers: int) -> dict:
    net, prev = {}, "data"
    for k in range(layers):
        net[f"fw{k}"] = rec(n, 1, prev)
        net[f"bw{k}"] = rec(n, -1, prev)
        prev = [f"fw{k}", f"bw{k}"]
    return {**net, "output": out(prev)}


def seq2seq(encoders: dict[str, int], decoder_dirs: tuple[int, ...], n_out: bool = True) -> dict:
    """Encoders named by direction; one decoder per direction in `decoder_dirs`, all feeding the output."""
    net = {name: rec(3, direction) for name, direction in encoders.items()}
    n = 3 * len(encoders)
    for d in decoder_dirs:
        dec = {"class": "rec", "from": "null", "encoder": list(encoders), "direction": d}
        net[f"dec{d}"] = {**dec, "n_out": n} if n_out else dec
    return {**net, "output": out([f"dec{d}" for d in decoder_dirs])}


EVERY_ACT = [*ACTIVATIONS, "none", "logistic", "silu", "neg", "sqr"]
CASES = [
    Case("ff_softmax", {"output": {"class": "softmax"}}),
    Case("ff_relu_tanh", {"h1": {"class": "linear", "n_out": 6, "activation": "relu"},
                          "h2": {"class": "hidden", "n_out": 4, "activation": "tanh", "from": "h1"},
                          "output": out("h2")}),
    Case("ff_linear_output", {"h": {"class": "forward", "n_out": 6, "activation": "sigmoid"},
                              "output": out("h", "linear", n_out=3)}),
    Case("ff_no_bias", {"h": {"class": "linear", "n_out": 6, "activation": "elu", "with_bias": False},
                        "output": out("h", with_bias=False)}),
    Case("lstm_1layer", {"l": rec(6), "output": out("l")}),
    Case("lstm_backward_1layer", {"l": rec(6, -1), "output": out("l")}),
    Case("lstm_3layer_uni", {"l1": rec(4), "l2": rec(5, 1, "l1"), "l3": rec(3, 1, "l2"), "output": out("l3")}),
    Case("lstm_backward_stack", {"l1": rec(4, -1), "l2": rec(5, -1, "l1"), "output": out("l2")}),
    Case("blstm_2layer", blstm(4, 2)),
    Case("blstm_3layer_log_probs", blstm(3, 3), kind="log-probs"),
    Case("blstm_logits", blstm(3, 1), kind="logits"),
    Case("concat_3_sources", {"a": {"class": "linear", "n_out": 3, "activation": "tanh"},
                              "b": rec(4, -1),
                              "c": rec(2, 1, ["b", "data", "a"]),
                              "output": out(["c", "data", "a"])}),
    Case("same_source_twice", {"l": rec(3), "output": out(["l", "data", "l"])}),
    Case("copy_dropout_layers", {"c": {"class": "copy", "from": ["data"]},
                                 "d": {"class": "dropout", "dropout": 0.3, "from": "c"},
                                 "l": rec(4, 1, ["d", "c"], dropout=0.2),
                                 "output": out("l", dropout=0.5)}),
    Case("rec_no_unit_and_aliases", {"a": {"class": "rec", "n_out": 3},
                                     "b": {"class": "rec", "unit": "NativeLstm2", "n_out": 3, "direction": -1},
                                     "output": out(["a", "b"])}),
    Case("activation_layers_chain", {"h": {"class": "linear", "n_out": 6},
                                     "a1": {"class": "activation", "activation": "tanh", "from": "h"},
                                     "a2": {"class": "activation", "activation": "abs", "from": "a1"},
                                     "a3": {"class": "activation", "activation": "square", "from": "a2"},
                                     "a4": {"class": "activation", "activation": "selu", "from": ["a3", "h"]},
                                     "output": out("a4")}),
    Case("output_activation_layer", {"h": {"class": "linear", "n_out": 4},
                                     "output": {"class": "activation", "activation": "log_softmax", "from": "h"}}),
    *[Case(f"linear_act_{a}", {"h": {"class": "linear", "n_out": 6, "activation": a},
                               "output": out("h")}) for a in EVERY_ACT],
    *[Case(f"activation_layer_{a}", {"h": {"class": "linear", "n_out": 6},
                                     "a": {"class": "activation", "activation": a, "from": "h"},
                                     "l": rec(3, -1, "a"), "output": out("l")}) for a in EVERY_ACT],
    *[Case(f"output_kind_{k}_ff", {"h": {"class": "linear", "n_out": 6, "activation": "relu"}, "output": out("h")},
           kind=k) for k in ("probs", "log-probs", "logits")],
    *[Case(f"seq2seq_enc{''.join('f' if d == 1 else 'b' for d in encs.values())}_dec{dirs}",
           seq2seq(encs, dirs), targets=tuple(TARGETS))
      for encs in ({"ef": 1}, {"eb": -1}, {"ef": 1, "eb": -1}, {"eb": -1, "ef": 1, "ef2": 1})
      for dirs in ((1,), (-1,), (1, -1))],
    *[Case(f"opset{v}_gelu_selu_softmax", {"h": {"class": "linear", "n_out": 6, "activation": "gelu"},
                                          "a": {"class": "activation", "activation": "selu", "from": "h"},
                                          "l": rec(3, -1, ["a", "h"]), "output": out("l")},
           kind=k, opset=v) for v, k in ((14, "probs"), (20, "log-probs"), (21, "probs"))],
    Case("softmax_hidden_layer", {"s": {"class": "softmax", "n_out": 5}, "output": out("s")}, kind="log-probs"),
    Case("output_is_rec", {"l": rec(3), "output": rec(4, -1, "l")}),
    Case("output_is_copy_of_data", {"output": {"class": "copy"}}),
    Case("odd_layer_names", {"output:size1": rec(3, -1), "fw/W": {"class": "linear", "n_out": 3, "from": "data:data"},
                             "a b": {"class": "copy", "from": ["output:size1", "fw/W"]},
                             "#comment": "ignored", "output": out("a b")}),
    Case("seq2seq_default_n_out_log_probs", seq2seq({"ef": 1, "eb": -1}, (1, -1), n_out=False),
         kind="log-probs", targets=(3, 1, 4, 2)),
    Case("seq2seq_decoder_stack", {"e": rec(3, -1), "d": {"class": "rec", "from": [], "encoder": ["e"], "n_out": 3},
                                   "h": {"class": "linear", "n_out": 4, "activation": "gelu", "from": "d"},
                                   "d2": rec(5, -1, ["h", "d"]), "output": out(["d2", "h"])},
         targets=tuple(TARGETS)),
]


def draw_params(graph: object, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every parameter the graph declares: weights of unit-ish output scale, biases bounded away from 0."""
    params = {}
    for spec in param_specs(graph):
        if len(spec.shape) == 1:
            values = rng.choice([-1.0, 1.0], spec.shape) * rng.uniform(0.1, 0.8, spec.shape)
        else:
            values = rng.uniform(-1.0, 1.0, spec.shape) * np.sqrt(3.0 / max(spec.shape[0], 1))
        params[spec.name] = values.astype(np.float32)
    return params


@dataclasses.dataclass
class Compiled:
    """A compiled case with its parameters and a way to run a batch through onnxruntime."""

    case: Case
    params: dict[str, np.ndarray]
    sess: object
    model: onnx.ModelProto

    def run(self, x: np.ndarray, lens: np.ndarray, targets: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        feed = {"data": x, "data:size1": lens}
        if targets is not None:
            feed["classes:size1"] = targets
        y, y_lens = self.sess.run(["output", "output:size1"], feed)
        return y, y_lens

    def reference(self, x: np.ndarray, lens: np.ndarray, targets: np.ndarray | None,
                  params: dict[str, np.ndarray] | None = None, variant: Variant = Variant()) -> np.ndarray:
        y, _ = reference_output(self.case.net, self.params if params is None else params, x, lens,
                                targets, self.case.kind, variant)
        return y


def compile_case(case: Case, seed: int = 0) -> Compiled:
    graph = graph_from_document(Document("<test>", json.loads(json.dumps(case.net))), F, case.num_outputs)
    params = draw_params(graph, np.random.default_rng(seed))
    model = compile_graph(graph, params, options=CompileOptions(output_kind=case.kind, opset=case.opset))
    return Compiled(case, params, session(model), model)


def batch(case: Case, seed: int = 1, garbage: float = 100.0, extra: int = 0
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A ragged batch of the case's lengths, with `extra` garbage frames after the longest sequence."""
    rng = np.random.default_rng(seed)
    x, lens = ragged_batch(rng, list(case.lengths), F, garbage)
    tail = garbage * rng.standard_normal((x.shape[0], extra, F))
    x = np.concatenate([x, tail.astype(np.float32)], axis=1)
    targets = None if case.targets is None else np.asarray(case.targets, np.int32)
    return x, lens, targets


def valid_mask(lens: np.ndarray, steps: int) -> np.ndarray:
    return np.arange(steps)[None, :] < np.asarray(lens)[:, None]


def max_valid_diff(a: np.ndarray, b: np.ndarray, lens: np.ndarray) -> float:
    valid = valid_mask(lens, a.shape[1])
    return float(np.max(np.abs(a[valid] - b[valid])))


def assert_parity(compiled: Compiled, x: np.ndarray, lens: np.ndarray, targets: np.ndarray | None) -> np.ndarray:
    """ORT == reference on valid frames (atol 1e-5); padded frames of probabilities exactly 0."""
    y, y_lens = compiled.run(x, lens, targets)
    ref, ref_lens = reference_output(compiled.case.net, compiled.params, x, lens, targets, compiled.case.kind)
    expected_lens = lens if targets is None else targets
    np.testing.assert_array_equal(y_lens, expected_lens)
    np.testing.assert_array_equal(ref_lens, expected_lens)
    steps = x.shape[1] if targets is None else int(targets.max())  # decoders: the longest target
    assert y.shape == ref.shape == (len(lens), steps, ref.shape[2])
    valid = valid_mask(expected_lens, y.shape[1])
    # not vacuous: the reference is finite and varies over frames, sequences and features
    assert np.all(np.isfinite(ref[valid])) and np.std(ref[valid], axis=0).min() > 1e-4
    np.testing.assert_allclose(y[valid], ref[valid], rtol=0, atol=ATOL)
    if compiled.case.kind == "probs":
        assert np.array_equal(y[~valid], np.zeros_like(y[~valid])), "padded output frames must be exactly 0"
    return y


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_parity(case: Case) -> None:
    compiled = compile_case(case)
    assert_parity(compiled, *batch(case))


def test_case_table_covers_every_activation_and_kind() -> None:
    """The table itself: all activations of netdict.md section 4 and all output kinds appear."""
    ids = {c.id for c in CASES}
    assert all(f"linear_act_{a}" in ids and f"activation_layer_{a}" in ids for a in ACTIVATIONS)
    assert {c.kind for c in CASES} == {"probs", "log-probs", "logits"}


def example_nets() -> list:
    files = sorted(p for p in EXAMPLES.glob("*.json"))
    assert files, f"no examples in {EXAMPLES}"
    return [pytest.param(p, id=p.stem) for p in files]


@pytest.mark.parametrize("path", example_nets())
def test_shipped_examples(path: object) -> None:
    """The examples with their own n_out values, on 5 inputs and 7 classes."""
    net = json.loads(path.read_text())
    has_decoder = any("encoder" in layer for layer in net.values())
    case = Case(path.stem, net, num_outputs=7, lengths=(3, 1, 4), targets=(2, 5, 1) if has_decoder else None)
    assert_parity(compile_case(case), *batch(case))


# ---- teeth: the comparison must fail for each classic bug ------------------------------------------------


def permute_gates(params: dict[str, np.ndarray], order: str) -> dict[str, np.ndarray]:
    """LSTM parameters with their gate blocks rearranged from j,i,f,o into `order`."""
    result = dict(params)
    for name, value in params.items():
        if "/rec/" in name:
            n = value.shape[-1] // 4
            blocks = value.reshape(*value.shape[:-1], 4, n)[..., [GATES.index(g) for g in order], :]
            result[name] = blocks.reshape(value.shape)
    return result


@pytest.mark.parametrize("case_id", ["blstm_2layer", "seq2seq_encfb_dec(1, -1)"])
def test_every_gate_permutation_is_caught(case_id: str) -> None:
    """All 23 wrong gate orders (ONNX's i,o,f,c and torch's i,f,g,o among them) break parity."""
    case = next(c for c in CASES if c.id == case_id)
    compiled = compile_case(case)
    x, lens, targets = batch(case)
    y = assert_parity(compiled, x, lens, targets)
    out_lens = lens if targets is None else targets
    orders = ["".join(p) for p in itertools.permutations(GATES) if "".join(p) != GATES]
    assert "iofj" in orders and "ifjo" in orders and len(orders) == 23
    for order in orders:
        wrong = compiled.reference(x, lens, targets, params=permute_gates(compiled.params, order))
        assert max_valid_diff(y, wrong, out_lens) > 100 * ATOL, f"gate order {order} not caught"


@pytest.mark.parametrize("case_id", ["lstm_backward_1layer", "blstm_2layer", "seq2seq_encb_dec(-1,)"])
def test_reversal_of_padded_tensor_is_caught(case_id: str) -> None:
    """Flipping the padded tensor differs on ragged batches; on a full batch both reversals agree."""
    case = next(c for c in CASES if c.id == case_id)
    compiled = compile_case(case)
    x, lens, targets = batch(case)
    y = assert_parity(compiled, x, lens, targets)
    flipped = compiled.reference(x, lens, targets, variant=Variant(reverse_flips_padded=True))
    assert max_valid_diff(y, flipped, lens if targets is None else targets) > 100 * ATOL
    full = np.full_like(lens, x.shape[1])
    full_targets = None if targets is None else np.full_like(targets, targets.max())
    y_full, _ = compiled.run(x, full, full_targets)
    flipped_full = compiled.reference(x, full, full_targets, variant=Variant(reverse_flips_padded=True))
    assert max_valid_diff(y_full, flipped_full, full if targets is None else full_targets) < ATOL


@pytest.mark.parametrize("variant", [Variant(decoder_zero_c=True), Variant(decoder_zero_h=True),
                                     Variant(final_at_padded_end=True)], ids=["zero_c", "zero_h", "padded_end"])
def test_decoder_initial_state_bugs_are_caught(variant: Variant) -> None:
    """A decoder that drops c or h, or reads the forward encoder's state at the padded end, breaks parity."""
    case = next(c for c in CASES if c.id == "seq2seq_encfb_dec(1, -1)")
    compiled = compile_case(case)
    x, lens, targets = batch(case)
    y = assert_parity(compiled, x, lens, targets)
    assert max_valid_diff(y, compiled.reference(x, lens, targets, variant=variant), targets) > 100 * ATOL


def test_decoder_gates_see_the_bias() -> None:
    """The decoder's bias drives its gates: a reference without it differs."""
    case = next(c for c in CASES if c.id == "seq2seq_encf_dec(1,)")
    compiled = compile_case(case)
    x, lens, targets = batch(case)
    y = assert_parity(compiled, x, lens, targets)
    no_bias = {k: (np.zeros_like(v) if k == "dec1/rec/b" else v) for k, v in compiled.params.items()}
    assert max_valid_diff(y, compiled.reference(x, lens, targets, params=no_bias), targets) > 100 * ATOL


@pytest.mark.parametrize("case_id", ["blstm_3layer_log_probs", "concat_3_sources", "seq2seq_encbff_dec(1, -1)",
                                     "linear_act_exp", "activation_layer_square"])
def test_padded_garbage_does_not_leak(case_id: str) -> None:
    """Valid frames are bit-identical whatever the padded frames hold (zeros, noise, huge values)."""
    case = next(c for c in CASES if c.id == case_id)
    compiled = compile_case(case)
    outputs = []
    for seed, garbage in [(1, 0.0), (1, 100.0), (1, 1e4), (1, -1e30)]:
        x, lens, targets = batch(case, seed, garbage)
        outputs.append(compiled.run(x, lens, targets)[0])
    valid = valid_mask(lens if targets is None else targets, outputs[0].shape[1])
    assert np.std(outputs[0][valid]) > 1e-4
    for y in outputs[1:]:
        np.testing.assert_array_equal(y[valid], outputs[0][valid])


def test_inputs_change_outputs() -> None:
    """Sanity of the harness: a different batch gives different outputs, so equality above means something."""
    case = next(c for c in CASES if c.id == "blstm_2layer")
    compiled = compile_case(case)
    y1 = compiled.run(*batch(case, seed=1)[:2], None)[0]
    y2 = compiled.run(*batch(case, seed=2)[:2], None)[0]
    assert max_valid_diff(y1, y2, np.asarray(case.lengths)) > 100 * ATOL


@pytest.mark.parametrize("case_id", ["ff_relu_tanh", "blstm_2layer", "lstm_backward_stack",
                                     "seq2seq_encbff_dec(1, -1)"])
@pytest.mark.parametrize("lengths", [(2, 4, 1), (3,)], ids=["batch3", "batch1"])
def test_time_longer_than_every_sequence(case_id: str, lengths: tuple[int, ...]) -> None:
    """`1 <= len <= time`: trailing frames that no sequence uses are padding too (and batch size 1 works)."""
    case = next(c for c in CASES if c.id == case_id)
    targets = None if case.targets is None else tuple(case.targets[:len(lengths)])
    case = dataclasses.replace(case, lengths=lengths, targets=targets)
    assert_parity(compile_case(case), *batch(case, extra=3))


def drop_sequence_lens(model: onnx.ModelProto) -> None:
    for node in model.graph.node:
        if node.op_type == "LSTM":
            node.input[4] = ""


def flip_first_direction(model: onnx.ModelProto) -> None:
    attr = next(a for n in model.graph.node if n.op_type == "LSTM" for a in n.attribute if a.name == "direction")
    attr.s = b"reverse" if attr.s == b"forward" else b"forward"


def swap_gates_in_R(model: onnx.ModelProto) -> None:
    """Swap ONNX's i and f blocks of every recurrent matrix."""
    for k, init in enumerate(model.graph.initializer):
        if init.name.endswith("/R"):
            r = numpy_helper.to_array(init).copy()
            n = r.shape[1] // 4
            r[:, :n], r[:, 2 * n:3 * n] = r[:, 2 * n:3 * n].copy(), r[:, :n].copy()
            model.graph.initializer[k].CopyFrom(numpy_helper.from_array(r, init.name))


def unmask_output(model: onnx.ModelProto) -> None:
    """The final output without zeroed padded frames."""
    node = next(n for n in model.graph.node if "output" in n.output)
    data = next(i for i in node.input if i not in {init.name for init in model.graph.initializer}
                and "valid" not in i and "mask" not in i)
    node.op_type, node.input[:] = "Identity", [data]
    del node.attribute[:]


@pytest.mark.parametrize("mutate", [drop_sequence_lens, flip_first_direction, swap_gates_in_R, unmask_output])
@pytest.mark.parametrize("case_id", ["blstm_2layer", "seq2seq_encfb_dec(1, -1)"])
def test_mutated_models_fail_parity(case_id: str, mutate: object) -> None:
    """The harness, not only the reference, has teeth: a compiled model broken on purpose fails assert_parity."""
    case = next(c for c in CASES if c.id == case_id)
    compiled = compile_case(case)
    x, lens, targets = batch(case)
    assert_parity(compiled, x, lens, targets)
    broken = onnx.ModelProto()
    broken.CopyFrom(compiled.model)
    mutate(broken)
    compiled = dataclasses.replace(compiled, sess=session(broken), model=broken)
    with pytest.raises(AssertionError):
        assert_parity(compiled, x, lens, targets)
