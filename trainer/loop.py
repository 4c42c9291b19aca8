"""The training loop: epochs of steps, dev/eval scores, learning-rate control, checkpoints, ranks."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from netc.data import Corpus, HdfSeq
from netc.ir import NetcError, Where, canonical_json, check_params
from netc.ir.loop import RecLoop
from netc.ir.params import param_specs
from netc.ir.types import Loss

from .batching import Batch, collate
from .checkpoint import (
    checkpoint_path,
    complete_checkpoints,
    load_checkpoint,
    make_checkpoint_directory,
    newest_checkpoint,
    read_params,
    save_checkpoint,
)
from .constraints import constraint_term
from .context import RunContext
from .distributed import all_sum, init_ranks, pick_device, ranks_agree, shutdown
from .initial import given_values, read_given_params
from .loss import Stats, l2_term, layer_loss, loss_nodes, missing_target, objective
from .lr_control import LrControl, read_lr_file, write_lr_file
from .model import NetModel
from .optim import GradientSteps, make_optimizer, set_lr
from .progress import ProgressBar, epoch_line, eval_line
from .setup import Setup

Log = Callable[[str], None]


class Trainer:
    """Trains the graph of a Setup; rank 0 prints RETURNN's lines and writes checkpoints."""

    def __init__(self, setup: Setup, log: Log = print, progress: bool | None = None):
        self.setup, self.config, self.log, self.progress = setup, setup.config, log, progress
        self.device = pick_device(self.config.device)
        self.ranks = init_ranks(self.device)
        self.control = LrControl(self.config)
        self.given = read_given_params(setup.doc)
        # The same dropout noise on every rank: a per-feature mask is shared by the whole global batch.
        self.noise = torch.Generator().manual_seed(self.config.random_seed)
        self.pretrain = setup.pretrain
        self.global_step = 0  # RETURNN's global_train_step: steps over all epochs
        self.start_values: dict[str, np.ndarray] = {}  # given parameters (also of layers pretrain adds later)
        self.install(self.net_dict(1))

    def net_dict(self, epoch: int) -> dict[str, Any] | None:
        """The pretrain net dict of an epoch; None: the config's network."""
        return self.pretrain.net(epoch) if self.pretrain else None

    def install(self, network: dict[str, Any] | None, carried: dict[str, torch.Tensor] | None = None) -> None:
        """Build the model of a net dict with fresh optimizer state; parameters from `carried`, else
        from `given`, else initialised (RETURNN's `init_new_network` makes a new network and updater)."""
        self.network = network
        try:
            self.graph = self.setup.graph(network)
            self.losses = loss_nodes(self.graph)
        except NetcError as e:  # a smaller pretrain network's error says so (the config's network may be fine)
            explained = e if network is None or self.pretrain is None else self.pretrain.explain(network, e)
            if explained is e:
                raise
            raise explained from e
        if self.setup.chunking is not None and (self.graph.is_encoder_decoder or
                                                any(n.layer.loss is Loss.CTC for n in self.losses)):
            raise NetcError("chunking cuts the input and its targets alike; a decoder's or CTC's targets have "
                            "their own length", self.setup.doc.where("chunking", key="chunking"),
                            'set chunking "0" (RETURNN refuses this too: "Chunking with multiple data-keys '
                            'of different length")')
        self.reported = next((n for n in self.losses if n.name == "output"), self.losses[0])
        self.model = NetModel(self.graph, seed=self.config.random_seed).to(self.device)
        self.copy_into_model(self.start_values | {k: v.cpu() for k, v in (carried or {}).items()})
        self.params = list(self.model.parameters())
        self.optimizer = make_optimizer(self.config, self.params)
        self.gradients = GradientSteps(self.config, self.params, self.config.random_seed)
        self.forward = self.model
        if self.ranks.world > 1:
            self.forward = torch.nn.parallel.DistributedDataParallel(self.model)

    def start_from(self, values: dict[str, np.ndarray]) -> None:
        """Start training from given parameters: those of the current network now, those of layers that
        pretraining adds later when it adds them (RETURNN draws these anew: netc's intended difference)."""
        self.start_values = dict(values)
        self.copy_into_model(self.start_values)

    def copy_into_model(self, values: dict[str, np.ndarray | torch.Tensor]) -> None:
        """Set the parameters named in `values` whose shapes agree; the others keep their values."""
        with torch.no_grad():
            for name, parameter in self.model.named_parameters():
                value = values.get(name)
                if value is not None and tuple(value.shape) == tuple(parameter.shape):
                    parameter.copy_(torch.as_tensor(np.asarray(value, np.float32)))

    def grow(self, epoch: int) -> None:
        """Switch to the epoch's pretrain network when it differs from the current one: parameters copied
        by name where the shapes agree (`set_params_by_serialized` with `ignore_wrong_shape`), optimizer reset."""
        network = self.net_dict(epoch)
        if network == self.network:
            return
        assert self.pretrain is not None
        old = {k: v.detach().clone() for k, v in self.model.named_parameters()}
        if self.pretrain.copy_param_mode == "reset":
            old = {}
        if not self.pretrain.copy_output_layer:
            outputs = {n.name for n in self.setup.graph(network).nodes if n.name == "output" or n.layer.loss}
            old = {k: v for k, v in old.items() if k.split("/")[0] not in outputs}
        self.install(network, old)
        if self.pretrain.copy_param_mode == "subset":
            for name, parameter in self.model.named_parameters():
                if name in old and old[name].shape != parameter.shape:
                    raise NetcError(f"pretrain copy_param_mode 'subset' from shape {tuple(old[name].shape)} to "
                                    f"{tuple(parameter.shape)} ({name!r}) is not supported",
                                    Where(self.setup.doc.path, key="pretrain"),
                                    "use copy_param_mode 'ifpossible' (a new value where the shape changes)")

    def is_pretrain(self, epoch: int) -> bool:
        return self.pretrain is not None and self.pretrain.is_pretrain_epoch(epoch)

    def run(self) -> None:
        """Train from the first epoch not yet done to `num_epochs`."""
        # NOTE: as TensorFlow does by default. Without it, small LSTM states and Adam moments decay into
        # denormals and an epoch of RETURNN's 12AX demo takes 150x longer (2:38 instead of 0:01). The mode is
        # process-wide: it is switched back off when training ends, for whatever the caller runs next.
        if self.ranks.is_main:  # before the first epoch, not after it
            make_checkpoint_directory(self.config.model)
        torch.set_flush_denormal(True)
        finished = False
        try:
            for epoch in range(self.restore(), self.config.num_epochs + 1):
                self.run_epoch(epoch)
            if self.ranks.world > 1:
                agree = ranks_agree(self.params, self.ranks)
                self.say(f"parameters {'identical' if agree else 'DIFFER'} on {self.ranks.world} ranks")
            finished = True
        finally:
            torch.set_flush_denormal(False)
            self.forward = self.model  # NOTE: DDP's reducer holds the process group (distributed.shutdown)
            shutdown(self.ranks, finished)

    def run_epoch(self, epoch: int) -> None:
        self.grow(epoch)
        lr = self.control.lr(epoch) if self.pretrain is None or epoch > self.pretrain.num_epochs + 1 else None
        if lr is None:
            # RETURNN's init_train_epoch: pretrain epochs train at pretrain_learning_rate, the next epoch at
            # learning_rate; the control records them unless it knows the epoch's rate already (a
            # learning_rate_file entry: `set_default_learning_rate_for_epoch`).
            lr = self.pretrain.learning_rate if self.is_pretrain(epoch) else None
            lr = self.config.learning_rate if lr is None else lr
            self.control.epochs.setdefault(epoch, {"lr": lr, "scores": {}})
        set_lr(self.optimizer, lr)
        start = time.monotonic()
        train = self.train_epoch(epoch)
        line = epoch_line(epoch, train.score, train.error, time.monotonic() - start)
        self.say(f"pretrain {line}" if self.is_pretrain(epoch) else line)
        scores = {"train_score": train.score, "train_error": train.error}
        for role in ("dev", "eval"):
            if role in self.setup.datasets:
                stats = self.evaluate(role, epoch)
                self.say(eval_line(role, stats.score, stats.error))
                scores |= {f"{role}_score": stats.score, f"{role}_error": stats.error}
        self.control.record(epoch, scores)
        if self.ranks.is_main:
            self.save(epoch)

    def say(self, line: str) -> None:
        if self.ranks.is_main:
            self.log(line)

    def train_epoch(self, epoch: int) -> Stats:
        corpus, lengths, order, skipped = self.setup.pieces("train", epoch)
        if skipped:
            unit = "chunks" if self.setup.chunking else "sequences"
            self.say(f"skipped {skipped} {unit} longer than max_seq_length {self.config.max_seq_length}")
        batches = self.setup.batches(lengths, order)
        self.model.train()
        bar = ProgressBar(len(batches), self.progress if self.ranks.is_main else False)
        total = torch.zeros(3, dtype=torch.float64)
        for step, indices in enumerate(batches, 1):
            total += self.train_step(corpus, indices, (epoch, step))
            bar.update(step, float(total[2]), float(total[0] / max(float(total[2]), 1.0)))
        bar.close()
        stats = Stats()
        stats.add(all_sum(total.to(self.device), self.ranks).cpu())
        return stats

    def local_batch(self, corpus: Corpus, indices: np.ndarray) -> tuple[Batch, float]:
        """This rank's shard of a global batch; an empty shard runs one sequence with weight 0."""
        mine = indices[self.ranks.rank::self.ranks.world]
        weight = 1.0 if len(mine) else 0.0
        mine = mine if len(mine) else indices[:1]
        seqs, t = [corpus[int(i)] for i in mine], self.graph.input_type
        for seq in seqs:
            self.check_labels(seq)
        return collate(seqs, t.feature, t.sparse).to(self.device), weight

    def check_labels(self, seq: HdfSeq) -> None:
        """Target labels within the network's classes, and sparse inputs within its vocabulary (an out-of-range
        CTC label corrupts memory in torch's kernel; a CE or embedding one is an index error): an error naming the
        sequence and the dim's key."""
        labels_of = dict(seq.targets) | ({"data": seq.features} if self.graph.input_type.sparse else {})
        for key, labels in labels_of.items():
            dim = self.graph.dims.num_inputs if key == "data" else self.graph.dims.target(key)
            if dim is None or not len(labels):
                continue
            low, high = int(np.min(labels)), int(np.max(labels))
            if low < 0 or high >= dim:
                bad = low if low < 0 else high
                at = "extern_data" if "extern_data" in self.setup.doc.values else "num_outputs"
                raise NetcError(f"sequence {seq.tag!r}: {key!r} holds label {bad}, outside the network's "
                                f"{dim} classes 0..{dim - 1}", self.setup.doc.where(at, key=at),
                                "the data's labels and the config's target dim must agree")

    def run_model(self, batch: Batch, model: torch.nn.Module) -> tuple[list[torch.Tensor], RunContext]:
        """`[loss_sum, errors, norm]` per loss layer (loss.py), and the run's values."""
        target_lengths = batch.target_lengths.get(self.config.target)
        if target_lengths is None and self.graph.is_encoder_decoder:  # decoders run over the target's frames
            decoder = next(n for n in self.graph.nodes if n.layer.is_decoder)
            key = "target" if isinstance(decoder.layer, RecLoop) else "encoder"
            raise missing_target(self.config.target, decoder.at(key), batch)
        ctx = model(batch.data, batch.lengths, target_lengths, self.noise, batch.targets)
        return [layer_loss(node, ctx, batch) for node in self.losses], ctx

    def train_step(self, corpus: Corpus, indices: np.ndarray, at: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """One update on a global batch (epoch and step `at`); returns this rank's stats of the reported loss."""
        batch, weight = self.local_batch(corpus, indices)
        per_layer, ctx = self.run_model(batch, self.forward)
        frames = all_sum(torch.stack([s[2].detach() for s in per_layer]), self.ranks)
        total = objective(per_layer, self.losses, frames, self.config.use_normalized_loss) * weight
        constraints = constraint_term(self.graph, ctx)  # RETURNN adds them to the objective, once per batch
        if constraints is not None:
            total = total + constraints * weight
        # DDP averages gradients over ranks; scaling by the world size makes them the global sum.
        total = total * self.ranks.world
        l2 = l2_term(self.graph, dict(self.model.named_parameters()))
        if l2 is not None:
            total = total + l2
        self.stop_unless_finite(total, at)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        if self.gradients.process(self.global_step):
            self.optimizer.step()
        self.global_step += 1
        return per_layer[self.losses.index(self.reported)].detach().double().cpu() * weight

    def stop_unless_finite(self, objective: torch.Tensor, at: tuple[int, int]) -> None:
        """Stop before a NaN/inf loss reaches the parameters; every rank stops at the same step."""
        bad = all_sum((~torch.isfinite(objective.detach())).double().reshape(1), self.ranks)
        if bad.item():
            newest = newest_checkpoint(self.config.model)
            kept = f"the last good checkpoint is {newest[1]}" if newest else "no checkpoint was written yet"
            raise NetcError(f"the training loss is {objective.item()} at epoch {at[0]}, step {at[1]}; "
                            f"stopped before updating the parameters", Where(self.setup.doc.path),
                            f"{kept}; lower learning_rate or set gradient_clip, then run again to resume")

    @torch.no_grad()
    def evaluate(self, role: str, epoch: int) -> Stats:
        """Scores with dropout off, over every sequence of the set (sharded over ranks)."""
        corpus, lengths, order, _ = self.setup.pieces(role, epoch)
        self.model.eval()
        total = torch.zeros(3, dtype=torch.float64)
        for indices in self.setup.batches(lengths, order):
            batch, weight = self.local_batch(corpus, indices)
            total += self.run_model(batch, self.model)[0][self.losses.index(self.reported)].double().cpu() * weight
        stats = Stats()
        stats.add(all_sum(total.to(self.device), self.ranks).cpu())
        return stats

    def save(self, epoch: int) -> None:
        """Checkpoint when due (every save_interval epochs and the last), and the learning-rate file."""
        if self.config.learning_rate_file:
            write_lr_file(self.config.learning_rate_file, self.control)
        if epoch % self.config.save_interval and epoch != self.config.num_epochs:
            return
        save_checkpoint(checkpoint_path(self.config.model, epoch, self.is_pretrain(epoch)), {
            "epoch": epoch,
            "params": {k: v.detach().cpu().clone() for k, v in self.model.named_parameters()},
            "optimizer": self.optimizer.state_dict(),
            "gradients": self.gradients.state() | {"global_step": self.global_step},
            "lr_control": self.control.state(),
            "rng": {"noise": self.noise.get_state()},
            "net": canonical_json(self.graph),
        })

    def restore(self) -> int:
        """The first epoch to run: after the newest loadable checkpoint (`start_epoch auto`) or as set."""
        start = self.config.start_epoch
        if start == "auto" and (resumed := self.restore_newest()) > 1:
            return resumed
        if start in ("auto", 1):
            # RETURNN's get_epoch_model: start_epoch 1 beside existing checkpoints ignores the import.
            self.start_from_given(import_model=start == "auto" or not complete_checkpoints(self.config.model))
            return 1
        else:
            epoch = int(start) - 1
            path = checkpoint_path(self.config.model, epoch, self.is_pretrain(epoch))
        self.load(path, epoch)
        self.say(f"resuming after epoch {epoch} from {path}")
        return epoch + 1

    def start_from_given(self, import_model: bool) -> None:
        """The first epoch's parameters from `preload_from_files` and `import_model_train_epoch1` (initial.py).

        As RETURNN restores the imported checkpoint's `global_step`, the step count (which decides when
        `accum_grad_multiple_step` applies) continues from it.
        """
        values = given_values(self.given, param_specs(self.graph), import_model, self.say)
        if import_model and self.given.import_model:
            file = read_params(self.given.import_model)
            if "global_step" in file:
                self.global_step = int(np.asarray(file["global_step"]))
            if self.pretrain:  # layers pretrain adds later, where the file has them
                later = {s.name: s.shape for s in param_specs(self.setup.graph(None)) if s.name not in values}
                values |= {name: value for name, value in file.items() if later.get(name) == tuple(value.shape)}
        if values:
            self.start_from(self.start_values | values)

    def restore_newest(self) -> int:
        """Resume after the newest checkpoint that loads; a damaged one is reported and skipped."""
        for epoch, path in complete_checkpoints(self.config.model):
            try:
                self.load(path, epoch)
            except NetcError as e:
                self.say(f"warning: skipping damaged checkpoint {path}: {e.message}")
                continue
            self.say(f"resuming after epoch {epoch} from {path}")
            return epoch + 1
        return 1

    def load(self, path: str, epoch: int) -> None:
        """Parameters, optimizer, lr control and dropout RNG from a checkpoint."""
        payload = load_checkpoint(path)
        if self.net_dict(epoch) != self.network:
            self.install(self.net_dict(epoch))
        params = {k: v.numpy() for k, v in payload["params"].items()}
        values = check_params(self.graph, params, path)
        with torch.no_grad():
            for name, p in self.model.named_parameters():
                p.copy_(torch.from_numpy(values[name]))
        try:
            self.optimizer.load_state_dict(payload["optimizer"])
            self.gradients.load_state(payload["gradients"])
            self.global_step = int(payload["gradients"]["global_step"])
            self.control.load_state(payload["lr_control"])
            self.noise.set_state(payload["rng"]["noise"])
        except (KeyError, ValueError, TypeError, RuntimeError) as e:
            raise NetcError(f"the checkpoint does not fit this config: {e}", Where(path),
                            "resume with the config that wrote it, or set start_epoch 1") from None
        lr_file = self.config.learning_rate_file
        if lr_file and Path(lr_file).exists():
            for e, entry in read_lr_file(lr_file).items():
                if e <= epoch:
                    self.control.epochs[e] = entry
