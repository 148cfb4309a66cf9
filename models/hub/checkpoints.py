"""Checkpoint files: saved in fp16 with their SHA-256 in a manifest, loaded only after the hash matches.

The manifest (`models/weights/manifest.json`) is the trust anchor: it is committed with the
checkpoints and records, for each bundled model, its file, SHA-256, configuration and the
held-out metrics its training command measured.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any, BinaryIO

import torch

from models.files import PROJECT, atomic_write_bytes, sha256_file, sha256_stream, write_json_atomic

WEIGHTS_DIR = PROJECT / "models" / "weights"
MANIFEST = WEIGHTS_DIR / "manifest.json"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, does not match its recorded SHA-256, or does not fit its model."""


def _load(fh: BinaryIO, name: str) -> Any:
    try:
        return torch.load(fh, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt or foreign file: say so, never unpickle anything else
        raise CheckpointError(f"{name} could not be read as a state dict ({type(exc).__name__})") from exc


def verified_state(path: str | os.PathLike, expected_sha256: str) -> tuple[dict[str, torch.Tensor], str]:
    """(the state dict, the file's full SHA-256): the file's SHA-256 checked against `expected_sha256` (the whole
    digest, or the prefix torchvision file names carry), then the same open file read with `weights_only=True` on
    the CPU, so the bytes loaded are the bytes checked (a review: a file replaced between a check by name and a load
    by name would load unchecked). Raises CheckpointError when the file is missing, does not match, or is not a
    state dict."""
    path = Path(path)
    if len(expected_sha256) < 8:
        raise CheckpointError(f"no trustworthy hash is known for {path.name}")
    try:
        with open(path, "rb") as fh:
            digest = sha256_stream(fh)
            if not digest.startswith(expected_sha256.lower()):
                raise CheckpointError(f"{path.name} has SHA-256 {digest[:12]}…, expected {expected_sha256[:12]}…")
            fh.seek(0)
            state = _load(fh, path.name)
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path.name} is missing") from exc
    except OSError as exc:
        raise CheckpointError(f"{path.name} cannot be read ({exc.strerror or type(exc).__name__})") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"{path.name} does not hold a state dict")
    return state, digest


def load_verified(path: str | os.PathLike, expected_sha256: str) -> dict[str, torch.Tensor]:
    """The state dict of `verified_state`."""
    return verified_state(path, expected_sha256)[0]


def read_manifest() -> dict[str, Any]:
    """The committed manifest of bundled models (empty when none are bundled yet)."""
    return json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}


def save_bundled(name: str, state_dict: dict[str, torch.Tensor], record: dict[str, Any]) -> dict[str, Any]:
    """Store a state dict in fp16 under `models/weights/`, and its SHA-256 and `record` in the manifest."""
    half = {k: v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu() for k, v in state_dict.items()}
    buf = io.BytesIO()
    torch.save(half, buf)
    file = f"{name.replace('-', '_')}.pt"
    atomic_write_bytes(WEIGHTS_DIR / file, buf.getvalue())
    entry = {**record, "file": file, "sha256": sha256_file(WEIGHTS_DIR / file)}
    manifest = read_manifest()
    manifest[name] = entry
    write_json_atomic(MANIFEST, manifest)
    return entry


def save_trained(name: str, state_dict: dict[str, torch.Tensor], record: dict[str, Any], out: str | None) -> None:
    """The end of every training command: into the folder `out` as `<name>.pt` (fp32, a quick try), or,
    without `out`, bundled in fp16 with its record in the manifest (saying which file and hash)."""
    if out:  # written whole or not at all, as every file the project writes
        buf = io.BytesIO()
        torch.save(state_dict, buf)
        atomic_write_bytes(Path(out) / f"{name}.pt", buf.getvalue())
    else:
        entry = save_bundled(name, state_dict, record)
        print(f"saved models/weights/{entry['file']} sha256 {entry['sha256']}")
