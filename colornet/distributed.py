"""Splitting one ``colornet colorize`` run across processes and machines (``torchrun``), without communication.

``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` in each process. Every process expands the same
arguments into the same sorted list (``colornet.inputs``) and takes every ``WORLD_SIZE``-th item starting at
``RANK``: the shares are disjoint, cover everything, need no rendezvous (nothing is sent between processes, so a
crashed node does not stall the others), and a re-run with ``--skip-existing`` continues where each one stopped.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Share:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    def take(self, items: Sequence[T]) -> list[T]:
        """This process's items: every ``world_size``-th, starting at ``rank`` (balanced to within one item)."""
        return list(items[self.rank :: self.world_size])


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def share_from_env() -> Share:
    """The share of this process from torchrun's ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (0/1/0 when unset)."""
    world = _int_env("WORLD_SIZE", 1)
    rank = _int_env("RANK", 0)
    local = _int_env("LOCAL_RANK", 0)
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"RANK={rank} and WORLD_SIZE={world} are inconsistent: need 0 <= RANK < WORLD_SIZE")
    return Share(rank, world, local)


def device_for_share(device: str, share: Share) -> str:
    """``auto`` under torchrun on a multi-GPU node: one GPU per local process (``cuda:LOCAL_RANK``)."""
    if device != "auto" or share.world_size == 1:
        return device
    import torch

    if torch.cuda.is_available():
        return f"cuda:{share.local_rank % torch.cuda.device_count()}"
    return device
