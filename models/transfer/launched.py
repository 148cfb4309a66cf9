"""Which page sweeps each visitor launched, kept by the server for the visitor's browser: a visitor who closed the
tab mid-sweep, or reloaded, finds their sweep listed again, and no other visitor sees it listed."""

from __future__ import annotations

import threading
from collections import OrderedDict


class Launched:
    """Visitor name -> the sweep folders they launched, newest last. Bounded for a server that a whole class uses:
    the `visitors` most recently active visitors, `each` folder names each; older ones are forgotten first (their
    sweeps stay on disk, only the listing goes)."""

    def __init__(self, visitors: int = 1000, each: int = 50) -> None:
        self.visitors, self.each = visitors, each
        self._by: OrderedDict[str, list[str]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, visitor: str, folder: str) -> None:
        """Remember that `visitor` launched the sweep in `folder` (a folder name, not a path)."""
        with self._lock:
            names = [n for n in self._by.pop(visitor, []) if n != folder] + [folder]
            self._by[visitor] = names[-self.each :]
            while len(self._by) > self.visitors:
                self._by.popitem(last=False)

    def of(self, visitor: str) -> set[str]:
        """The folder names `visitor` launched (empty for one the server does not know)."""
        with self._lock:
            if visitor not in self._by:
                return set()
            self._by.move_to_end(visitor)
            return set(self._by[visitor])
