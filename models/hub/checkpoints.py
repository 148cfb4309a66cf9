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
from typing import Any

import torch

from models.files import PROJECT, atomic_write_bytes, sha256_file, write_json_atomic

WEIGHTS_DIR = PROJECT / "models" / "weights"
MANIFEST = WEIGHTS_DIR / "manifest.json"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, does not match its recorded SHA-256, or does not fit its model."""


def verify(path: str | os.PathLike, expected_sha256: str) -> str:
    """The file's full SHA-256, once it is checked against `expected_sha256` (the whole digest, or the prefix
    torchvision file names carry). Raises CheckpointError when the file is missing or does not match."""
    path = Path(path)
    if len(expected_sha256) < 8:
        raise CheckpointError(f"no trustworthy hash is known for {path.name}")
    if not path.is_file():
        raise CheckpointError(f"{path.name} is missing")
    actual = sha256_file(path)
    if not actual.startswith(expected_sha256.lower()):
        raise CheckpointError(f"{path.name} has SHA-256 {actual[:12]}…, expected {expected_sha256[:12]}…")
    return actual


def load_verified(path: str | os.PathLike, expected_sha256: str) -> dict[str, torch.Tensor]:
    """Check the file's SHA-256 (or a prefix of it, as torchvision file names carry), then load
    it with `weights_only=True` on the CPU. Raises CheckpointError when either step fails."""
    verify(path, expected_sha256)
    return read_state(path)


def read_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict read with `weights_only=True` on the CPU; call only after `verify`."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt or foreign file: say so, never unpickle anything else
        raise CheckpointError(f"{path.name} could not be read as a state dict ({type(exc).__name__})") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"{path.name} does not hold a state dict")
    return state


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
    if out:
        torch.save(state_dict, f"{out.rstrip('/')}/{name}.pt")
    else:
        entry = save_bundled(name, state_dict, record)
        print(f"saved models/weights/{entry['file']} sha256 {entry['sha256']}")
