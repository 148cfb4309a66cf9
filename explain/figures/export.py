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

from explain.methods.attributions import gradient_magnitude
from models.hub.fallback import WeightsInfo


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


def attribution_record(
    info: WeightsInfo,
    image_name: str,
    image_sha256: str,
    target: int,
    display: dict[str, Any],
    params: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The settings that reproduce an Attributions view: the weights (file and SHA-256), the image (name and
    SHA-256), the class, the display (mode, percentile, opacity) and each shown method's parameters."""
    return {
        "model": info.name,
        "requested_model": info.requested,
        "weights": info.source,
        "weights_file": info.weights_file,
        "weights_sha256": info.weights_sha256,
        "image": image_name,
        "image_sha256": image_sha256,
        "target": target,
        "target_name": info.categories[target],
        "display": display,
        "methods": params,
    }


def attribution_snippet(
    model: str,
    image: str,
    method: str,
    target: int,
    params: dict[str, Any],
    *,
    sample: bool = False,
    mode: str = "absolute",
    percentile: float = 99.0,
    own_files: tuple[str, str] | None = None,
) -> str:
    """Python that recomputes one map in a notebook with this project's `explain` package, with the page's display
    settings. `image` is a file path, or the name of a bundled sample when `sample` is true; `own_files` are the
    weights and card files of the visitor's own network (the Build page's downloads), loaded instead of a zoo model."""
    args = "".join(f", {k}={v!r}" for k, v in params.items())
    source = f"sample_bytes({image!r})" if sample else repr(image)
    if own_files:
        weights, card = own_files
        load = (
            "from models.own import load_own_classifier\n\n"
            f"# the two files the Build page's Your model tab downloads\n"
            f"model, info, card = load_own_classifier({weights!r}, open({card!r}).read())"
        )
    else:
        load = f"from models import load_classifier\n\nmodel, info = load_classifier({model!r})"
    names = (
        "attribute, load_image, prepare, sample_bytes, to_map" if sample else "attribute, load_image, prepare, to_map"
    )
    where = "" if sample else f"  # {image!r}: the file, beside this notebook"
    magnitude = ", magnitude=True" if gradient_magnitude(method, params) and mode == "absolute" else ""
    # where it runs, and how to see its result (a walk ran it elsewhere: "No module named 'explain'"; and it showed
    # nothing)
    return f"""# Run in the project's folder (the one holding app.py), where `explain` and `models` import.
from explain import {names}
{load}
x = prepare(load_image({source}), info.preprocess){where}
attr = attribute(model, x, {method!r}, target={target}{args})
heatmap = to_map(attr[0], {mode!r}, percentile={percentile!r}{magnitude})  # H x W: plt.imshow(heatmap) shows it
"""
