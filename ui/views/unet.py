"""The U-Net page's sections: the two networks and their ablation, the image to segment, predictions beside the
truth, and the feature maps level by level. Drawing only: explain/ and models/ compute."""

from collections.abc import Mapping

import numpy as np
import pandas as pd
import streamlit as st
import torch
from PIL import Image

from explain.figures.render import grey_maps, input_image, montage
from explain.figures.unet import colour_labels, error_overlay, iou_bars, u_figure
from explain.inputs.images import small_image_note
from explain.inputs.samples import sample_truth
from explain.methods.filters import strongest_channels
from explain.methods.segmentation import level_maps, predict, sample_note, score_image, wrong_pixels
from models.data.segmentation import CLASSES, SIZE, example_scene
from models.hub.bundled import BundledWeights
from models.hub.checkpoints import CheckpointError
from models.segmenters import load_unet, paper_comparison, unet_input, unet_labels
from models.text import display_name
from ui.image_input import image_input
from ui.page_end import end_page
from ui.presenter import chart, prose
from ui.view_link import BIND, carried_name

NETWORKS = "the bundled U-Nets, with and without skip connections (trained here on generated scenes)"

DISPLAY = 256


@st.cache_resource(show_spinner="Loading the U-Nets…")
def unets() -> dict[str, tuple[torch.nn.Module, BundledWeights]]:
    """Both bundled U-Nets, with and without skips, loaded once per process."""
    return {v: load_unet(v) for v in ("full", "noskip")}


def big(rgb: np.ndarray) -> np.ndarray:
    """An image enlarged to DISPLAY x DISPLAY pixels, without smoothing, so every label stays sharp."""
    return np.asarray(Image.fromarray(rgb).resize((DISPLAY, DISPLAY), Image.Resampling.NEAREST))


def intro() -> None:
    """The page's title and what the two networks are."""
    st.title("U-Net: a label for every pixel")
    prose(
        "Ronneberger, Fischer & Brox (MICCAI 2015): an encoder that halves the resolution at each level, a decoder "
        "that doubles it back, and skip connections that hand each level of the decoder the encoder's maps at that "
        "level, before pooling blurred them. Both networks below were trained by this project on generated scenes "
        "(per-pixel labels come free with the generator); the second is the same network without the skip "
        "connections. The panel **The paper's U-Net and this one** below says where they depart from the paper's: "
        "a smaller input, padded convolutions, an unweighted loss and no elastic deformations among them."
    )


def departures(record: BundledWeights) -> None:
    """The paper's U-Net beside the bundled one, aspect by aspect, folded (shown when presenting too)."""
    with st.expander("The paper's U-Net and this one", expanded=False):
        table = pd.DataFrame(paper_comparison(record), columns=["", "Ronneberger et al. 2015", "this app's U-Net"])
        st.table(table, hide_index=True, border="horizontal")  # a static table: long cells wrap


def show_ablation(full: torch.nn.Module, noskip: torch.nn.Module, m_full: Mapping, m_no: Mapping) -> None:
    """The two networks side by side, and their held-out IoU, overall and per class."""
    left, right = st.columns(2)
    chart(left, u_figure(full, SIZE), width="stretch")
    chart(right, u_figure(noskip, SIZE), width="stretch")
    st.markdown(
        f"Held-out mean IoU over {len(CLASSES)} classes on {m_full['test_size']} generated scenes: "
        f"**{m_full['mean_iou']:.3f}** with skip connections, **{m_no['mean_iou']:.3f}** without."
    )
    chart(
        st,
        iou_bars({"with skips": m_full["iou_per_class"], "without skips": m_no["iou_per_class"]}, list(CLASSES)),
        width="stretch",
    )


SOURCES = {"scene": "a generated scene (with its true labels)", "any": "any image (upload or sample)"}


UNLIKE_TRAINING = "They were trained on generated shapes only: on a photo they may find shapes where there are none."


def caveat(truth: np.ndarray | None) -> str:
    """What the audience must know of the predictions when presenting (the picker's line is folded away with the
    settings: a lecturer's walk projected a cat segmented into triangles and stars with no word), or ""."""
    return UNLIKE_TRAINING if truth is None else ""


def source_ui() -> tuple[Image.Image, np.ndarray | None, str]:
    """Choose an example scene (with its true labels) or any image: (the image, its labels if known, its name);
    stops if none is usable."""
    source = st.radio("Image", list(SOURCES), horizontal=True, key="unet_source", bind=BIND, format_func=SOURCES.get)
    if source == "scene":
        if name := carried_name():  # a walk met the scene here, with no word on the photo it had uploaded
            st.caption(f"Your {display_name(name)} from earlier is under **{SOURCES['any']}**.")
        seed = st.number_input(  # not "scene number": a walk took scene 1 for the sample "generated scene 1"
            "Example scene",
            0,
            100_000,
            1,
            key="unet_seed",
            bind=BIND,
            help=f"Scenes drawn as the U-Nets' training scenes are, {SIZE} x {SIZE}, from seeds no training or test "
            "set used. Not the samples named 'generated scene' under any image, which are larger.",
        )
        scene = example_scene(int(seed))
        return Image.fromarray(scene.image), scene.label_map, f"example scene {int(seed)}"
    chosen = image_input("unet", default_sample="generated scene 1")
    if chosen is None:
        end_page()
    truth = sample_truth(chosen.name, chosen.sha256)  # a generated sample's labels are known: scored as a scene is
    st.caption(
        f"The U-Nets see {SIZE} x {SIZE} pixels: the image is centre-cropped to a square and resized. "
        + (
            sample_note(chosen.name) if truth is not None else UNLIKE_TRAINING
        )  # may: a walk's 1 x 1 upload was all background beside "they find shapes"
    )
    if note := small_image_note(chosen.image, "read its labels as guesses"):  # as the classifier pages say it
        st.caption(f":material/help: {note}")
    return chosen.image, None if truth is None else unet_labels(truth.label_map), chosen.name


def show_predictions(seen: np.ndarray, truth: np.ndarray | None, predictions: dict[str, np.ndarray]) -> None:
    """What the networks see, the true labels if known, each network's labels (scored if so) and the legend."""
    panels = [(big(seen), "what the U-Nets see")]
    if truth is not None:
        panels.append((big(colour_labels(truth)), "true labels"))
    notes = []
    for name, pred in predictions.items():
        caption = name
        if truth is not None:
            score = score_image(pred, truth, len(CLASSES))
            caption += f": mean IoU {score.mean_iou:.3f}"
            stray = ", ".join(f"{CLASSES[c]} {n} px" for c, n in score.stray.items())
            named = ", ".join(CLASSES[c] for c in score.classes)
            notes.append(
                f"**{name}**: mean IoU {score.mean_iou:.3f} over the {len(score.classes)} classes in the true labels "
                f"({named}); {score.pixel_accuracy:.1%} of pixels right"
                + (f"; stray pixels of classes the scene lacks: {stray}." if stray else ".")
            )
        panels.append((big(colour_labels(pred)), caption))
    columns = st.columns(len(panels))
    for col, (img, caption) in zip(columns, panels, strict=True):
        col.image(img, caption=caption, width="stretch")
    legend = " · ".join(  # right under the label pictures it reads (under the error maps it was out of sight)
        # outlined in grey: the background's dark grey was lost on the dark theme (a walk); 1.6 times the text's
        # size, a swatch about as tall as the letters (at the text's size a walk measured it 7 px)
        f"<span style='color:rgb{tuple(int(v) for v in colour_labels(np.array([i]))[0])};"
        f"-webkit-text-stroke:1px #888;font-size:1.6em;line-height:1;vertical-align:-0.12em'>■</span> {c}"
        for i, c in enumerate(CLASSES)
    )
    st.markdown(legend, unsafe_allow_html=True)
    if truth is not None:
        st.markdown("  \n".join(notes))
        # each under its network's labels, as large (a walk: two columns drew them twice the size of what they explain)
        errors = st.columns(len(panels))[-len(predictions) :]
        for col, (name, pred) in zip(errors, predictions.items(), strict=True):
            wrong = wrong_pixels(pred, truth)
            col.image(
                big(error_overlay(seen, wrong)),
                width="stretch",
                caption=f"{name}: the {int(wrong.sum())} wrongly labelled pixels, in cyan",
            )


def show_levels(maps: dict[str, torch.Tensor]) -> None:
    """The strongest 8 channels of each level's feature maps, level by level."""
    st.subheader("Feature maps at every level")
    prose(
        "The strongest 8 channels of each level of the U-Net with skip connections, for this image. The encoder's "
        "maps get coarser and more abstract going down; the decoder rebuilds the resolution, helped by the skips."
    )
    for name, fmap in maps.items():
        order = strongest_channels(fmap, 8)
        tiles = grey_maps(fmap[order].numpy())
        scale = max(1, 64 // tiles.shape[-1])
        st.image(
            montage(tiles, cols=8, scale=scale),
            caption=f"{name}: {fmap.shape[0]} channels, {fmap.shape[1]} x {fmap.shape[2]}",
            width="stretch",
        )


def loaded_unets() -> tuple[tuple, tuple]:
    """((network, record) with skips, (network, record) without); the page ends with one line when the bundled
    checkpoints cannot be loaded."""
    try:
        nets = unets()
    except CheckpointError as exc:
        st.error(f"The bundled U-Nets cannot be loaded ({exc}). Train them with `python -m models.train.unet`.")
        end_page()
    return nets["full"], nets["noskip"]


def segmentation_section(
    full: torch.nn.Module, noskip: torch.nn.Module, config: Mapping, image: Image.Image, truth: np.ndarray | None
) -> None:
    """Both networks' labels for the image beside the truth, then the full network's feature maps by level."""
    x = unet_input(image)
    seen = input_image(x, config["mean"], config["std"])
    show_predictions(seen, truth, {"with skips": predict(full, x), "without skips": predict(noskip, x)})
    show_levels(level_maps(full, x))
