"""Feature inspector: what a convolutional network learned, layer by layer (Zeiler & Fergus, 2014)."""

import hashlib

import numpy as np
import streamlit as st
import torch

from explain.charts import occlusion_figures
from explain.classify import prepare
from explain.deconvnet import geometry, reconstruct, strongest_position, top_activations
from explain.filters import feature_maps, filter_images, first_conv
from explain.image_sets import bundled_set, folder_set, image_root
from explain.images import ImageLoadError, load_image
from explain.layers import spatial_layers
from explain.occlusion_maps import occlusion_sensitivity
from explain.render import crop_tile, draw_box, grey_maps, input_image, montage, symmetric_image
from ui.image_input import SUPPORTED, image_input
from ui.model_picker import model_picker
from ui.predictions import model_input, top5, weights_key
from ui.shell import app_shell
from ui.widgets import sticky_button

app_shell()


@st.cache_data(max_entries=32, show_spinner=False)
def layer_list(key: str, _model, _batch) -> tuple[list[str], str]:
    """The layers with feature maps, and the default: the last of the top two levels of the module
    tree whose receptive field is at most half the image (layer2 of a ResNet-18 at 224 pixels),
    so a unit's patch is a part of the picture, not all of it."""
    names = list(dict.fromkeys(layer.name for layer in spatial_layers(_model, _batch)))
    half = _batch.shape[-1] / 2
    local = [n for n in names if n.count(".") <= 1 and geometry(_model, n).size <= half]
    return names, (local or names)[-1]


@st.cache_data(max_entries=128, show_spinner=False)
def cached_maps(key: str, sha: str, layer: str, _model, _batch):
    fmap, order = feature_maps(_model, _batch, layer)
    return fmap.numpy(), order


@st.cache_data(max_entries=256, show_spinner=False)
def cached_reconstruction(key: str, sha: str, layer: str, channel: int, whole: bool, _model, _batch):
    act = feature_maps(_model, _batch, layer)[0].unsqueeze(0)
    position = strongest_position(act, channel)
    rec = reconstruct(_model, _batch, layer, channel, position, whole_channel=whole)
    return rec.cpu().numpy(), position, float(act[0, channel, position[0], position[1]])


@st.cache_data(max_entries=16, show_spinner=False)
def cached_top9(key: str, set_hash: str, layer: str, channels: tuple[int, ...], _model, _images, _progress):
    tops = top_activations(_model, _images, layer, list(channels), k=9, progress=_progress)
    return {c: [(t.image_index, t.position, t.value, t.reconstruction.cpu().numpy(), t.box) for t in v]
            for c, v in tops.items()}  # fmt: skip


@st.cache_data(max_entries=64, show_spinner=False)
def cached_occlusion(key: str, sha: str, layer: str, channel: int, target: int, window: int, stride: int, _m, _b, _p):
    return occlusion_sensitivity(_m, _b, layer, channel, target, window, stride, progress=_p)


def progress_bar(text: str):
    bar = st.progress(0.0, text=text)
    return bar, lambda done, total: bar.progress(done / max(total, 1), text=f"{text} {done} of {total}")


st.title("What did the network learn?")
st.write(
    "Zeiler & Fergus (ECCV 2014) looked inside a trained network four ways: its first-layer filters, its feature "
    "maps, the deconvnet projection of an activation back to pixels, and occlusion. Each tab does one."
)
chosen = image_input("feat")
model, info = model_picker("feat")
if chosen is None:
    st.stop()
key = weights_key(info)
batch = model_input(model, info, chosen)
seen = input_image(batch, info.mean, info.std)
layers, start_layer = layer_list(key, model, batch)

tab_filters, tab_maps, tab_top9, tab_occ = st.tabs(
    ["Layer-1 filters", "Feature maps & deconvnet", "Top-9 activations", "Occlusion sensitivity"]
)

with tab_filters:
    name, conv = first_conv(model)
    tiles = filter_images(model)
    st.image(montage(tiles, cols=16, scale=max(1, 48 // tiles.shape[1])), width="stretch")
    st.caption(
        f"The {len(tiles)} filters of `{name}` ({conv.kernel_size[0]} x {conv.kernel_size[1]} x 3), each scaled "
        "on its own: mid-grey is zero, brighter or darker colours are positive or negative weights."
    )

with tab_maps:
    c1, c2 = st.columns([2, 1])
    layer = c1.selectbox("Layer", layers, index=layers.index(start_layer), key=f"feat_layer_{info.name}")
    fmap, order = cached_maps(key, chosen.sha256, layer, model, batch)
    shown = order[:32]
    st.image(
        montage(grey_maps(fmap[shown]), cols=8, scale=max(1, 96 // fmap.shape[-1])),
        caption=f"{layer}: the 32 of {fmap.shape[0]} channels ({fmap.shape[1]} x {fmap.shape[2]}) with the strongest "
        f"activations, strongest first: {', '.join(map(str, shown))}",
        width="stretch",
    )
    channel = c2.number_input("Channel", 0, fmap.shape[0] - 1, int(order[0]), key=f"feat_channel_{info.name}_{layer}")
    whole = c2.toggle(
        "Project the whole channel",
        key="feat_whole",
        help="Keep every activation of the channel, not only its strongest.",
    )
    rec, position, value = cached_reconstruction(key, chosen.sha256, layer, int(channel), whole, model, batch)
    box = geometry(model, layer).box(position, seen.shape[:2])
    a, b, c = st.columns(3)
    a.image(symmetric_image(rec), caption="deconvnet projection (mid-grey = 0)", width="stretch")
    b.image(crop_tile(seen, box, 160), caption=f"image patch under the receptive field {box}", width="stretch")
    c.image(
        draw_box(seen, box),
        caption=f"channel {channel}: strongest activation {value:.3g} at {position}",
        width="stretch",
    )
    st.caption(
        "The projection keeps only the chosen activation, zeroes the rest of the layer, and goes back down: "
        "max-pooling undone with the switches from the forward pass, ReLU applied to the signal coming down, "
        "each convolution replaced by its transpose, BatchNorm by its scale, residual paths summed."
    )

with tab_top9:
    st.write("The nine strongest activations of a channel over a set of images (one per image), each shown as its "
             "deconvnet projection and the image patch it sees, as in the paper's Figure 2.")  # fmt: skip
    source = st.radio(
        "Images", ["bundled samples and generated shapes", "my uploads", "a folder"], horizontal=True, key="feat_set"
    )
    images, problems = [], []
    if source == "bundled samples and generated shapes":
        images = bundled_set()
    elif source == "my uploads":
        for f in st.file_uploader("Images", accept_multiple_files=True, key="feat_many", help=SUPPORTED) or []:
            try:
                images.append((f.name, load_image(f.getvalue())))
            except ImageLoadError as exc:
                problems.append(f"{f.name}: {exc}")
    else:
        relative = st.text_input(f"Folder under {image_root()}", "", key="feat_folder")
        if relative:
            try:
                images, problems = folder_set(relative)
            except ValueError as exc:
                st.error(str(exc))
    if problems:
        st.warning(
            "Skipped: " + "; ".join(problems[:5]) + (f" and {len(problems) - 5} more" if len(problems) > 5 else "")
        )
    top_layer = st.selectbox("Layer", layers, index=layers.index(start_layer), key=f"feat_top_layer_{info.name}")
    n_channels = cached_maps(key, chosen.sha256, top_layer, model, batch)[0].shape[0]
    picks = st.multiselect(
        "Channels",
        range(n_channels),
        default=list(range(min(4, n_channels))),
        key=f"feat_top_ch_{info.name}_{top_layer}",
    )
    if images and picks and st.button(f"Scan {len(images)} images", key="feat_scan"):
        tensors = torch.cat([prepare(im, info.preprocess, batch.device) for _, im in images])
        set_hash = hashlib.sha256(
            b"".join(np.asarray(im).tobytes()[:4096] + name.encode() for name, im in images)
        ).hexdigest()
        bar, report = progress_bar("Scanning…")
        st.session_state["feat_top9"] = (
            cached_top9(key, set_hash, top_layer, tuple(picks), model, tensors, report),
            [input_image(tensors[i : i + 1], info.mean, info.std) for i in range(len(images))],
            [name for name, _ in images],
            (key, top_layer),
        )
        bar.empty()
    result = st.session_state.get("feat_top9")
    if result and result[3] == (key, top_layer):
        tops, pictures, names = result[:3]
        for c, items in tops.items():
            st.markdown(f"**Channel {c}**: strongest in {', '.join(names[i] for i, *_ in items[:3])}…")
            left, right = st.columns(2)
            left.image(montage(np.stack([crop_tile(symmetric_image(r), box) for *_, r, box in items]), cols=3),
                       caption="projections", width="stretch")  # fmt: skip
            right.image(montage(np.stack([crop_tile(pictures[i], box) for i, *_, box in items]), cols=3),
                        caption="image patches", width="stretch")  # fmt: skip

with tab_occ:
    predictions = top5(model, info, chosen)
    c1, c2, c3 = st.columns(3)
    occ_layer = c1.selectbox(
        "Feature map of layer", layers, index=layers.index(start_layer), key=f"feat_occ_layer_{info.name}"
    )
    occ_fmap, occ_order = cached_maps(key, chosen.sha256, occ_layer, model, batch)
    occ_channel = c1.number_input(
        "channel", 0, occ_fmap.shape[0] - 1, int(occ_order[0]), key=f"feat_occ_ch_{info.name}_{occ_layer}"
    )
    target = c2.selectbox(
        "Class",
        [p.index for p in predictions],
        format_func=lambda i: info.categories[i],
        key=f"feat_occ_cls_{chosen.sha256}_{key}",
    )
    side = batch.shape[-1]
    window = c3.slider("Grey square (pixels)", 2, side // 2, max(2, side // 5), key=f"feat_occ_win_{side}")
    stride = c3.slider("Step (pixels)", 1, side // 4, max(1, side // 28), key=f"feat_occ_stride_{side}")
    if sticky_button("Slide the grey square", key="feat_occ_run"):
        bar, report = progress_bar("Occluding…")
        maps = cached_occlusion(
            key, chosen.sha256, occ_layer, int(occ_channel), target, window, stride, model, batch, report
        )
        bar.empty()
        figures = occlusion_figures(maps, info.categories, target, f"{occ_layer} channel {occ_channel}")
        for col, fig in zip(st.columns(3), figures, strict=True):
            col.plotly_chart(fig, width="stretch")
        seen_labels = sorted({info.categories[i] for i in np.unique(maps.label)})
        st.caption(
            "Each cell is one position of the grey square (its top-left corner every step). "
            f"Most probable classes seen: {', '.join(seen_labels)}."
        )
