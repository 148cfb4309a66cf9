"""How many uploaded files, and how many bytes of them, one uploader and one visitor's session may hold.

Streamlit keeps every uploaded file in the server's memory until the visitor removes it or leaves, so on a
shared server (about 2.7 GB) a count and a total size, not the 25 MB per-file cap alone, bound what one visitor
can take. The rules live here, as plain functions, so a test reaches them without a server.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from models.files import MB
from models.own import MAX_MODEL_MB
from models.text import display_name

IMAGE_MB = 25  # one image (or annotation) file; the uploaders say so and the budget enforces it
WEIGHTS_ENDINGS = (".pt", ".pth", ".safetensors")


@dataclass(frozen=True)
class UploadLimit:
    """At most `files` files and `megabytes` MB in all for one multi-file uploader."""

    files: int
    megabytes: int

    def kept(self, sizes: Sequence[int]) -> tuple[int, str | None]:
        """How many of the files, in the order they came, fit within the limit, and one line naming what is
        dropped (None when everything fits)."""
        total, count = 0, 0
        for size in sizes[: self.files]:
            if total + size > self.megabytes * MB:
                break
            total, count = total + size, count + 1
        if count == len(sizes):
            return count, None
        return count, (
            f"{len(sizes) - count} of {len(sizes)} files dropped: one set takes at most {self.files} files and "
            f"{self.megabytes} MB in all; remove some to add others"
        )


MAX_REFUSALS_SAID = 5  # a session's newest refused uploads the page names


def refusals_text(refused: Sequence[tuple[str, str]]) -> str:
    """One line for refused uploads, (file name, reason) pairs, the files of one reason named together: "a.png,
    b.png were not uploaded: your tabs' uploads would pass 250 MB; remove some first." (a review: a drop of three
    refused files named one)."""
    by_reason: dict[str, list[str]] = {}
    for name, reason in refused:
        by_reason.setdefault(reason, []).append(display_name(name))
    return " ".join(
        f"{', '.join(names)} {'was' if len(names) == 1 else 'were'} not uploaded: {reason}."
        for reason, names in by_reason.items()
    )


TOP9_UPLOADS = UploadLimit(files=50, megabytes=200)  # the top-9 scan's "my uploads"
LABELLED_UPLOADS = UploadLimit(files=16, megabytes=100)  # the labelled-set view (16 images at most are explained)


@dataclass(frozen=True)
class UploadBudget:
    """What the server holds for uploads: per visitor (every uploader of every page in all of their browser's tabs
    together; the `session_*` fields keep their names, which hosts set) and in all. A file past either is refused as
    it arrives, before any page sees it. Per tab, one person's five tabs took a whole server's share (a loopback
    review: 997 MB held in five tabs of one browser, and another visitor's 20 MB photo refused)."""

    session_files: int = 60
    session_megabytes: int = 250
    server_megabytes: int = 1000
    # One file: an image (or an annotation) at most IMAGE_MB; a weights file (named .pt, .pth or .safetensors, for
    # Build's Your model tab) at most models.own.MAX_MODEL_MB. The server's own cap (`server.maxUploadSize`) is the
    # larger, so this is where an image uploader's cap holds against a crafted request.
    file_megabytes: int = IMAGE_MB
    weights_megabytes: int = MAX_MODEL_MB

    @classmethod
    def from_env(cls) -> UploadBudget:
        """The default budget, or a host's own from EXPLAINER_UPLOAD_SESSION_FILES, EXPLAINER_UPLOAD_SESSION_MB and
        EXPLAINER_UPLOAD_SERVER_MB (a server with more memory; the upload bench switches the bounds off this way)."""
        names = {"session_files": "SESSION_FILES", "session_megabytes": "SESSION_MB", "server_megabytes": "SERVER_MB"}
        given = {k: os.environ.get(f"EXPLAINER_UPLOAD_{v}", "") for k, v in names.items()}
        return cls(**{k: max(1, int(v)) for k, v in given.items() if v.isdigit()})

    def refusal(
        self, session_files: int, session_bytes: int, server_bytes: int, size: int, name: str = ""
    ) -> str | None:
        """Why one more file of `size` bytes named `name` cannot be held, given what the session and the server hold
        now (None when it can)."""
        weights = name.lower().endswith(WEIGHTS_ENDINGS)
        cap = self.weights_megabytes if weights else self.file_megabytes
        if size > cap * MB:
            return f"{'a weights file' if weights else 'an image'} may be at most {cap} MB"
        if session_files + 1 > self.session_files:
            return f"your tabs already hold {session_files} uploaded files (at most {self.session_files})"
        if session_bytes + size > self.session_megabytes * MB:
            return f"your tabs' uploads would pass {self.session_megabytes} MB; remove some first"
        if server_bytes + size > self.server_megabytes * MB:
            return "the server holds as many uploads as it can just now; try again in a few minutes"
        return None


def browser_key(xsrf_cookie: str | None) -> str | None:
    """A name for the browser behind a session, from the XSRF cookie Streamlit's server (Tornado) gives it: the
    SHA-256 of the cookie's token, unmasked from its version-2 form "2|mask|masked token|time" (the 4-byte mask
    repeated over the token, as Tornado's `_websocket_mask` applies it), which every tab and reload of that browser
    carries and no other browser knows. None when there is no such cookie (XSRF protection
    off, a test's AppTest): the caller then names the session instead. Kept uploads found by this name survive a
    reload (a walk reloaded mid-lecture and lost the photo from every page)."""
    import hashlib

    parts = (xsrf_cookie or "").split("|")
    if len(parts) != 4 or parts[0] != "2":
        return None
    try:
        mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return None
    if len(mask) != 4 or len(masked) < 16:  # Tornado's 4-byte mask, repeated over its 16-byte token
        return None
    return hashlib.sha256(bytes(b ^ mask[i % 4] for i, b in enumerate(masked))).hexdigest()


class KeptUploads:
    """Uploads kept so that a link naming one (`?upload=<sha256>`) finds it again, each under its owner (a visitor's
    browser, or session without one, which alone can read it): the newest `per_owner` of each owner, and at most
    `megabytes` in all (each upload charged ENTRY_BYTES more for its bookkeeping). Past that, the owner holding the
    most gives up its oldest first (never the upload just kept), so one visitor's large files push out their own, not
    a classmate's (a review: 100 MB from one visitor emptied the store for everyone). Kept per session, they were
    outside every bound: Streamlit keeps a reloaded tab's old session for reconnection, so a review's one visitor grew
    the server by 100 MB a reload. Thread-safe; a put costs a logarithm of the owners (a heap of their holdings), not
    a scan."""

    ENTRY_BYTES = 1024

    def __init__(self, per_owner: int = 4, megabytes: int = 100) -> None:
        self.per_owner, self.limit = per_owner, megabytes * MB
        self._kept: OrderedDict[tuple[str, str], tuple[bytes, str]] = OrderedDict()  # oldest first
        self._owners: dict[str, OrderedDict[str, None]] = {}  # each owner's uploads, oldest first
        self._held: dict[str, int] = {}  # each owner's bytes, charges included
        self._largest: list[tuple[int, int, str]] = []  # (-bytes, order, owner), stale entries skipped when popped
        self._order = itertools.count()
        self._total = 0
        self._lock = threading.Lock()

    def _charge(self, owner: str, change: int) -> None:
        held = self._held.get(owner, 0) + change
        if held:
            self._held[owner] = held
            heapq.heappush(self._largest, (-held, next(self._order), owner))
        else:
            self._held.pop(owner, None)
        self._total += change
        if len(self._largest) > 2 * len(self._held) + 64:  # mostly stale: rebuilt, so the heap stays bounded
            self._largest = [(-held, next(self._order), owner) for owner, held in self._held.items()]
            heapq.heapify(self._largest)

    def _largest_owner(self, skip: str | None = None) -> str:
        """The owner holding the most bytes now (the first to reach that amount among equals), other than `skip`.
        An owner can have several entries of its amount now (one pushed when it last held that amount, again valid):
        every one of `skip`'s is set aside (a review: setting one aside evicted an upload just kept again)."""
        aside = []
        try:
            while True:
                negative, _, owner = self._largest[0]
                if self._held.get(owner) != -negative:
                    heapq.heappop(self._largest)  # an amount since changed
                elif owner == skip:
                    aside.append(heapq.heappop(self._largest))
                else:
                    return owner
        finally:
            for entry in aside:
                heapq.heappush(self._largest, entry)

    def _drop(self, owner: str, sha256: str) -> None:
        data, _ = self._kept.pop((owner, sha256))
        self._charge(owner, -(len(data) + self.ENTRY_BYTES))
        mine = self._owners[owner]
        del mine[sha256]
        if not mine:
            del self._owners[owner]

    def put(self, owner: str, sha256: str, data: bytes, label: str) -> None:
        """Keep an upload for `owner` as the newest (a file larger than the whole store is not kept)."""
        with self._lock:
            if (owner, sha256) in self._kept:
                self._drop(owner, sha256)
            if len(data) + self.ENTRY_BYTES > self.limit:
                return
            self._kept[(owner, sha256)] = (data, label)
            self._owners.setdefault(owner, OrderedDict())[sha256] = None
            self._charge(owner, len(data) + self.ENTRY_BYTES)
            while len(self._owners[owner]) > self.per_owner:
                self._drop(owner, next(iter(self._owners[owner])))
            while self._total > self.limit:
                alone = len(self._owners[owner]) == 1  # the upload just kept stays: then the next largest gives
                largest = self._largest_owner(skip=owner if alone else None)
                self._drop(largest, next(iter(self._owners[largest])))

    def get(self, owner: str, sha256: str) -> tuple[bytes, str] | None:
        """(bytes, label) of `owner`'s upload, or None (another owner's, dropped, or never kept)."""
        with self._lock:
            return self._kept.get((owner, sha256))

    def bytes(self) -> int:
        """What the store holds, in bytes, its bookkeeping charge included."""
        with self._lock:
            return self._total
