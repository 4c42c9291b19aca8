"""Front-end fuzzing: mutated and generated net dicts must compile or fail with a located NetcError.

Shared by the CI test (tests/hardening/test_fuzz_frontend.py) and the long run (bench/fuzz_frontend.py).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from netc.compiler import compile_graph, save_model
from netc.ir import NetcError, load_graph, param_specs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEEDS = [json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))]
KEYS = ["class", "from", "n_out", "activation", "direction", "unit", "encoder", "dropout", "L2", "loss",
        "target", "with_bias", "is_output_layer", "loss_opts", "dropout_noise_shape", "n out", "nout", "clas",
        "recurrent_transform", "#meta", "fw_0", "output", "data", "data:data"]
VALUES: list[object] = [None, True, False, 0, 1, -1, 2, 3, 10**12, -(10**12), 0.5, 1.5, -0.1, 1e308, "null", "none",
                        "data", "output", "lstm", "LSTM", "nativelstm2", "basiclstm", "relu", "rellu", "softmax",
                        "rec", "linear", "copy", "ce", "mse", "", "−1", "\u201csoftmax\u201d", [], {}, ["data"],
                        ["output"], {"*": None}, {"use_normalized_loss": True}, [[["x"]]], "fw_0", "lstm0_fw"]
TEXT_NOISE = ["\u2212", "\u201c", "\u201d", "\u00a0", ",", "}", "{", "[", "]", '"', ":", "NaN", "None", "'", "\\",
              "1e999", "-", "\x00", "\ufeff", "\n"]
MAX_COMPILED_PARAMS = 300_000  # compile (allocate) only small networks; larger ones stop after the front end


def mutate_dict(rng: random.Random, net: dict) -> object:
    """One structural mutation of a net dict (keys, values, types, references)."""
    net = json.loads(json.dumps(net))
    names = list(net)
    layer_name = rng.choice(names)
    layer = net[layer_name]
    if not isinstance(layer, dict):
        net[layer_name] = {"class": rng.choice(["copy", "rec", "bogus"])}
        return net
    kind = rng.randrange(9)
    if kind == 0 and layer:
        del layer[rng.choice(list(layer))]
    elif kind == 1 and layer:
        key = rng.choice(list(layer))
        layer[rng.choice(KEYS)] = layer.pop(key)
    elif kind == 2:
        layer[rng.choice(KEYS)] = rng.choice(VALUES)
    elif kind == 3:
        net[layer_name] = rng.choice(VALUES)
    elif kind == 4:
        layer["from"] = rng.choice([layer_name, rng.choice(names), [layer_name, "data"], names])
    elif kind == 5:
        del net[layer_name]
    elif kind == 6:
        net[rng.choice(KEYS)] = {"class": rng.choice(["rec", "softmax", "linear", "copy", "dropout", "activation"]),
                                 "from": rng.choice(names + ["data", "null"])}
    elif kind == 7:
        deep: object = rng.choice(VALUES)
        for _ in range(rng.randrange(1, 200)):
            deep = [deep]
        layer[rng.choice(KEYS)] = deep
    else:
        return {} if rng.random() < 0.5 else [net]
    return net


def mutate_text(rng: random.Random, text: str) -> str:
    """Character-level noise: look-alikes, dropped or doubled characters, truncation."""
    for _ in range(rng.randrange(1, 4)):
        pos = rng.randrange(len(text) + 1)
        kind = rng.randrange(4)
        if kind == 0:
            text = text[:pos] + rng.choice(TEXT_NOISE) + text[pos:]
        elif kind == 1:
            text = text[:pos] + text[pos + 1:]
        elif kind == 2:
            text = text[:pos] + text[pos:pos + rng.randrange(1, 30)] * 2 + text[pos + 30:]
        else:
            text = text[:pos]
    return text


def case_text(rng: random.Random) -> tuple[str, str]:
    """A random case: (file suffix, file text)."""
    seed = rng.choice(SEEDS)
    net: object = seed
    for _ in range(rng.randrange(1, 4)):
        net = mutate_dict(rng, net) if isinstance(net, dict) and net else net
    text = json.dumps(net, ensure_ascii=rng.random() < 0.5)
    if rng.random() < 0.4:
        text = mutate_text(rng, text)
    if rng.random() < 0.15:
        return ".config", f"#!rnn.py\nnetwork = {text}\nnum_inputs = {rng.choice([40, 0, -3, 'x'])!r}\n"
    return ".json", text


def check_case(directory: Path, suffix: str, text: str) -> str:
    """Run one case through read, build, type inference and (if small) compile. Returns the outcome.

    Raises AssertionError for anything other than success or a located NetcError.
    """
    source = directory / f"case{suffix}"
    source.write_text(text, encoding="utf-8", errors="surrogatepass")
    out = directory / "out.onnx"
    try:
        return compile_or_fail(source, out, text)
    finally:
        out.unlink(missing_ok=True)
        source.unlink()


def compile_or_fail(source: Path, out: Path, text: str) -> str:
    """"ok" or "error" (a located NetcError, no output, no temporary files); anything else fails."""
    try:
        graph = load_graph(source, 40 if source.suffix == ".json" else None, 1000)
        if sum(s.size for s in param_specs(graph)) <= MAX_COMPILED_PARAMS:
            save_model(compile_graph(graph), out)
        outcome = "ok"
    except NetcError as e:
        message = str(e)
        assert message.strip() and "Traceback" not in message, f"empty or raw error for {text!r}"
        assert str(source) in message or "--num" in message or "opset" in message, \
            f"error does not name the file: {message}\ninput: {text!r}"
        assert not out.exists(), "no output file after an error"
        outcome = "error"
    leftovers = {p.name for p in source.parent.iterdir()} - {source.name, out.name}
    assert not leftovers, f"temporary files left behind: {leftovers}"
    return outcome
