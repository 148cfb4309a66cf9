"""What a user takes away from a page: a settings record, a zip of maps, a notebook snippet."""

from __future__ import annotations

import io
import json
import platform
import zipfile
from typing import Any

import captum
import torch
import torchvision


def library_versions() -> dict[str, str]:
    """Versions that decide the numbers: Python, torch, torchvision, Captum."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "captum": captum.__version__,
    }


def zip_bundle(files: dict[str, bytes], settings: dict[str, Any]) -> bytes:
    """A zip holding `files` and `settings.json` (with the library versions added)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        record = {**settings, "versions": library_versions()}
        zf.writestr("settings.json", json.dumps(record, indent=2, sort_keys=True, default=str))
    return buf.getvalue()


def attribution_snippet(model: str, image: str, method: str, target: int, params: dict[str, Any]) -> str:
    """Python that recomputes one map in a notebook with this project's `explain` package."""
    args = "".join(f", {k}={v!r}" for k, v in params.items())
    return f"""from explain import attribute, load_image, prepare, to_map
from explain.figures.render import overlay
from models import load_classifier

model, info = load_classifier({model!r})
x = prepare(load_image({image!r}), info.preprocess)
attr = attribute(model, x, {method!r}, target={target}{args})
heatmap = to_map(attr[0], "absolute", percentile=99)
"""
