"""Classifier picker: loads a zoo model once per process, downloads with a progress bar, and says
plainly which weights are running."""

from __future__ import annotations

import contextlib

import streamlit as st
from torch import nn

from models.classifiers import CLASSIFIERS, ModelInfo, load_classifier, spec, weight_status
from models.hub import weights_cache
from models.hub.checkpoints import CheckpointError


@st.cache_resource(max_entries=3, show_spinner="Loading the model…")
def cached_classifier(name: str) -> tuple[nn.Module, ModelInfo]:
    """One shared copy per process; at most three kept, so a small host is not exhausted."""
    return load_classifier(name)


def download_with_progress(weights) -> None:
    """Fetch torchvision weights into the cache with a progress bar; on failure the loader falls
    back to the bundled model and its banner says why."""
    bar = st.progress(0.0, text=f"Downloading {weights_cache.weights_path(weights).name}…")

    def report(done: int, total: int) -> None:
        if total:
            bar.progress(min(done / total, 1.0), text=f"Downloading… {done / 2**20:.0f} of {total / 2**20:.0f} MB")

    # On failure the loader falls back to the bundled model and its banner says why.
    with contextlib.suppress(weights_cache.WeightsUnavailable):
        weights_cache.download(weights, report)
    bar.empty()


def model_picker(key: str, default: str = "resnet18") -> tuple[nn.Module, ModelInfo]:
    """Draw the classifier selector and the weights banner; return the (shared, read-only) model."""
    names = list(CLASSIFIERS)
    name = st.selectbox(
        "Classifier", names, index=names.index(default), key=f"{key}_model", format_func=lambda n: CLASSIFIERS[n].title
    )
    if weight_status(name) == "downloadable":
        download_with_progress(spec(name).weights)
    try:
        model, info = cached_classifier(name)
    except CheckpointError as exc:  # only the bundled fallback itself can fail this way
        st.error(f"{CLASSIFIERS[name].title} cannot run: {exc}. Retrain it with `python -m models.train.classifier`.")
        st.stop()
    show_weights_banner(info)
    return model, info


def show_weights_banner(info: ModelInfo) -> None:
    """A warning when the bundled model stands in, otherwise a caption naming the weights."""
    if info.is_fallback:
        st.warning(
            f"**Offline fallback in use: {info.title}.** {info.reason} "
            f"The bundled model knows only these classes: {', '.join(info.categories)} "
            f"({info.accuracy}).",
            icon=":material/cloud_off:",
        )
    else:
        where = {"cache": "from the local cache", "download": "just downloaded", "bundled": "bundled with the app"}
        st.caption(f"{info.title}: weights {where[info.source]}; {info.accuracy}.")
