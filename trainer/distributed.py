"""torchrun support: one process per rank, gloo on CPU and nccl on GPU; rank 0 writes."""

from __future__ import annotations

import os
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


def all_sum(tensor: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """The sum over ranks (the tensor itself with one process)."""
    if ranks.world > 1:
        tensor = tensor.clone()
        dist.all_reduce(tensor)
    return tensor


def pick_device(name: str) -> torch.device:
    """`auto`: the rank's GPU when there is one, else the CPU; `cuda:N` (config `gpuN`): that GPU."""
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if name.startswith("cuda:"):
        return torch.device(name)
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def shutdown(ranks: Ranks) -> None:
    if ranks.world > 1 and dist.is_initialized():
        dist.destroy_process_group()


def ranks_agree(params: list[torch.Tensor], ranks: Ranks) -> bool:
    """Whether every rank holds exactly rank 0's parameters (checked once at the end of training)."""
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    reference = flat.clone()
    dist.broadcast(reference, 0)
    differs = torch.tensor([float(not torch.equal(flat, reference))], device=flat.device)
    dist.all_reduce(differs)
    return float(differs) == 0.0
