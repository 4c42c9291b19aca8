"""Flatten `subnetwork` layers into `<layer>/<sublayer>` entries before the graph is built (ir/layers/subnet.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import NetcError
from .layers import CLASSES
from .read import Document

DATA_NAMES = ("data", "data:data")
NO_SOURCES = (None, "none", "null", [], ())
DROPOUT_KEYS = ("dropout", "dropout_noise_shape")
Entry = tuple[str, tuple[str, ...], Any]  # node name, key path of its dict in the document, its (rewritten) dict
Resolve = Callable[[str], list[str]]  # a source name as written in a scope -> node names


def flatten(doc: Document, path: tuple[str, ...], network: dict[str, Any]) -> list[Entry]:
    """Every layer of a net dict; each subnetwork's sublayers follow it, named and wired as in RETURNN."""
    return expand(doc, path, "", network, lambda name: [name])


def expand(doc: Document, path: tuple[str, ...], scope: str, network: dict[str, Any], resolve: Resolve,
           frozen: bool = False) -> list[Entry]:
    """The entries of one (sub)network; `scope` prefixes its names, `resolve` maps its layers' sources.

    `frozen`: an enclosing subnetwork has `trainable: False`, which freezes every sublayer (RETURNN's
    `LayerBase.add_param` checks the whole layer path).
    """
    entries: list[Entry] = []
    for name, layer in network.items():
        if str(name).startswith("#"):
            continue
        full, at = f"{scope}{name}", (*path, str(name))
        layer = rewrite(layer, resolve) if scope else layer
        if frozen and isinstance(layer, dict):
            layer = {**layer, "trainable": False}
        if not (isinstance(layer, dict) and layer.get("class") == "subnetwork" and isinstance(layer.get("subnetwork"),
                                                                                             dict)):
            entries.append((full, at, layer))
            continue
        if "output" not in layer["subnetwork"]:
            raise NetcError("the subnetwork has no layer named 'output'",
                            doc.where(*at, "subnetwork", layer=full, key="subnetwork"),
                            "name the sublayer whose value the subnetwork gives 'output'")
        sources = sources_of(layer)
        if layer.get("dropout"):  # RETURNN's make_subnet: "data" inside is the sources with the dropout
            data = {"class": "copy", "from": sources or [], **{k: layer[k] for k in DROPOUT_KEYS if k in layer}}
            entries.append((f"{full}/data", at, data))
            sources = [f"{full}/data"]
            layer = {k: v for k, v in layer.items() if k not in DROPOUT_KEYS}

        def inner(source: str, full: str = full, sources: list[str] = sources, resolve: Resolve = resolve) -> list[str]:
            if source in DATA_NAMES:
                return sources
            if source.startswith("base:"):
                return resolve(source[len("base:"):])
            return [f"{full}/{source}"]

        entries.append((full, at, {**layer, "from": [f"{full}/output"]}))
        entries += expand(doc, (*at, "subnetwork"), f"{full}/", layer["subnetwork"], inner,
                          frozen or layer.get("trainable") is False)
    return entries


def sources_of(layer: dict[str, Any]) -> list[str]:
    """The `from` of a (resolved) layer dict as a list; an absent `from` means `data`."""
    value = layer.get("from", "data")
    if value in NO_SOURCES:
        return []
    return [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]


def rewrite(layer: Any, resolve: Resolve) -> Any:
    """The layer dict with each source resolved (an absent `from` means `data`); other forms stay for the reader."""
    if not isinstance(layer, dict):
        return layer
    layer = rewrite_layer_keys(rewrite_reuse(layer, resolve), resolve)
    value = layer.get("from", "data")
    if value in NO_SOURCES:
        return layer
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(v, str) for v in names):
        return layer
    return {**layer, "from": [r for v in names for r in resolve(v)]}


def rewrite_layer_keys(layer: dict[str, Any], resolve: Resolve) -> dict[str, Any]:
    """The options naming a layer (`Layer.layer_keys`: `chunking_layer`, `size_base`) resolved as sources are:
    RETURNN's `transform_config_dict` looks them up with the subnetwork's `get_layer` (a sibling, `base:x`)."""
    keys = CLASSES[layer["class"]].layer_keys if isinstance(layer.get("class"), str) and layer["class"] in CLASSES \
        else ()
    return {**layer, **{key: one(layer[key], resolve) for key in keys if key in layer}}


def one(name: Any, resolve: Resolve) -> Any:
    """A layer name resolved to one node name; anything else (a non-string, a name of several) as it is."""
    found = resolve(name) if isinstance(name, str) and name else [name]
    return found[0] if len(found) == 1 else name


def rewrite_reuse(layer: dict[str, Any], resolve: Resolve) -> dict[str, Any]:
    """`reuse_params` names (a string, `reuse_layer`, the map's layers) resolved as sources are."""
    value = layer.get("reuse_params")
    if isinstance(value, str):
        return {**layer, "reuse_params": one(value, resolve)}
    if not isinstance(value, dict):
        return layer
    value = {**value, **({"reuse_layer": one(value["reuse_layer"], resolve)} if "reuse_layer" in value else {})}
    if isinstance(value.get("map"), dict):
        value["map"] = {k: {**v, "reuse_layer": one(v["reuse_layer"], resolve)}
                        if isinstance(v, dict) and "reuse_layer" in v else one(v, resolve)
                        for k, v in value["map"].items()}
    return {**layer, "reuse_params": value}
