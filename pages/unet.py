"""U-Net: an encoder-decoder with skip connections, trained on generated scenes, and its ablation."""

import numpy as np
import streamlit as st
from PIL import Image

from explain.figures.render import grey_maps, input_image, montage
from explain.figures.unet import colour_labels, iou_bars, u_figure
from explain.methods.filters import strongest_channels
from explain.methods.segmentation import image_iou, level_maps, predict
from models.data.segmentation import CLASSES, SIZE, example_scene
from models.hub.checkpoints import CheckpointError
from models.segmenters import load_unet, unet_input
from ui.image_input import image_input
from ui.shell import app_shell

app_shell()

DISPLAY = 256


@st.cache_resource(show_spinner="Loading the U-Nets…")
def unets():
    return {v: load_unet(v) for v in ("full", "noskip")}


def big(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize((DISPLAY, DISPLAY), Image.Resampling.NEAREST))


st.title("U-Net: a label for every pixel")
st.write(
    "Ronneberger, Fischer & Brox (MICCAI 2015): an encoder that halves the resolution at each level, a decoder "
    "that doubles it back, and skip connections that hand the decoder the encoder's sharp, full-resolution maps. "
    "Both networks below were trained by this project on generated scenes (per-pixel labels come free with the "
    "generator); the second is the same network without the skip connections."
)
try:
    models = unets()
except CheckpointError as exc:
    st.error(f"The bundled U-Nets cannot be loaded ({exc}). Train them with `python -m models.train.unet`.")
    st.stop()
(full, full_rec), (noskip, noskip_rec) = models["full"], models["noskip"]
left, right = st.columns(2)
left.plotly_chart(u_figure(full, SIZE), width="stretch")
right.plotly_chart(u_figure(noskip, SIZE), width="stretch")
m_full, m_no = full_rec.metrics, noskip_rec.metrics
st.markdown(
    f"Held-out mean IoU over {len(CLASSES)} classes on {m_full['test_size']} generated scenes: "
    f"**{m_full['mean_iou']:.3f}** with skip connections, **{m_no['mean_iou']:.3f}** without."
)
st.plotly_chart(
    iou_bars({"with skips": m_full["iou_per_class"], "without skips": m_no["iou_per_class"]}, list(CLASSES)),
    width="stretch",
)

st.subheader("Predict")
source = st.radio(
    "Image", ["a generated scene (with its true labels)", "any image (upload or sample)"], horizontal=True,
    key="unet_source",
)  # fmt: skip
truth = None
if source.startswith("a generated"):
    seed = st.number_input("Scene number", 0, 100_000, 1, key="unet_seed")
    scene = example_scene(int(seed))
    image, truth = Image.fromarray(scene.image), scene.label_map
else:
    chosen = image_input("unet", default_sample="generated scene 1")
    if chosen is None:
        st.stop()
    image = chosen.image
    st.caption(
        f"The U-Nets see {SIZE} x {SIZE} pixels: the image is centre-cropped to a square and resized. They were "
        "trained on generated shapes only: on a photo they find shapes where there are none."
    )

x = unet_input(image)
pred_full, pred_no = predict(full, x), predict(noskip, x)
panels = [(big(input_image(x, full_rec.config["mean"], full_rec.config["std"])), "what the U-Nets see")]
if truth is not None:
    panels.append((big(colour_labels(truth)), "true labels"))
for name, pred in (("with skips", pred_full), ("without skips", pred_no)):
    caption = name
    if truth is not None:
        caption += f": mean IoU {np.nanmean(image_iou(pred, truth, len(CLASSES))):.3f}"
    panels.append((big(colour_labels(pred)), caption))
for col, (img, caption) in zip(st.columns(len(panels)), panels, strict=True):
    col.image(img, caption=caption, width="stretch")
legend = " · ".join(
    f"<span style='color:rgb{tuple(int(v) for v in colour_labels(np.array([i]))[0])}'>■</span> {c}"
    for i, c in enumerate(CLASSES)
)
st.markdown(legend, unsafe_allow_html=True)

st.subheader("Feature maps at every level")
st.write(
    "The strongest 8 channels of each level of the U-Net with skip connections, for this image. The encoder's "
    "maps get coarser and more abstract going down; the decoder rebuilds the resolution, helped by the skips."
)
maps = level_maps(full, x)
for name, fmap in maps.items():
    order = strongest_channels(fmap, 8)
    tiles = grey_maps(fmap[order].numpy())
    scale = max(1, 64 // tiles.shape[-1])
    st.image(montage(tiles, cols=8, scale=scale), caption=f"{name}: {fmap.shape[0]} channels, "
             f"{fmap.shape[1]} x {fmap.shape[2]}", width="stretch")  # fmt: skip
