"""One lock per shared model: hold it while registering hooks on a model that other sessions also run
(Captum does), so one visitor's hooks never fire in another's forward pass; and one for the process's global
random number generators, which every session shares."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

_locks: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def lock_for(model: nn.Module) -> threading.RLock:
    """The lock to hold while registering hooks on a shared model (Captum does), one per model."""
    with _locks_guard:
        return _locks.setdefault(model, threading.RLock())


_rng_lock = threading.RLock()


@contextmanager
def rngs_kept(device: torch.device | None = None) -> Iterator[None]:
    """Torch's (CPU, and `device`'s where it is a GPU) and NumPy's global RNGs restored after the block, and held by
    this thread alone meanwhile: for work that may draw from them but must leave them as they were (a speed
    measurement). Restoring them without the lock could rewind another session's draws in the middle of its
    `seeded_rngs` block."""
    devices = [device] if device is not None and device.type == "cuda" else []
    with _rng_lock:
        numpy_state = np.random.get_state()
        try:
            with torch.random.fork_rng(devices=devices):
                yield
        finally:
            np.random.set_state(numpy_state)


@contextmanager
def seeded_rngs(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Torch's and NumPy's global RNGs seeded for the block, restored after it, and held by this thread alone
    meanwhile. The global RNGs are one per process: without the lock, two sessions drawing at once (SmoothGrad
    on one model, an augmentation preview or SmoothGrad on another) interleave their draws and neither gets the
    result it gets alone."""
    with rngs_kept(device):
        torch.manual_seed(seed)
        np.random.seed(seed)
        yield


class PrivateRng:
    """A stream of torch's CPU random numbers of one's own, for a long run that draws between steps (dropout):
    made from `seed`, switched in around each draw under the global-RNG lock and switched out after, so the run
    gets the numbers it gets alone while other sessions draw too, and holds the lock one step at a time."""

    def __init__(self, seed: int) -> None:
        with rngs_kept():
            torch.manual_seed(seed)
            self.state = torch.get_rng_state()

    @contextmanager
    def active(self) -> Iterator[None]:
        with _rng_lock:
            saved = torch.get_rng_state()
            torch.set_rng_state(self.state)
            try:
                yield
            finally:
                self.state = torch.get_rng_state()
                torch.set_rng_state(saved)
