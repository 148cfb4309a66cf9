"""Where torchvision keeps pretrained weights, and fetching them with progress and a short timeout.

torchvision's own `get_state_dict` would download with no timeout and no progress callback,
so an offline machine would hang and a page could show no bar. This module fills that gap and
leaves everything else (file names, cache folder, hash convention) as torchvision has it.
"""

from __future__ import annotations

import hashlib
import math
import os
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import torch
from torchvision.models import WeightsEnum

from models.files import sha256_file

Progress = Callable[[int, int], None]  # (bytes done, bytes in all or 0 when unknown)

_network: dict[str, tuple[bool, str]] = {}  # host -> (reachable, why not); remembered for the process
_network_lock = threading.Lock()


class WeightsUnavailable(RuntimeError):
    """Pretrained weights are neither cached nor downloadable; the message says why."""


def checkpoint_dir() -> Path:
    """torch hub's checkpoint folder ($TORCH_HOME/hub/checkpoints by default)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def weights_path(weights: WeightsEnum) -> Path:
    """The cache file torchvision uses for `weights`, e.g. .../checkpoints/resnet18-f37072fd.pth."""
    return checkpoint_dir() / os.path.basename(urllib.parse.urlparse(weights.url).path)


def expected_sha_prefix(weights: WeightsEnum) -> str:
    """The SHA-256 prefix torchvision puts in the file name (the part after the last '-')."""
    match = torch.hub.HASH_REGEX.search(weights_path(weights).name)
    return match.group(1) if match else ""


def is_cached(weights: WeightsEnum) -> bool:
    """Whether the weights file is already in the local cache (not yet whether it is the right file)."""
    return weights_path(weights).is_file()


_verified: dict[tuple[str, int, int, str], bool] = {}  # (path, size, mtime, expected) -> matched; 500 MB take 1 s


def is_verified(weights: WeightsEnum) -> bool:
    """Whether the cached file's SHA-256 starts with the prefix in its name (checked once per file version)."""
    path = weights_path(weights)
    try:
        stat = path.stat()
        expected = expected_sha_prefix(weights)
        key = (str(path), stat.st_size, stat.st_mtime_ns, expected)
        if key not in _verified:
            _verified[key] = bool(expected) and sha256_file(path).startswith(expected)
    except OSError:
        return False
    return _verified[key]


def cache_writable() -> bool:
    """Whether a download could be saved: the cache folder (or the nearest folder above it that exists)
    is writable, on a file system that is not read-only."""
    folder = checkpoint_dir()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return os.access(folder, os.W_OK)


def offline() -> bool:
    """Whether downloads are switched off for this process (`EXPLAINER_OFFLINE=1`)."""
    return os.environ.get("EXPLAINER_OFFLINE", "") not in ("", "0")


def network_available(url: str, timeout: float = 2.0) -> tuple[bool, str]:
    """Whether the host of `url` accepts a connection within `timeout` seconds, and if not, why.

    The answer is remembered for the process, so an offline machine pays for the probe once.
    `EXPLAINER_OFFLINE=1` answers no without trying.
    """
    if offline():
        return False, "this server is set offline (EXPLAINER_OFFLINE)"
    host = urllib.parse.urlparse(url).hostname or ""
    with _network_lock:
        if host in _network:
            return _network[host]
        result: list[tuple[bool, str]] = []

        def probe() -> None:
            try:
                socket.create_connection((host, 443), timeout=timeout).close()
                result.append((True, ""))
            except OSError as exc:
                result.append((False, f"no network ({host} unreachable: {exc.strerror or type(exc).__name__})"))

        worker = threading.Thread(target=probe, daemon=True)
        worker.start()
        worker.join(timeout + 0.5)  # name lookup is not covered by the socket timeout
        _network[host] = result[0] if result else (False, f"no network ({host} did not answer in {timeout:.0f}s)")
        return _network[host]


def forget_network_state() -> None:
    """Forget remembered probe results (for tests, and after the user fixes their connection)."""
    with _network_lock:
        _network.clear()


RECHECK_SECONDS = 30.0  # the least time between two visitors' "Check again" that probe the network anew
_last_recheck = [-math.inf]
_clock = time.monotonic  # what the recheck's 30 s are measured by (a test's clock replaces it here alone)


def check_network_again() -> bool:
    """Forget the remembered probes so that the next status asks the network again, at most once per
    RECHECK_SECONDS in the process; True when forgotten now. Any visitor may ask (the sidebar's "Check again"), and
    a probe can take 2 s under the lock every status waits on (a review)."""
    with _network_lock:
        now = _clock()
        if now - _last_recheck[0] < RECHECK_SECONDS:
            return False
        _last_recheck[0] = now
        _network.clear()
        return True


_downloads: dict[str, threading.Lock] = {}  # one lock per weights file: a file is downloaded once at a time
_downloads_lock = threading.Lock()


def download(weights: WeightsEnum, progress: Progress | None = None, timeout: float = 10.0) -> Path:
    """Fetch `weights` into the torch hub cache, checking the SHA-256 prefix in its file name.

    Writes to a temporary file and renames it only when complete and verified, so an
    interrupted download never leaves a file that looks cached. Raises WeightsUnavailable.
    One download per file at a time: a second caller (two visitors picking one model, or the home page's fetch
    beside a picker) waits for the first and takes its file (a review: each had downloaded it again, at once).
    """
    path = weights_path(weights)
    with _downloads_lock:
        lock = _downloads.setdefault(str(path), threading.Lock())
    with lock:
        if is_cached(weights) and is_verified(weights):
            return path
        return _download(weights, path, progress, timeout)


def _download(weights: WeightsEnum, path: Path, progress: Progress | None, timeout: float) -> Path:
    ok, why = network_available(weights.url)
    if not ok:
        raise WeightsUnavailable(why)
    try:  # a read-only or full cache is like no network: the bundled model stands in, and the banner says why
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise WeightsUnavailable(f"the weights cache cannot be written ({exc.strerror or type(exc).__name__})") from exc
    digest, done = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(weights.url, timeout=timeout) as response, os.fdopen(fd, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            while block := response.read(1 << 20):
                out.write(block)
                digest.update(block)
                done += len(block)
                if progress:
                    progress(done, total)
        if not digest.hexdigest().startswith(expected_sha_prefix(weights)):
            raise WeightsUnavailable(f"the download of {path.name} was corrupt (SHA-256 mismatch)")
        os.replace(tmp, path)
    except (urllib.error.URLError, OSError) as exc:  # the network, or a full disk: remembered either way
        with _network_lock:
            _network[urllib.parse.urlparse(weights.url).hostname or ""] = (False, f"download failed ({exc})")
        raise WeightsUnavailable(f"download of {path.name} failed: {exc}") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def pretrained(
    weights: WeightsEnum, name: str, allow_download: bool = True, progress: Progress | None = None, **builder_kwargs
) -> tuple[torch.nn.Module, str, Path, str]:
    """torchvision model `name` filled with `weights`: from the cache, else downloaded first (when
    allowed), and loaded only after the SHA-256 check. Returns (model, "cache" or "download", file, the file's
    full SHA-256).
    Raises WeightsUnavailable or CheckpointError; the callers fall back to a bundled model."""
    import torchvision

    from models.hub.checkpoints import CheckpointError, verified_state
    from models.lock import seeded_rngs

    path, source = weights_path(weights), "cache"
    if not path.is_file():
        if not allow_download:
            raise WeightsUnavailable("not in the cache, and downloads are switched off")
        download(weights, progress)
        source = "download"
    state, digest = verified_state(path, expected_sha_prefix(weights))
    with seeded_rngs(0):  # the random initialisation never takes numbers from another session's seeded draws
        model = torchvision.models.get_model(name, weights=None, **builder_kwargs)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path.name} does not fit {name}") from exc
    return model, source, path, digest
