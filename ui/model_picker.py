"""Model pickers (classifiers and detectors): each model is loaded once per process, downloads show a progress
bar, and a banner says plainly which weights are running and, for a fallback, why."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import streamlit as st
from torch import nn
from torchvision.models import WeightsEnum

from explain.inputs.images import small_image_note, too_small_to_detect
from explain.inputs.samples import SAMPLE_NAMES
from explain.methods import classify
from explain.methods.classify import prepare
from models.classifiers import CLASSIFIERS, ModelInfo, imagenet_figures, load_classifier
from models.detectors import DETECTORS, DetectorInfo, coco_figures, detector_input, load_detector
from models.devices import model_device
from models.hub import weights_cache
from models.hub.checkpoints import CheckpointError
from models.hub.fallback import ModelSpec, WeightsInfo, status
from ui.image_input import ChosenImage, image_input
from ui.own_model import NOT_HERE, OWN, link_names_own, own_model, own_samples, own_spec
from ui.page_end import end_page
from ui.subject import Subject
from ui.view_link import BIND, explained


@st.cache_resource(max_entries=3, show_spinner="Loading the model…")
def cached_classifier(name: str, weights: str = "") -> tuple[nn.Module, ModelInfo]:
    """One shared copy per process; at most three kept, so a small host is not exhausted. `weights`: the status of
    its weights file (`models.hub.status`), so weights cached since load a new copy and no visitor ever clears the
    class's loaded models (a review: every "Check again" reloaded them all, hashing up to 528 MB)."""
    return load_classifier(name)


@st.cache_resource(max_entries=2, show_spinner="Loading the detector…")
def cached_detector(name: str, weights: str = "") -> tuple[nn.Module, DetectorInfo]:
    """One shared copy per process; at most two kept (a COCO R-CNN holds about 170 MB); keyed on its weights' status
    as `cached_classifier` is."""
    return load_detector(name)


def download_with_progress(weights: WeightsEnum) -> None:
    """Fetch torchvision weights into the cache with a progress bar; on failure the loader falls
    back to the bundled model and its banner says why."""
    bar = st.progress(0.0, text=f"Downloading {weights_cache.weights_path(weights).name}…")

    def report(done: int, total: int) -> None:
        if total:
            bar.progress(min(done / total, 1.0), text=f"Downloading… {done / 2**20:.0f} of {total / 2**20:.0f} MB")

    with contextlib.suppress(weights_cache.WeightsUnavailable):
        weights_cache.download(weights, report)
    bar.empty()


def stand_ins(specs: dict[str, ModelSpec]) -> dict[str, str]:
    """The choices whose weights cannot be had here -> the title of the bundled model that runs instead."""
    return {
        name: specs[spec.fallback].title if spec.fallback in specs else spec.fallback
        for name, spec in specs.items()
        if status(spec.weights) in ("unavailable", "damaged")
    }


def runnable_default(specs: dict[str, ModelSpec], default: str) -> str:
    """`default`, or the bundled model it would fall back to when its weights cannot be had here: the
    picker then offers the fallback once, under its own name, instead of under every name it stands in for."""
    spec = specs[default]
    return spec.fallback if default in stand_ins(specs) and spec.fallback in specs else default


def runs_bundled(specs: dict[str, ModelSpec], key: str, default: str) -> bool:
    """Whether the picker keyed `key` will run a bundled model (chosen, or standing in), before it is drawn."""
    name = st.session_state.get(key, runnable_default(specs, default))
    return name not in specs or specs[name].weights is None or name in stand_ins(specs)


def _pick(
    label: str,
    specs: dict[str, ModelSpec],
    key: str,
    default: str,
    load: Callable[[str, str], tuple[nn.Module, WeightsInfo]],
) -> tuple[nn.Module, WeightsInfo]:
    names, standing = list(specs), stand_ins(specs)

    # Titles alone (the link carries the chosen one): which models run a stand-in here is said in the help.
    offline = "; ".join(f"{specs[n].title}: {standing[n]} runs instead" for n in standing)
    index = names.index(runnable_default(specs, default))
    name = st.selectbox(
        label,
        names,
        index=index,
        key=key,
        format_func=lambda n: specs[n].title,
        bind=BIND,
        help=f"Offline here (no cached weights): {offline}." if offline else None,
    )
    spec = specs[name]
    if status(spec.weights) == "downloadable":
        download_with_progress(spec.weights)
    try:
        model, info = load(name, status(spec.weights))
    except CheckpointError as exc:  # only the bundled fallback itself can fail this way
        st.error(f"{spec.title} cannot run: {exc}. Retrain it with `{spec.retrain}`.")
        end_page()
    show_weights_banner(info)
    return model, info


def not_running_here(info: WeightsInfo, spec: ModelSpec, published: str, shown: str) -> None:
    """On a fallback, one line in view: what the chosen model would have reached (`published`, torchvision's
    figures) and what the bundled model that runs instead reaches (its own held-out figures were only in the
    banner's folded part: a walk)."""
    if info.is_fallback and spec.weights is not None:
        st.caption(
            f"Not running here: {spec.title}. With its weights it reaches {published} (torchvision's figures); the "
            f"{shown} below are the bundled model's, which reaches {info.metrics}."
        )


def model_picker(prefix: str, default: str = "resnet18") -> tuple[nn.Module, ModelInfo]:
    """Draw the classifier selector and the weights banner; return the (shared, read-only) model. The visitor's own
    network, when this session has one, is a choice too; a link naming one this session lacks says so. On a
    fallback it also says what the ImageNet model would have reached."""
    key = f"{prefix}_model"
    mine = own_model()
    if mine is None:
        if link_names_own(key):
            st.info(NOT_HERE, icon=":material/link_off:")
            explained(key)  # said here: the link's notice leaves it out
        model, info = _pick("Classifier", CLASSIFIERS, key, default, cached_classifier)
    else:
        model, info = _pick(
            "Classifier",
            {**CLASSIFIERS, OWN: own_spec(mine)},
            key,
            default,
            lambda n, weights: (mine.model, mine.info) if n == OWN else cached_classifier(n, weights),
        )
    if (spec := CLASSIFIERS.get(info.requested)) is not None and spec.weights is not None:
        not_running_here(info, spec, imagenet_figures(spec.weights), "answers")
    return model, info


def detector_picker(prefix: str, default: str = "maskrcnn_resnet50_fpn") -> tuple[nn.Module, DetectorInfo]:
    """Draw the detector selector and the weights banner; return the (shared, read-only) detector. On a
    fallback it also says what the COCO model would have reached."""
    model, info = _pick("Detector", DETECTORS, f"{prefix}_model", default, cached_detector)
    spec = DETECTORS[info.requested]
    if spec.weights is not None:
        not_running_here(info, spec, coco_figures(spec.weights), "detections")
    return model, info


def show_weights_banner(info: WeightsInfo) -> None:
    """A warning when the bundled model stands in, otherwise a caption naming the weights."""
    if info.is_fallback:
        classes = [c for c in info.categories if c != "background"]
        st.warning(f"**Offline fallback in use: {info.title}.**", icon=":material/cloud_off:")
        with st.expander("Why, and what it knows"):
            st.write(
                f"{info.reason} The bundled model knows only these classes: {', '.join(classes)} ({info.metrics})."
            )
    else:
        where = {
            "cache": "from the local cache",
            "download": "just downloaded",
            "bundled": "bundled with the app",
            "own": "yours, held in this browser session only",
        }
        st.caption(f"{info.title}: weights {where[info.source]}; {info.metrics}.")


KNOWN_SAMPLE = "generated star"  # the default image while the bundled shapes model runs: one it knows


def default_sample(prefix: str) -> str:
    """The image a page opens with: a photo for an ImageNet model, a generated shape for the bundled one."""
    return KNOWN_SAMPLE if runs_bundled(CLASSIFIERS, f"{prefix}_model", "resnet18") else SAMPLE_NAMES[0]


def out_of_distribution(info: ModelInfo, chosen: ChosenImage) -> str:
    """A one-line note when the model meets an image unlike its training data, or one too small to hold anything to
    recognise, or "": the bundled model knows the generated samples; a network trained on the Build page knows its own
    test images (and the generated samples when it trained on generated shapes); an uploaded network's data is
    unknown."""
    return " ".join(note for note in (unlike_training(info, chosen), small_image_note(chosen.image)) if note)


def training_data(info: ModelInfo) -> tuple[str, bool] | None:
    """`explain.methods.classify.training_data` for a model on this page: the visitor's own network's set-up taken
    from their session."""
    return classify.training_data(info.source, own_data(info))


def unlike_training(info: ModelInfo, chosen: ChosenImage) -> str:
    """The out-of-distribution note alone (without the small-image one), or "": `classify.unlike_training` for the
    chosen image, the visitor's own network's set-up taken from their session (a review: a 12-pixel upload to
    ResNet-18 was called unlike its data)."""
    return classify.unlike_training(info, chosen.kind, chosen.name, own_data(info))


def own_data(info: ModelInfo) -> str | None:
    """The set-up the visitor's own network trained on (its card's `data`), when `info` is that network."""
    mine = own_model()
    return mine.data if info.source == "own" and mine is not None else None


def classifier_image_ui(prefix: str) -> ChosenImage | None:
    """The image picker of a classifier's page (widgets keyed `prefix_…`): the samples, and first the test images of
    the session's own network when it has one."""
    samples = own_samples(prefix)
    return image_input(prefix, default_sample=next(iter(samples or {}), default_sample(prefix)), extra=samples)


def image_and_classifier_ui(prefix: str) -> Subject:
    """The image and the classifier a page explains (widgets keyed `prefix_…`) with the tensor the model sees; the
    page stops here until an image is chosen."""
    chosen = classifier_image_ui(prefix)
    model, info = model_picker(prefix)
    if chosen is None:
        end_page()
    return classifier_subject(chosen, model, info)


def classifier_subject(chosen: ChosenImage, model: nn.Module, info: ModelInfo) -> Subject:
    """The subject of a classifier: the image as the model's preprocessing makes it, on the model's device."""
    return Subject(chosen, model, info, prepare(chosen.image, info.preprocess, model_device(model)))


def image_and_detector_ui(prefix: str, default_sample: str) -> Subject:
    """The image and the detector a page explains, with the tensor the detector takes; the page stops here until an
    image is chosen."""
    chosen = image_input(prefix, default_sample=default_sample)
    model, info = detector_picker(prefix)
    if chosen is None:
        end_page()
    if note := too_small_to_detect(chosen.image):
        st.info(note, icon=":material/photo_size_select_small:")
        end_page()
    return Subject(chosen, model, info, detector_input(chosen.image, model_device(model)))
