"""The IR as text: the `netc check` table and the canonical net dict JSON."""

from __future__ import annotations

import json

from .graph import Graph, Node
from .layers import Affine, Rec, to_config
from .layers.base import loss_scale
from .loop import RecLoop, prev_references
from .params import param_specs
from .types import Chunked, Derived, Loss


def format_table(graph: Graph) -> str:
    """One row per layer: class, inputs, full output shape, parameter count, notes; then derived lengths."""
    counts: dict[str, int] = {}
    for spec in param_specs(graph):
        counts[spec.layer] = counts.get(spec.layer, 0) + spec.size
    header = ("layer", "class", "from", "shape", "params", "notes")
    data_shape = str(graph.input_type) if graph.dims.num_inputs is not None else "[B, T_data, ?]"
    key = graph.dims.input_key
    rows = [header, ("data", "input", "-", data_shape, "0", "" if key == "data" else f"data key {key!r} (data:{key})")]
    for node in graph.nodes:
        rows.append((node.name, node.layer.class_name, sources_text(node), str(node.out_type),
                     f"{counts.get(node.name, 0):,}", notes(graph, node)))
        if isinstance(node.layer, RecLoop):
            prefix = node.layer.param_prefix
            rows += [(f"{node.name}/{inner.name}", inner.layer.class_name, sources_text(inner),
                      f"{inner.out_type} per step", f"{counts.get(prefix(node.name, inner.name), 0):,}",
                      "; ".join(p for p in (initial_note(node.layer, inner.name), notes(graph, inner)) if p))
                     for inner in node.layer.unit]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    total = sum(counts.values())
    lines += derived_lengths(graph)
    in_units = sum(len(node.layer.unit) for node in graph.nodes if isinstance(node.layer, RecLoop))
    layers = f"{len(graph.nodes) + in_units} layers" + (f" ({in_units} in rec units)" if in_units else "")
    lines.append(f"total: {layers}, {total:,} parameters ({total * 4 / 2**20:.1f} MiB float32)")
    return "\n".join(lines)


def initial_note(loop: RecLoop, name: str) -> str:
    """What `prev:name` is at step 0, where the unit reads it."""
    if not any(name in prev_references(n) for n in loop.unit):
        return ""
    initial = loop.initial_output(name)
    return f"prev: at step 0 = {initial.plain()}"


def derived_lengths(graph: Graph) -> list[str]:
    """One line per time axis a layer derives: its name, the layer, and RETURNN's length formula."""
    lines, seen = [], set()
    for node in graph.nodes:
        t = node.out_type
        axis = t.time if t.has_time else None
        if isinstance(axis, Derived) and axis not in seen:
            seen.add(axis)
            rule = axis.rule
            formula = f"max(0, ceil(({axis.parent} * {rule.factor} + {rule.add}) / {rule.stride}))"
            lines.append(f"time axis {axis} (from layer {node.name!r}): lengths = {formula}")
        if isinstance(axis, Chunked) and axis not in seen:
            seen.add(axis)
            size, step, parent = axis.size, axis.step, axis.parent
            count = f"n({parent}) = max(0, {parent} - {size - step + 1}) // {step} + 1"
            lines.append(f"time axis {axis} (from layer {node.name!r}): batch B*C, C = n of the padded length; "
                         f"lengths = min({size}, {parent} - c*{step}) for each sequence's chunks c < {count}, else 0")
    return lines


def sources_text(node: Node) -> str:
    layer = node.layer
    if isinstance(layer, Rec) and layer.encoder:
        return "encoder: " + ",".join(layer.encoder)
    return ",".join(node.sources)


def notes(graph: Graph, node: Node) -> str:
    """What a reader should know about defaults netc chose for this layer."""
    layer = node.layer
    parts = []
    if isinstance(layer, Rec):
        parts.append(f"{layer.unit.value} " + ("forward" if layer.direction.value == 1 else "backward"))
        if layer.is_decoder:
            parts.append("decoder: initial h,c = encoder final states")
        if layer.theano_attention:
            parts.append(layer.theano_attention.note())
    if isinstance(layer, Affine) and layer.n_out is None:
        blank = " + 1 (CTC blank, the last)" if layer.loss is Loss.CTC else ""
        parts.append(f"n_out from target {layer.target!r}{blank}")
    if layer.loss is not None:
        parts.append(f"loss {layer.loss.value} on {layer.target!r}")
        if loss_scale(layer) != 1.0:
            parts.append(f"loss scale {loss_scale(layer):g}")
    elif node.name == "output" and layer.class_name == "softmax":
        parts.append("no loss: not trained (TF semantics)")
    if layer.dropout:
        parts.append(f"dropout {layer.dropout:g}")
    if layer.L2:
        parts.append(f"L2 {layer.L2:g}")
    if layer.reuse_params and layer.class_name == "subnetwork":
        parts.append("reuse_params shares nothing (as in RETURNN: the sublayers keep their own)")
    elif layer.reuse_params:
        parts.append("reuses parameters of " + ", ".join(repr(n) for n in layer.reuse_params.layers))
    if not layer.trainable:
        parts.append("frozen (trainable false)")
    if layer.batch_norm is not None:
        parts.append("output batch-normalized (batch_norm option)")
    return "; ".join(parts)


def canonical_json(graph: Graph) -> str:
    """The net dict with every default filled in: the same network always gives the same text."""
    net = {node.name: to_config(node.layer) for node in graph.nodes}
    return json.dumps(net, sort_keys=True, separators=(",", ":"))
