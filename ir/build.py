"""Located dicts -> an untyped Graph: layers parsed, sources resolved, cycles refused, order fixed."""

from __future__ import annotations

import typing
from dataclasses import replace
from typing import Any

from .config_functions import inference_call, training_notes, unreadable_reason
from .dims import DEFAULT_TARGET, target_name, with_input_key
from .errors import NetcError, Where, did_you_mean
from .graph import DATA, Dims, Graph, Node
from .layers import CLASSES, Choice, Rec, TimeChunking, TimeUnChunking, read_layer
from .layers.returnn_options import accepted_note, theano_class_hint, unimplemented_class_hint
from .loop import InitialOutput, RecLoop, UnitLayers, check_unit_references, step_order
from .pyconfig import find_opaque
from .read import Document, Opaque
from .subnetwork import flatten
from .types import Unit

SUBNETWORK_REUSE = ("reuse_params on a subnetwork shares no parameter: RETURNN's ReuseParams applies to the "
                    "layer's own variables, and its sublayers keep theirs (measured with RETURNN 1.20261022); "
                    "put reuse_params on the sublayers (\"base:other/sublayer\") to share them")
EXEC_HINT = "write the value as data, or pass --exec-config to run a trusted config as RETURNN does"


def network_of(doc: Document) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The net dict of a file (a config's `network`, or the whole JSON file) and its key path.

    Errors: a line-format config (which cannot hold a net dict; its `hidden_size`/`hidden_type` net
    description predates RETURNN's network dict and RETURNN itself no longer reads it), a Python config
    without `network` (a `backend = "torch"` config's model is Python code: `returnn/torch/engine.py` builds
    it with the config's `get_model`), an opaque `network` (naming the line and what blocked it).
    """
    if doc.kind == "line":
        old = [key for key in ("hidden_size", "hidden_type") if key in doc.values]
        if old:
            raise NetcError(
                f"this line-format config describes its net with {' and '.join(old)}, RETURNN's form from before "
                "the network dict; RETURNN itself no longer reads it (RETURNN TF builds a net only from "
                "`network`), and neither does netc", doc.where(old[0], key=old[0]),
                'write the net as a `network` dict in a Python config (first line "#!rnn.py") or a JSON config, '
                'e.g. network = {"lstm0": {"class": "rec", "unit": "lstm", "n_out": 200, "from": "data"}, '
                '"output": {"class": "softmax", "loss": "ce", "from": "lstm0"}}')
        if isinstance(doc.values.get("initialize_from_json"), str):
            name = doc.values["initialize_from_json"]
            raise NetcError(f"this line-format config takes its network from the JSON file {name!r} "
                            "(initialize_from_json, a key of RETURNN's Theano back end; RETURNN TF does not read it)",
                            doc.where("initialize_from_json", key="initialize_from_json"),
                            f"check the network itself: netc check {name} --num-inputs N --num-outputs C, or write "
                            "it as `network` in a Python or JSON config")
        raise NetcError("a line-format config (`key value` lines) cannot hold a `network` dict", doc.where(),
                        'make the file a Python config (first line "#!rnn.py") or JSON (starting with "{")')
    if "network" in doc.values:
        network = doc.values["network"]
        at = doc.where("network", key="network")
        if isinstance(network, Opaque):
            raise NetcError(f"netc cannot compute 'network' without running the config: {network.reason}",
                            Where(doc.path, network.line, network.col, key="network"), network.hint or EXEC_HINT)
        if not isinstance(network, dict):
            raise NetcError("'network' must be a dict of layers", at)
        return network, ("network",)
    if doc.kind == "python" and doc.values.get("backend") == "torch":
        raise NetcError("this is a config of RETURNN's PyTorch back end (backend = 'torch'): its model is the Python "
                        "code of get_model/train_step, not a network dict, and netc compiles network dicts",
                        doc.where("backend", key="backend"),
                        "export a PyTorch model with torch.onnx.export; netc reads configs of RETURNN's TensorFlow "
                        "back end (network = {...})")
    if doc.kind == "python":
        raise NetcError("the config assigns no 'network'", doc.where(), "assign network = {...} (a dict of layers)")
    return doc.values, ()


def build_graph(doc: Document, dims: Dims) -> Graph:
    """Parse every layer, keep the roots and what they need, in topological order."""
    network, prefix = network_of(doc)
    target = target_name(doc) if prefix else DEFAULT_TARGET
    entries = flatten(doc, prefix, network)
    nodes = {name: read_node(doc, at[:-1], at[-1], layer_dict, target, name) for name, at, layer_dict in entries}
    if not nodes:
        raise NetcError("the network has no layers", doc.where(*prefix), 'add an "output" layer')
    readers = data_readers(nodes)
    key = next(iter(readers), DATA)
    if key != DATA:
        dims = with_input_key(doc, dims, key, readers[key].at("from"))
        nodes = {name: replace(node, layer=replace(node.layer, sources=tuple(
            DATA if source == f"data:{key}" else source for source in node.layer.sources)))
            for name, node in nodes.items()}
    for node in nodes.values():
        check_references(node, nodes)
    roots = root_names(nodes, doc.where(*prefix))
    order = topological_order(nodes, roots)
    unreachable = [name for name in nodes if name not in order]
    warnings = tuple(f"layer {name!r} is not used by any output or loss layer; it is not built"
                     for name in unreachable) + tuple(
        f"layer {name!r}: {note}" for name, _, layer_dict in entries for key in layer_dict
        if (note := accepted_note(layer_dict["class"], key, layer_dict[key])) is not None) + tuple(
        f"layer {name!r}: {SUBNETWORK_REUSE}" for name, node in nodes.items()
        if node.layer.class_name == "subnetwork" and node.layer.reuse_params) + training_notes(network, doc.functions)
    return Graph(tuple(nodes[name] for name in order), dims, warnings + doc.warnings(), doc.path)


def read_node(doc: Document, prefix: tuple[str, ...], name: Any, layer_dict: Any,
              target: str = DEFAULT_TARGET, node_name: str | None = None) -> Node:
    """One layer dict -> a Node carrying its layer dataclass and option positions.

    A layer with a loss and no `target` gets the config's `target`, as RETURNN's `LayerBase.transform_config_dict`.
    `node_name` (default `name`) is a subnetwork's sublayer's `<layer>/<sublayer>` (ir/subnetwork.py).
    """
    node_name = node_name or str(name)
    where = doc.where(*prefix, str(name), layer=node_name)
    if isinstance(layer_dict, Opaque):
        raise NetcError(f"netc cannot compute this layer without running the config: {layer_dict.reason}",
                        Where(doc.path, layer_dict.line, layer_dict.col, layer=node_name), layer_dict.hint or EXEC_HINT)
    if isinstance(layer_dict, dict):
        for key, value in layer_dict.items():
            blocker = find_opaque(value, lambda: None)
            if blocker is not None:
                raise NetcError(f"netc cannot compute this value without running the config: {blocker.reason}",
                                Where(doc.path, blocker.line, blocker.col, node_name, str(key)),
                                blocker.hint or EXEC_HINT)
    if not isinstance(layer_dict, dict):
        raise NetcError("a layer must be a dict", where, 'write {"class": "linear", "n_out": 512, ...}')
    if "class" not in layer_dict:
        raise NetcError("missing 'class'", where, "known classes: " + ", ".join(sorted(CLASSES)))
    layer_class = layer_dict["class"]
    class_at = doc.where(*prefix, name, "class", layer=node_name, key="class")
    if not isinstance(layer_class, str) or layer_class not in CLASSES:
        unimplemented = unimplemented_class_hint(str(layer_class))
        raise NetcError(f"{'unimplemented' if unimplemented else 'unknown'} layer class {layer_class!r}", class_at,
                        theano_class_hint(str(layer_class)) or unimplemented or
                        did_you_mean(str(layer_class), sorted(CLASSES)))
    if layer_class == "rec" and isinstance(layer_dict.get("unit"), dict):
        return read_loop(doc, prefix, name, layer_dict, target, node_name)
    options = {k: v for k, v in layer_dict.items() if k != "class"}
    if layer_class == "eval" and isinstance(options.get("eval"), str):  # a config function (ir/config_functions.py)
        if (call := inference_call(options["eval"], doc.functions)) is not None:
            options["eval"] = call.inference  # its value outside training
        elif (reason := unreadable_reason(options["eval"], doc.functions)) is not None:
            raise NetcError(reason, doc.where(*prefix, name, "eval", layer=node_name, key="eval"),
                            "write the expression with source(i) and tf element-wise functions (docs/netdict.md "
                            "eval), or remove the layer") from None
    if options.get("loss") and "target" not in options and target != DEFAULT_TARGET:
        options["target"] = target
    for key in options:
        if not isinstance(key, str):
            raise NetcError(f"option names are strings, got {key!r}", where)

    def where_of(key: str) -> Where:
        return doc.where(*prefix, name, key, layer=node_name, key=key)

    layer = read_layer(CLASSES[layer_class], options, where_of)
    positions = tuple((key, where_of(key)) for key in layer_dict)
    return Node(node_name, layer, where=where, key_positions=positions)


def read_loop(doc: Document, prefix: tuple[str, ...], name: Any, layer_dict: dict[str, Any], target: str,
              node_name: str) -> Node:
    """A rec layer with a dict unit (ir/loop.py): its options, and each unit layer read as a layer of its own
    (named `<rec>/<layer>` in messages), with `initial_output` taken off it; the unit kept in step order."""
    at = (*prefix, str(name))
    loop_target = layer_dict.get("target", target)
    unit: dict[str, Node] = {}
    initial: list[tuple[str, InitialOutput]] = []
    for inner, inner_at, inner_dict in flatten(doc, (*at, "unit"), layer_dict["unit"]):  # subnetworks: their sublayers
        inner_name = f"{node_name}/{inner}"
        initial_at = None
        if isinstance(inner_dict, dict) and "initial_output" in inner_dict:
            value = inner_dict["initial_output"]
            initial_at = doc.where(*inner_at, "initial_output", layer=inner_name, key="initial_output")
            try:
                initial.append((inner, InitialOutput.from_config(value)))
            except ValueError as e:
                raise NetcError(f"invalid initial_output {value!r}", initial_at, str(e)) from None
            inner_dict = {k: v for k, v in inner_dict.items() if k != "initial_output"}
        node = read_node(doc, inner_at[:-1], inner_at[-1], as_cell(inner_dict),
                         loop_target if isinstance(loop_target, str) else target, inner_name)
        if initial_at is not None:  # its position, for the type checks of ir/passes/infer_types.py
            node = replace(node, key_positions=(*node.key_positions, ("initial_output", initial_at)))
        unit[inner] = replace(node, name=inner)
    options = {k: v for k, v in layer_dict.items() if k not in ("class", "unit")}

    def where_of(key: str) -> Where:
        return doc.where(*at, key, layer=node_name, key=key)

    layer = read_layer(RecLoop, options, where_of)
    order = step_order(node_name, unit, doc.where(*at, "unit", layer=node_name, key="unit"))
    layer = replace(layer, unit=UnitLayers(tuple(unit[n] for n in order)),
                    initial=tuple(i for i in initial if i[0] in order))
    positions = tuple((key, where_of(key)) for key in layer_dict)
    return Node(node_name, layer, where=doc.where(*at, layer=node_name), key_positions=positions)


def as_cell(layer_dict: Any) -> Any:
    """A rec layer with a unit name inside a rec unit runs one step of its cell per loop step: RETURNN's
    `RecLayer` in a loop (`_get_output_cell`), with the rec layer's cell (`get_rnn_cell_class`, not cell_only: the
    LSTM family is the native LSTM) and its parameter names (`rec/W`, ...). netc reads it as that `rnn_cell`."""
    if not (isinstance(layer_dict, dict) and layer_dict.get("class") == "rec"
            and isinstance(layer_dict.get("unit"), str) and layer_dict.get("direction", 1) in (1, None)):
        return layer_dict
    try:
        unit = Unit.from_config(layer_dict["unit"].lower())
    except ValueError:
        return layer_dict  # read as a rec layer: its error names the unit
    cell = {Unit.LSTM: "nativelstm2", Unit.STANDARD_LSTM: "standardlstm", Unit.BASIC_LSTM: "standardlstm",
            Unit.GRU: "gru"}.get(typing.cast(Unit, unit))
    if cell is None:
        return layer_dict
    return {**{k: v for k, v in layer_dict.items() if k != "direction"}, "class": "rnn_cell", "unit": cell}


def data_readers(nodes: dict[str, Node]) -> dict[str, Node]:
    """The extern data key the layers read as the network's input (`data`, or `key` of `data:key`: RETURNN's
    LM setups read `data:delayed`) -> the first layer reading it; empty when no layer reads data. netc models
    have one input: reading two keys is an error."""
    readers: dict[str, Node] = {}
    for node in nodes.values():
        for source in node.sources:
            if source == DATA or (source.startswith("data:") and source.removeprefix("data:") not in nodes):
                readers.setdefault(source.removeprefix("data:"), node)
    if len(readers) > 1:
        first, second = sorted(readers, key=lambda k: k != DATA)[:2]
        name = "data" if second == DATA else f"data:{second}"
        raise NetcError(f"the network reads two data keys, {'data' if first == DATA else 'data:' + first} and "
                        f"{name}; netc models have one input", readers[second].at("from"),
                        "read one of them (a layer without 'from' reads data)")
    return readers


def check_references(node: Node, nodes: dict[str, Node]) -> None:
    """Every source is `data` or a layer; every encoder is a non-decoder rec layer."""
    known = [DATA, *nodes]
    for source in node.sources:
        if source not in known:
            raise NetcError(f"unknown source layer {source!r}", node.at("from"), did_you_mean(source, known))
    for key in node.layer.layer_keys:
        name = getattr(node.layer, key)
        if isinstance(name, str) and name and name not in known:  # not a constant (switch's true_from: 0.0)
            raise NetcError(f"{key} names {name!r}, which is not a layer", node.at(key), did_you_mean(name, known))
    check_chunking_layer(node, nodes)
    if isinstance(node.layer, RecLoop):
        check_loop_references(node, nodes)
    for name in node.layer.reuse_params.layers if node.layer.reuse_params else ():
        if name not in nodes or name == node.name:
            raise NetcError(f"reuse_params names {name!r}, which is not another layer", node.at("reuse_params"),
                            did_you_mean(name, [n for n in nodes if n != node.name]))
    layer = node.layer
    for name in layer.theano_attention.base if isinstance(layer, Rec) and layer.theano_attention else ():
        if name != DATA and (name not in nodes or name == node.name):
            raise NetcError(f"the attention base {name!r} is not another layer", node.at("base"),
                            did_you_mean(name, [DATA, *(n for n in nodes if n != node.name)]))
    if isinstance(layer, Rec) and layer.encoder:
        for name in layer.encoder:
            if name not in nodes:
                raise NetcError(f"unknown encoder layer {name!r}", node.at("encoder"),
                                did_you_mean(name, list(nodes)))
            encoder = nodes[name].layer
            if isinstance(encoder, Rec) and not encoder.is_decoder and encoder.unit is not Unit.LSTM:
                raise NetcError(f"encoder {name!r} has unit {encoder.unit.value}; a decoder starts from LSTM states",
                                node.at("encoder"), "use the native LSTM (unit lstm) for encoders of a decoder")
            if not isinstance(encoder, Rec) or encoder.is_decoder:
                raise NetcError(f"encoder {name!r} is not an encoder rec layer", node.at("encoder"),
                                "an encoder is a rec layer reading data (not a decoder)")


def check_loop_references(node: Node, nodes: dict[str, Node]) -> None:
    """The outer layers a rec unit reads exist (and are not the loop itself); its own references resolve."""
    loop = node.layer
    assert isinstance(loop, RecLoop)
    outer = [n for n in nodes if n != node.name]
    for name, initial in loop.initial:
        if initial.layer is not None and initial.layer not in outer:
            raise NetcError(f"initial_output names 'base:{initial.layer}', which is not a layer of the enclosing "
                            "network", loop[name].where, did_you_mean(initial.layer, outer))
    if loop.max_seq_len and loop.max_seq_len.layer and loop.max_seq_len.layer not in outer:
        raise NetcError(f"max_seq_len reads {loop.max_seq_len.layer!r}, which is not a layer of the enclosing network",
                        node.at("max_seq_len"), did_you_mean(loop.max_seq_len.layer, outer))
    check_unit_references(node.name, {n.name: n for n in loop.unit}, outer, loop.target)


def check_chunking_layer(node: Node, nodes: dict[str, Node]) -> None:
    """A time_unchunking layer's `chunking_layer` is a time_chunking layer (RETURNN's `TimeUnChunkingLayer`
    asserts `isinstance(chunking_layer, TimeChunkingLayer)`): its chunk size and step say how to put the
    frames back, which a layer computed on the chunks does not know."""
    layer = node.layer
    if not isinstance(layer, TimeUnChunking) or layer.chunking_layer is None:
        return
    found = nodes.get(layer.chunking_layer)
    if found is None and layer.chunking_layer.split(":")[0] != "data":
        return  # an unknown name: the dependency check reports it
    if found is None or not isinstance(found.layer, TimeChunking):
        what = f"a {found.layer.class_name} layer" if found else "the network's input"
        raise NetcError(f"chunking_layer {layer.chunking_layer!r} is {what}, not a time_chunking layer",
                        node.at("chunking_layer"), "name the time_chunking layer whose chunks this layer puts back")


def root_names(nodes: dict[str, Node], at: Where) -> list[str]:
    """The layer named `output`, then every layer with a loss or marked as output."""
    if "output" not in nodes:
        raise NetcError("the network has no layer named 'output'", at,
                        "name the layer whose result the model returns 'output'")
    extra = [n for n, node in nodes.items() if n != "output" and (node.layer.loss or node.layer.is_output_layer)]
    return ["output", *extra]


def searches(node: Node) -> bool:
    """Whether a layer is a rec unit that chooses labels step by step (a `choice` as its output)."""
    return isinstance(node.layer, RecLoop) and isinstance(node.layer["output"].layer, Choice)


def check_model_output(graph: Graph) -> None:
    """The layer `output` is what a compiled model returns per sequence: dense `[B, T, ...]` on the sequences'
    batch (docs/onnx-contract.md). `netc check` and `netc compile` both refuse another type with this error,
    located at the output layer; other layers may have any type, and `netc train` trains any output (RETURNN
    does). Requires a typed graph."""
    out = graph.output
    t = out.out_type
    if searches(out):
        return  # compiled as an encoder and a decoder step (docs/onnx-contract.md)
    if t.batch is not None and t.batch.chunks is not None:
        raise NetcError(f"the output layer's type {t} is on a batch of chunks", out.where,
                        "unchunk before the output (a time_unchunking layer)")
    searched = [s for s in out.sources if s in graph.names and searches(graph[s])]
    if searched:  # `output: decide` of a rec unit named otherwise (RETURNN trains it; compile needs the unit)
        raise NetcError(f"the output layer is a {out.layer.class_name} of the searching rec layer {searched[0]!r}; "
                        f"its type {t} is labels, not the dense [B, T, ...] a compiled model returns", out.where,
                        "name that rec layer 'output' (and this layer e.g. 'decision'); netc compiles it to an "
                        "encoder and a decoder step")
    if t.sparse:
        raise NetcError(f"the output layer's type {t} is sparse (class indices), not the dense [B, T, ...] a "
                        "compiled model returns", out.where, "make the output the scores (a softmax), not the labels")
    if not t.is_packable:
        raise NetcError(f"the output layer's type {t} is not [B, T, ...]", out.where,
                        "the model's output needs batch then time first (swap_axes back, or do not reduce time)")


def topological_order(nodes: dict[str, Node], roots: list[str]) -> list[str]:
    """Depth-first post-order from the roots (dependencies first); a cycle is an error."""
    order: list[str] = []
    state: dict[str, str] = {}
    for root in roots:
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            name, i = stack.pop()
            if i == 0:
                if state.get(name) == "done":
                    continue
                state[name] = "active"
                path.append(name)
            deps = [d for d in nodes[name].layer.dependencies if d != DATA]
            if i < len(deps):
                stack.append((name, i + 1))
                dep = deps[i]
                if state.get(dep) == "active":
                    cycle = path[path.index(dep):] + [dep]
                    reuse = nodes[name].layer.reuse_params
                    key = "reuse_params" if reuse and dep in reuse.layers and dep not in nodes[name].sources else "from"
                    raise NetcError("cycle: " + " -> ".join(cycle), nodes[name].at(key),
                                    "a layer cannot depend on itself; break the cycle")
                if state.get(dep) != "done":
                    stack.append((dep, 0))
                continue
            state[name] = "done"
            path.pop()
            order.append(name)
    return order
