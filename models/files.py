"""Small file helpers: SHA-256 of a file and atomic writes, so a crash never leaves half a file."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

PROJECT = Path(__file__).resolve().parents[1]
MB = 1 << 20  # a megabyte, as every bound in the project counts it


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks so large checkpoints cost little memory."""
    with open(path, "rb") as fh:
        return sha256_stream(fh, chunk)


def sha256_stream(fh: BinaryIO, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of what is left to read in an open binary file, read in chunks."""
    digest = hashlib.sha256()
    while block := fh.read(chunk):
        digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes files private; these are ordinary project files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented JSON, atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


class ResultsFileError(ValueError):
    """A results file the pages read is missing a part, damaged or of another shape; the message is
    one line naming the file (relative to the project), for a page to show while the rest works."""


def _public_base(path: Path) -> tuple[Path, str] | None:
    """The folder a visitor may see `path` (resolved) relative to, with the prefix that names it, or None."""
    for base, prefix in ((PROJECT, ""), (Path.home().resolve(), "~/")):
        if path == base or base in path.parents:
            return base, prefix
    return None


def shown_whole(path: str | os.PathLike) -> bool:
    """Whether `public_path` shows `path` whole (under the project or the home folder), not cut to its last parts."""
    return _public_base(Path(path).resolve()) is not None


def public_path(path: str | os.PathLike) -> str:
    """`path` as a visitor may see it: relative to the project, or to the home folder as `~/...`,
    else only its last two parts. Never the server's absolute layout."""
    path = Path(path).resolve()
    if found := _public_base(path):
        base, prefix = found
        return prefix + (str(path.relative_to(base)) if path != base else ".")
    return str(Path("…", *path.parts[-2:]))


def read_json(path: str | os.PathLike, kind: type | tuple[type, ...] = dict) -> Any:
    """The JSON value in `path`, which must be of type `kind`; ResultsFileError (one line, naming the
    file by its public path) when it cannot be read, is not UTF-8 JSON, or holds something else."""
    name = public_path(path)
    try:
        value = json.loads(Path(path).read_bytes().decode("utf-8"))
    except FileNotFoundError as exc:
        raise ResultsFileError(f"{name} is missing.") from exc
    except OSError as exc:
        raise ResultsFileError(f"{name} cannot be read ({exc.strerror or type(exc).__name__}).") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise ResultsFileError(f"{name} is damaged (not valid JSON); it was skipped.") from exc
    if not isinstance(value, kind):
        raise ResultsFileError(f"{name} does not hold the expected record; it was skipped.")
    return value
