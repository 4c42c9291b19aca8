"""RETURNN's `pretrain`: the network grows layer by layer over the first epochs (net dicts -> net dicts).

It lives in ir/ because `netc check` prints the schedule without the trainer; the trainer builds each net.

Follows `returnn/pretrain.py` (`Pretrain`, `pretrain_from_config`) and the TF engine's use of it
(`returnn/tf/engine.py: init_train_epoch, init_new_network`, `returnn/engine/base.py`). Epochs
1 ... `num_epochs` of the schedule are pretrain epochs (the last one trains the full network); they count
towards `num_epochs`, use `pretrain_learning_rate`, print `pretrain epoch N score: ...` and write
`<model>.pretrain.NNN` checkpoints. The net dicts here are plain dicts: each becomes a Graph through the
same reader as the config's own network.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, replace
from typing import Any

from .build import network_of
from .errors import NetcError, did_you_mean
from .keys import needed
from .read import Document

Net = dict[str, Any]
ALGOS = ("from_output", "from_input", "no_network_modifications")
COPY_MODES = (None, "ifpossible", "subset", "reset")
OPTIONS = ("repetitions", "construction_algo", "copy_param_mode", "copy_output_layer", "greedy", "output_layers",
           "input_layers")
TOP_LEVEL = {"pretrain_repetitions": "repetitions", "pretrain_construction_algo": "construction_algo",
             "pretrain_copy_output_layer": "copy_output_layer", "pretrain_greedy": "greedy"}


@dataclass(frozen=True)
class Pretrain:
    """The net dict of each pretrain epoch (repetitions expanded) and how parameters carry over."""

    nets: tuple[Net, ...]
    algo: str = "from_output"
    repetitions: tuple[int, ...] = (1,)
    copy_param_mode: str | None = None  # None/ifpossible/subset: copy by name where shapes fit; reset: none
    copy_output_layer: bool = True  # False: output layers are drawn anew at each network change
    learning_rate: float | None = None  # `pretrain_learning_rate`; None: `learning_rate`

    @property
    def num_epochs(self) -> int:
        """How many epochs are pretrain epochs (RETURNN's `get_train_num_epochs`)."""
        return len(self.nets)

    def is_pretrain_epoch(self, epoch: int) -> bool:
        return epoch <= self.num_epochs

    def net(self, epoch: int) -> Net:
        """The net dict of an epoch (1-based); after pretraining, the full network."""
        return self.nets[min(epoch, self.num_epochs) - 1]

    def summary(self) -> str:
        """RETURNN's `str(pretrain)` line."""
        line = f"Pretrain construction algo {self.algo!r}, number of pretrain epochs: {self.num_epochs}"
        reps = set(self.repetitions)
        if reps != {1}:
            shown = self.repetitions[0] if len(reps) == 1 else list(self.repetitions)
            line += f" (repetitions: {shown})"
        return line

    def schedule(self) -> list[str]:
        """One line per pretrain epoch: its layers and the output layers' sources (for `netc check`)."""
        lines = [self.summary()]
        for epoch, net in enumerate(self.nets, 1):
            layers = [name for name in net if not name.startswith("#")]
            outputs = [f"{name} from {sources(net[name])}" for name in layers if is_output(net, name, ("output",))]
            lines.append(f"pretrain epoch {epoch}: {len(layers)} layers {', '.join(layers)}; {'; '.join(outputs)}")
        return lines


    def explain(self, net: Net, error: NetcError) -> NetcError:
        """`error` from building `net`, said to be the pretrain network's when `net` is one of the smaller
        networks of the schedule (the user did not write it); an error of the full network stays as it is.

        RETURNN builds the same networks (`Pretrain.get_network_json_for_epoch`) and fails on such a network
        too, e.g. a chunked BLSTM: `from_output` removes the time_unchunking layer, and RETURNN's CE then fails
        with "logits and labels must have the same first dimension".
        """
        epochs = [epoch for epoch, other in enumerate(self.nets, 1) if other == net]
        if not epochs or net == self.nets[-1]:
            return error
        span = f"epoch {epochs[0]}" if len(epochs) == 1 else f"epochs {epochs[0]}-{epochs[-1]}"
        removed = sorted(set(layers(self.nets[-1])) - set(layers(net)))
        outputs = "; ".join(f"{name} from {sources(net[name])}" for name in layers(net)
                            if is_output(net, name, ("output",)))
        step = self.step_of(epochs[0])
        return NetcError(f"in the network of pretrain {span} (construction {self.algo!r} removed "
                         f"{', '.join(removed) or 'no layer'}; {outputs}): {error.message}", error.where,
                         f"{error.hint + '; ' if error.hint else ''}this network is pretrain's, not the config's: "
                         f"remove `pretrain`, or skip this step with repetitions {{{step}: 0}}")

    def step_of(self, epoch: int) -> int:
        """The construction step (index into `repetitions`) that an epoch trains."""
        first = 1
        for step, count in enumerate(self.repetitions):
            if first <= epoch < first + count:
                return step
            first += count
        raise ValueError(f"epoch {epoch} is not a pretrain epoch")


def read_pretrain(doc: Document) -> Pretrain | None:
    """`pretrain` ("default", True, or a dict of options) with `pretrain_*` keys (`pretrain_from_config`).

    Raises NetcError located at the key for an unknown type or option, a non-literal value, `greedy`
    (RETURNN TF no longer implements it) and a construction that fails.
    """
    value = needed(doc, "pretrain")
    if not value:
        return None
    if not (value in ("default", True) or isinstance(value, dict)):
        raise error(doc, "pretrain", f"unknown pretrain type {value!r}", 'use "default" or a dict of options')
    opts = dict(value) if isinstance(value, dict) else {}
    for key, option in TOP_LEVEL.items():
        if key in doc.values:
            opts.setdefault(option, needed(doc, key))
    for key in opts:
        if key not in OPTIONS:
            raise error(doc, "pretrain", f"unknown pretrain option {key!r}", did_you_mean(str(key), OPTIONS))
    network, _ = network_of(doc)
    lr = needed(doc, "pretrain_learning_rate")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float))):
        raise error(doc, "pretrain_learning_rate", f"must be a number, got {lr!r}")
    return replace(build_pretrain(doc, normalized(network), opts), learning_rate=None if lr is None else float(lr))


def build_pretrain(doc: Document, network: Net, opts: dict[str, Any]) -> Pretrain:
    """The schedule of `Pretrain.__init__`: construct, drop steps adding only non-trainable layers, repeat."""
    algo, mode = opts.get("construction_algo", "from_output"), opts.get("copy_param_mode")
    if algo not in ALGOS:
        raise error(doc, "pretrain", f"unknown construction_algo {algo!r}",
                    "known: " + ", ".join(ALGOS) + " (a function needs --exec-config, which netc does not run here)")
    if mode not in COPY_MODES:
        raise error(doc, "pretrain", f"unknown copy_param_mode {mode!r}", "known: ifpossible, subset, reset")
    if opts.get("greedy"):
        raise error(doc, "pretrain", "greedy pretraining is not implemented by RETURNN TF",
                    "remove greedy (RETURNN raises NotImplementedError from the second epoch)")
    copy_output = opts.get("copy_output_layer", mode)
    copy_output = "ifpossible" if copy_output is None else copy_output
    outputs, inputs = layer_names(doc, opts, "output_layers", "output"), layer_names(doc, opts, "input_layers", "data")
    for name in outputs:
        if name not in network:
            raise error(doc, "pretrain", f"output layer {name!r} is not in the network", "set output_layers")
    if algo == "from_output":
        steps = from_output(network, outputs, inputs)
    elif algo == "from_input":
        steps = from_input(network, outputs)
    else:
        steps = [network]
    steps = trainable_steps(steps, outputs)
    reps = repetitions(doc, opts.get("repetitions"), len(steps))
    nets = tuple(deepcopy(net) for net, n in zip(steps, reps) for _ in range(n))
    return Pretrain(nets, algo, reps, mode, copy_output not in (False, "reset"))


def layer_names(doc: Document, opts: dict[str, Any], option: str, default: str) -> tuple[str, ...]:
    """The layer names of `output_layers` or `input_layers` (RETURNN iterates the value; a number is an error)."""
    value = opts.get(option, (default,))
    if value is None or isinstance(value, (int, float)):
        raise error(doc, "pretrain", f"{option} must be a list of layer names, got {value!r}",
                    f"e.g. {option}: [{default!r}]")
    return tuple(value)


def normalized(network: Net) -> Net:
    """A deep copy whose layers list their sources: a string `from` becomes a one-element list."""
    net = deepcopy(network)
    for name, layer in net.items():
        if not str(name).startswith("#") and isinstance(layer, dict) and isinstance(layer.get("from"), str):
            layer["from"] = [layer["from"]]
    return net


def sources(layer: Any) -> list[str]:
    return list(layer.get("from", ["data"])) if isinstance(layer, dict) else []


def layers(net: Net) -> list[str]:
    return sorted(name for name in net if not str(name).startswith("#"))


def is_output(net: Net, name: str, outputs: tuple[str, ...]) -> bool:
    """`Pretrain._is_layer_output`: a named output layer, a softmax, or a layer with a target."""
    layer = net[name]
    return name in outputs or layer.get("class") == "softmax" or "target" in layer


def from_output(network: Net, outputs: tuple[str, ...], inputs: tuple[str, ...]) -> list[Net]:
    """`_construct_epochs_from_output`: repeatedly replace the output layers' sources by their sources."""
    steps = [network]
    while (smaller := remove_top(steps[0], network, outputs, inputs)) is not None:
        steps.insert(0, smaller)
    return steps


def remove_top(current: Net, network: Net, outputs: tuple[str, ...], inputs: tuple[str, ...]) -> Net | None:
    """`_construct_new_epoch_from_output`: the next smaller net, or None; the new sources are sorted."""
    new = deepcopy(current)
    while True:
        new_sources: set[str] = set()
        deleted: set[str] = set()
        for out in outputs:
            for source in sources(new[out]):
                if source in inputs:
                    new_sources.add(source)
                elif source in new:
                    new_sources.update(sources(new[source]))
                    del new[source]
                    deleted.add(source)
        if sorted(new_sources) == sorted({s for out in outputs for s in sources(new[out])}):
            return None
        for out in outputs:
            new[out]["from"] = sorted(new_sources)
        if new_sources & set(inputs):
            continue  # the output layer's input dim would change: go one step further
        if all(not network[name].get("trainable", True) for name in deleted):
            continue
        return new


def from_input(network: Net, outputs: tuple[str, ...]) -> list[Net]:
    """`_construct_epochs_from_input`: the layers within 1, 2, ... steps of the input, plus the outputs."""
    steps, depth = [], 1
    while (net := input_step(network, outputs, depth)) is not None:
        steps.append(net)
        depth += 1
    return steps + [network]


def descendants(network: Net, names: list[str]) -> list[str]:
    """`_find_layer_descendants`: layers reading any of `names`, in name order."""
    return [other for other in layers(network) if any(s in sources(network[other]) for s in names)]


def input_step(network: Net, outputs: tuple[str, ...], depth: int) -> Net | None:
    """`_construct_next_epoch_from_input` for one depth; None once the full topology is reached."""
    new: Net = {}
    needed: set[str] = set()

    def add(name: str) -> None:
        needed.discard(name)
        new[name] = deepcopy(network[name])
        needed.update(set(sources(new[name])) - set(new) - {"data"})

    frontier = ["data"]
    while added := [n for n in descendants(network, frontier)
                    if n not in new and not network[n].get("trainable", True)]:
        for name in added:
            frontier.append(name)
            add(name)
    for _ in range(depth):
        frontier = [n for n in descendants(network, frontier) if n not in new]
        for name in frontier:
            add(name)
        if not frontier:
            return None
    for name in layers(network):
        if name not in new and is_output(network, name, outputs):
            add(name)
    if not needed:
        return None
    for name in sorted(new):
        existing = existing_inputs(network, new, name)
        if sources(new[name]) != existing:
            new[name]["from"] = [s for s in existing if s != "data"]
    return new


def existing_inputs(network: Net, new: Net, name: str) -> list[str]:
    """`_find_existing_inputs`: the nearest sources of `name` (in the full network) that exist in `new`."""
    collected: list[str] = []
    visited = {name}

    def walk(layer: str) -> None:
        for source in sources(network[layer]):
            if source in new or source == "data":
                if source not in collected:
                    collected.append(source)
            elif source not in visited:
                visited.add(source)
                walk(source)

    walk(name)
    return collected


def trainable_steps(steps: list[Net], outputs: tuple[str, ...]) -> list[Net]:
    """`_remove_non_trainable_added_only`: keep a step only if it adds a trainable non-output layer."""
    kept = []
    for before, after in zip([{}] + steps[:-2], steps[:-1]):
        added = [n for n in layers(after) if not is_output(after, n, outputs) and n not in before]
        if any(after[n].get("trainable", True) for n in added):
            kept.append(after)
    return kept + [steps[-1]]


def repetitions(doc: Document, value: Any, steps: int) -> tuple[int, ...]:
    """How often each step repeats: an int, a list (the last one repeated), or a dict with default/final/index."""
    if not value:
        value = 1
    if isinstance(value, dict):
        reps = [value.get("default", 1)] * steps
        for key, n in value.items():
            if key != "default":
                reps[steps - 1 if key == "final" else step_index(doc, key, steps)] = n
    elif isinstance(value, int) and not isinstance(value, bool):
        reps = [value] * steps
    elif isinstance(value, (list, tuple)) and 0 < len(value) <= steps:
        reps = list(value) + [value[-1]] * (steps - len(value))
    else:
        raise error(doc, "pretrain", f"cannot read repetitions {value!r} for {steps} pretrain steps",
                    "an int, a list of at most that many ints, or a dict with default/final/step index")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in reps):
        raise error(doc, "pretrain", f"repetitions must be ints >= 0, got {value!r}")
    return tuple(reps)


def step_index(doc: Document, key: Any, steps: int) -> int:
    """A step index key of a `repetitions` dict (an int, or its digits in a JSON config), checked against the
    number of construction steps (RETURNN indexes its list of steps with it)."""
    try:
        index = int(key)
    except (TypeError, ValueError):
        index = None
    if index is None or not -steps <= index < steps:
        raise error(doc, "pretrain", f"repetitions key {key!r} is not a construction step (there are {steps})",
                    f"use 'default', 'final' or a step index 0 ... {steps - 1}")
    return index


def error(doc: Document, key: str, message: str, hint: str | None = None) -> NetcError:
    return NetcError(message, doc.where(key, key=key), hint)
