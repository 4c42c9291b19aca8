"""Parameters by name (netdict.md section 8): shapes, seeded initialisation, checking loaded values."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .errors import NetcError, Where
from .graph import Graph, Node
from .loop import RecLoop
from .types import BATCH, TensorType


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: its full name (`layer/W`), shape, owning layer, init limit (0: zeros, unless `init_value`)
    and whether the optimizer trains it."""

    name: str
    shape: tuple[int, ...]
    layer: str
    init_limit: float
    init_value: float | None = None
    trainable: bool = True

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def param_specs(graph: Graph) -> list[ParamSpec]:
    """Every parameter of a typed graph, in node order; a parameter a layer reuses (`reuse_params`) is its
    owner's only, as in RETURNN's checkpoints. A `batch_norm` option's follow its layer's."""
    specs: dict[str, ParamSpec] = {}
    for node in graph.nodes:
        if isinstance(node.layer, RecLoop):
            add_unit_specs(graph, node, specs)
        t = node.out_type
        n_out = t.feature if t.sparse or t.feature_index is not None else 0
        add_specs(node, graph.input_type_of(node), input_dim(graph, node), n_out, specs)
        normalized = output_batch_norm(node)
        if normalized is not None:
            add_specs(normalized, t, n_out, n_out, specs)
    return list(specs.values())


def add_unit_specs(graph: Graph, node: Node, specs: dict[str, ParamSpec]) -> None:
    """The parameters of a rec unit's layers, `<rec>/rec/<layer>/...` as RETURNN names them."""
    loop = node.layer
    assert isinstance(loop, RecLoop)
    x = graph.input_type_of(node) if loop.sources else None
    classes = graph.dims.target(loop.target)
    target = TensorType((BATCH,), "int32", classes) if classes is not None else None
    for inner in loop.unit:
        if not inner.layer.concatenates:
            types = []
        else:
            types = [loop.source_type(s, graph.type_of, target, x) for s in inner.sources]
        n_in = concat_dim(types)
        t = inner.out_type
        n_out = t.feature if t.sparse or t.feature_index is not None else 0
        x_in = types[0].with_feature(n_in) if len(types) > 1 and n_in else (types[0] if types else None)
        add_specs(replace(inner, name=loop.param_prefix(node.name, inner.name)), x_in, n_in, n_out, specs)


def input_dim(graph: Graph, node: Node) -> int:
    """The concatenated feature dim of a node's sources (`concat_dim`); 0 for an operand layer (combine)."""
    return concat_dim([graph.type_of(s) for s in node.sources]) if node.layer.concatenates else 0


def concat_dim(types: list[TensorType]) -> int:
    """The concatenated feature dim of source types, 0 where one has none ([B, T] after a dense
    reinterpret_data of argmax, a reduce over T of swapped axes): only layers without parameters read such a
    source (typing refuses a parametrised layer on it, as RETURNN's get_out_data_from_opts does), and their
    `param_shapes_for` ignores the dim."""
    if any(t.classes is None and t.feature_index is None for t in types):
        return 0
    return sum(t.feature for t in types)


def add_specs(node: Node, x: TensorType | None, n_in: int, n_out: int, specs: dict[str, ParamSpec]) -> None:
    """The parameters of one node (its layer reading `x`) into `specs`."""
    layer = node.layer
    limits, constants = layer.param_init_limits_for(node.name, n_in, n_out), layer.param_init_constants(node.name)
    frozen = layer.non_trainable(node.name)
    for suffix, shape in layer.param_shapes_for(node.name, x, n_in, n_out).items():
        name = param_name(node, suffix)
        if name != f"{node.name}/{suffix}":
            check_reused(node, suffix, shape, specs)
            continue
        specs[name] = ParamSpec(name, shape, node.name, limits.get(suffix, 0.0), constants.get(suffix),
                                layer.trainable and suffix not in frozen)


def output_batch_norm(node: Node) -> Node | None:
    """A layer's `batch_norm` option as a batch_norm node that reads the layer's output under the layer's name (so
    its parameters are `<layer>/batch_norm/...`, RETURNN's); None without the option."""
    option = node.layer.batch_norm
    if option is None:
        return None
    bn = option.layer(node.at, node.name)
    return replace(node, layer=replace(bn, trainable=node.layer.trainable))


def param_name(node: Node, suffix: str) -> str:
    """The full name of the parameter `suffix` (`W`, `rec/W_re`) that `node` computes with: its own
    `node/suffix`, or that of the layer its `reuse_params` names (RETURNN's ReuseParams.variable_custom_getter)."""
    reuse = node.layer.reuse_params
    try:
        owner = reuse.owner(suffix) if reuse else None
    except ValueError as e:
        raise NetcError(f"reuse_params: {e}", node.at("reuse_params"),
                        f'add "{suffix}" to the map (null: the layer\'s own), or "auto_create_missing": true') from None
    return f"{owner or node.name}/{suffix}"


def check_reused(node: Node, suffix: str, shape: tuple[int, ...], specs: dict[str, ParamSpec]) -> None:
    """A reused parameter exists with the shape this layer needs (RETURNN asserts both)."""
    name = param_name(node, suffix)
    owner = name[:-len(suffix) - 1]
    spec = specs.get(name)
    if spec is None:
        have = [s.name for s in specs.values() if s.layer == owner]
        raise NetcError(f"reuse_params: layer {owner!r} has no parameter {name!r}", node.at("reuse_params"),
                        f"{owner!r} has " + (", ".join(have) if have else "no parameters") +
                        "; share the parameters of a layer of the same class")
    if spec.shape != shape:
        raise NetcError(f"reuse_params: {name!r} has shape {spec.shape}, but this layer needs {shape}",
                        node.at("reuse_params"), f"give this layer what shapes the parameter as {owner!r} has it: its "
                        "input dim, n_out, and options such as unit, groups or filter_size")


def init_params(graph: Graph, seed: int) -> dict[str, np.ndarray]:
    """Glorot-uniform weights, zero biases, constants where a layer says; each seeded by (seed, its name)."""
    params = {}
    for spec in param_specs(graph):
        if spec.init_value is not None:
            params[spec.name] = np.full(spec.shape, spec.init_value, np.float32)
            continue
        if spec.init_limit == 0.0:
            params[spec.name] = np.zeros(spec.shape, np.float32)
            continue
        rng = np.random.default_rng([seed, zlib.crc32(spec.name.encode())])
        values = rng.random(spec.shape, dtype=np.float32)
        values *= np.float32(2 * spec.init_limit)  # in place: models reach 100M+ parameters
        values -= np.float32(spec.init_limit)
        params[spec.name] = values
    return params


def check_params(graph: Graph, given: dict[str, np.ndarray], file: str) -> dict[str, np.ndarray]:
    """Match loaded parameters to the graph: every problem is reported, by name and shape."""
    specs = {s.name: s for s in param_specs(graph)}
    problems = []
    for name, spec in specs.items():
        if name not in given:
            problems.append(f"missing {name!r} (expected shape {spec.shape})")
        elif tuple(given[name].shape) != spec.shape:
            problems.append(f"{name!r} has shape {tuple(given[name].shape)}, expected {spec.shape}")
    problems += [f"unexpected {name!r} (shape {tuple(v.shape)})" for name, v in given.items() if name not in specs]
    if problems:
        raise NetcError("parameters do not match the network:\n    " + "\n    ".join(problems), Where(file),
                        "names and shapes follow RETURNN TF (layer/W, layer/rec/W, ...)")
    result = {}
    for name, value in given.items():
        if not np.issubdtype(value.dtype, np.floating) or not np.all(np.isfinite(value)):
            raise NetcError(f"{name!r} must hold finite floating-point numbers", Where(file))
        result[name] = np.ascontiguousarray(value, dtype=np.float32)
    return result


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read an .npz of named parameters without unpickling anything."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise NetcError("no such parameter file", Where(str(path)), "check the --params path") from None
    except (OSError, ValueError, EOFError) as e:
        raise NetcError(f"not a readable .npz parameter file: {e}", Where(str(path)),
                        "write parameters with numpy.savez or netc train") from None
