"""The training loop: epochs of steps, dev/eval scores, learning-rate control, checkpoints, ranks."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from netc.data import Corpus
from netc.ir import NetcError, Where, canonical_json, check_params

from .batching import Batch, collate
from .checkpoint import checkpoint_path, complete_checkpoints, load_checkpoint, newest_checkpoint, save_checkpoint
from .distributed import all_sum, init_ranks, pick_device, ranks_agree, shutdown
from .loss import Stats, frame_ce, l2_term, loss_nodes, missing_target, normalized
from .lr_control import LrControl, read_lr_file, write_lr_file
from .model import NetModel
from .optim import clip_gradients, make_optimizer, set_lr
from .progress import ProgressBar, epoch_line, eval_line
from .setup import Setup

Log = Callable[[str], None]


class Trainer:
    """Trains the graph of a Setup; rank 0 prints RETURNN's lines and writes checkpoints."""

    def __init__(self, setup: Setup, log: Log = print, progress: bool | None = None):
        self.setup, self.config, self.log, self.progress = setup, setup.config, log, progress
        self.graph = setup.graph()
        self.losses = loss_nodes(self.graph)
        self.reported = next((n for n in self.losses if n.name == "output"), self.losses[0])
        self.device = pick_device(self.config.device)
        self.ranks = init_ranks(self.device)
        self.model = NetModel(self.graph, seed=self.config.random_seed).to(self.device)
        self.params = list(self.model.parameters())
        self.optimizer = make_optimizer(self.config, self.params)
        self.control = LrControl(self.config)
        # The same dropout noise on every rank: a per-feature mask is shared by the whole global batch.
        self.noise = torch.Generator().manual_seed(self.config.random_seed)
        self.forward = self.model
        if self.ranks.world > 1:
            self.forward = torch.nn.parallel.DistributedDataParallel(self.model)

    def run(self) -> None:
        """Train from the first epoch not yet done to `num_epochs`."""
        # NOTE: as TensorFlow does by default. Without it, small LSTM states and Adam moments decay into
        # denormals and an epoch of RETURNN's 12AX demo takes 150x longer (2:38 instead of 0:01). The mode is
        # process-wide: it is switched back off when training ends, for whatever the caller runs next.
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
        set_lr(self.optimizer, self.control.lr(epoch))
        start = time.monotonic()
        train = self.train_epoch(epoch)
        self.say(epoch_line(epoch, train.score, train.error, time.monotonic() - start))
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
        corpus, lengths, order, skipped = self.setup.epoch("train", epoch)
        if skipped:
            self.say(f"skipped {skipped} sequences longer than max_seq_length {self.config.max_seq_length}")
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
        return collate([corpus[int(i)] for i in mine], self.graph.input_type.feature).to(self.device), weight

    def run_model(self, batch: Batch, model: torch.nn.Module) -> list[torch.Tensor]:
        """`[ce_sum, errors, frames]` per loss layer."""
        target_lengths = batch.target_lengths.get(self.config.target)
        if target_lengths is None and self.graph.is_encoder_decoder:  # decoders run over the target's frames
            decoder = next(n for n in self.graph.nodes if n.layer.is_decoder)
            raise missing_target(self.config.target, decoder.at("encoder"), batch)
        ctx = model(batch.data, batch.lengths, target_lengths, self.noise)
        return [frame_ce(node, ctx, batch) for node in self.losses]

    def train_step(self, corpus: Corpus, indices: np.ndarray, at: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """One update on a global batch (epoch and step `at`); returns this rank's stats of the reported loss."""
        batch, weight = self.local_batch(corpus, indices)
        per_layer = self.run_model(batch, self.forward)
        frames = all_sum(torch.stack([s[2].detach() for s in per_layer]), self.ranks)
        objective = sum(s[0] * weight * (1.0 / frames[k] if normalized(node, self.config.use_normalized_loss)
                                         else 1.0) for k, (s, node) in enumerate(zip(per_layer, self.losses)))
        # DDP averages gradients over ranks; scaling by the world size makes them the global sum.
        objective = objective * self.ranks.world
        l2 = l2_term(self.graph, dict(self.model.named_parameters()))
        if l2 is not None:
            objective = objective + l2
        self.stop_unless_finite(objective, at)
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        clip_gradients(self.config, self.params)
        self.optimizer.step()
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
        corpus, lengths, order, _ = self.setup.epoch(role, epoch)
        self.model.eval()
        total = torch.zeros(3, dtype=torch.float64)
        for indices in self.setup.batches(lengths, order):
            batch, weight = self.local_batch(corpus, indices)
            total += self.run_model(batch, self.model)[self.losses.index(self.reported)].double().cpu() * weight
        stats = Stats()
        stats.add(all_sum(total.to(self.device), self.ranks).cpu())
        return stats

    def save(self, epoch: int) -> None:
        """Checkpoint when due (every save_interval epochs and the last), and the learning-rate file."""
        if self.config.learning_rate_file:
            write_lr_file(self.config.learning_rate_file, self.control)
        if epoch % self.config.save_interval and epoch != self.config.num_epochs:
            return
        save_checkpoint(checkpoint_path(self.config.model, epoch), {
            "epoch": epoch,
            "params": {k: v.detach().cpu().clone() for k, v in self.model.named_parameters()},
            "optimizer": self.optimizer.state_dict(),
            "lr_control": self.control.state(),
            "rng": {"noise": self.noise.get_state()},
            "net": canonical_json(self.graph),
        })

    def restore(self) -> int:
        """The first epoch to run: after the newest loadable checkpoint (`start_epoch auto`) or as set."""
        start = self.config.start_epoch
        if start == "auto":
            return self.restore_newest()
        if start == 1:
            return 1
        else:
            epoch, path = int(start) - 1, checkpoint_path(self.config.model, int(start) - 1)
        self.load(path, epoch)
        self.say(f"resuming after epoch {epoch} from {path}")
        return epoch + 1

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
        params = {k: v.numpy() for k, v in payload["params"].items()}
        values = check_params(self.graph, params, path)
        with torch.no_grad():
            for name, p in self.model.named_parameters():
                p.copy_(torch.from_numpy(values[name]))
        try:
            self.optimizer.load_state_dict(payload["optimizer"])
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
