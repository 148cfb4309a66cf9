"""One lock per shared model: hold it while registering hooks on a model that other sessions also run
(Captum does), so one visitor's hooks never fire in another's forward pass."""

from __future__ import annotations

import threading
import weakref

from torch import nn

_locks: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def lock_for(model: nn.Module) -> threading.RLock:
    """The lock to hold while registering hooks on a shared model (Captum does), one per model."""
    with _locks_guard:
        return _locks.setdefault(model, threading.RLock())
