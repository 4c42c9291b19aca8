"""torchrun support: one process per rank, gloo on CPU and nccl on GPU; rank 0 writes."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    """This process's rank and the number of processes (1 without torchrun)."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_ranks(device: torch.device) -> Ranks:
    """Join the process group torchrun describes in the environment, if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Ranks()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Ranks(dist.get_rank(), dist.get_world_size())


def settled(collective: Callable[..., object], tensor: torch.Tensor, *args: object) -> None:
    """Run a blocking collective on `tensor`, then wait until gloo's worker thread has dropped its work.

    NOTE: gloo's `wait()` returns when the work is marked done; its worker thread destroys the work (and its
    references to `tensor`) a moment later. Releasing a tensor that has a Python object takes the GIL, so when
    that moment falls into interpreter finalization, Python ends the thread with a forced unwind through a
    noexcept destructor: std::terminate, SIGABRT, "terminate called without an active exception" (gdb: a
    `pt_gloo_runloop` thread in `~AsyncAllreduceWork` -> `decref_pyobject` -> `take_gil` ->
    `PyThread_exit_thread`, while the main thread is in `Py_FinalizeEx`). That killed a rank in about 1 of 4
    runs of tests/trainer/test_distributed.py on a loaded 2-core machine. After this returns, no work holds
    `tensor`: every collective of the trainer has finished with it before the next line runs.
    """
    before = tensor._use_count()
    collective(tensor, *args)
    if dist.get_backend() == "gloo":
        while tensor._use_count() > before:
            os.sched_yield()


def all_sum(tensor: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """The sum over ranks (the tensor itself with one process)."""
    if ranks.world > 1:
        tensor = tensor.clone()
        settled(dist.all_reduce, tensor)
    return tensor


def pick_device(name: str) -> torch.device:
    """`auto`: the rank's GPU when there is one, else the CPU; `cuda:N` (config `gpuN`): that GPU."""
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if name.startswith("cuda:"):
        return torch.device(name)
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def shutdown(ranks: Ranks, finished: bool) -> None:
    """Leave the process group while the interpreter is fully alive; `finished`: every rank got here normally.

    The caller first drops its DistributedDataParallel wrapper (its reducer holds the group and the works of
    the last step). Every collective of the trainer went through `settled`, so no gloo worker still holds a
    tensor when the interpreter finalizes. The barrier makes the ranks tear down together (none still talking
    to a peer that has gone); after a failure on one rank it is skipped, since the others may be inside
    another collective.
    """
    if ranks.world == 1 or not dist.is_initialized():
        return
    if finished:
        dist.barrier()
    gc.collect()  # the DDP wrapper sits in reference cycles (its hooks): free it and its reducer now
    dist.destroy_process_group()


def ranks_agree(params: list[torch.Tensor], ranks: Ranks) -> bool:
    """Whether every rank holds exactly rank 0's parameters (checked once at the end of training)."""
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    reference = flat.clone()
    settled(dist.broadcast, reference, 0)
    differs = torch.tensor([float(not torch.equal(flat, reference))], device=flat.device)
    settled(dist.all_reduce, differs)
    return float(differs) == 0.0
