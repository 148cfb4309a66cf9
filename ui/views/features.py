"""The Features page's tabs (Zeiler & Fergus, ECCV 2014): first-layer filters, feature maps with deconvnet projections,
top-9 activations over a set of images, and occlusion sensitivity. Drawing only: explain/ computes."""

from pathlib import Path

import numpy as np
import streamlit as st
import torch
from PIL import Image
from streamlit.delta_generator import DeltaGenerator

from explain.figures.charts import occlusion_figures
from explain.figures.render import crop_tile, draw_box, grey_maps, input_image, montage, symmetric_image
from explain.figures.top9 import top9_montages
from explain.inputs.image_sets import (
    IMAGE_SUFFIXES,
    MAX_SET_IMAGES,
    bundled_set,
    files_signature,
    folder_files,
    folder_set,
    image_folders,
    image_root,
    set_sha256,
)
from explain.inputs.upload_limits import IMAGE_MB, TOP9_UPLOADS
from explain.methods.classify import prepare_set
from explain.methods.deconvnet import (
    enclosing_layer,
    feature_layers,
    field_text,
    geometry,
    outline_layers,
    position_text,
    project_strongest,
    silent_note,
    tiles_with,
)
from explain.methods.filters import feature_maps, filter_images, filters_note, first_conv
from explain.methods.occlusion import (
    MAX_POSITIONS,
    OcclusionMaps,
    check_occlusion,
    min_stride,
    occlusion_sensitivity,
)
from models.classifiers import ModelInfo, imagenet_at_hand
from models.experiments.lecture_loop import test_images
from models.text import counted
from ui.admission import Report, cached_heavy
from ui.image_input import SUPPORTED, decode_upload
from ui.model_picker import training_data
from ui.own_model import own_model
from ui.predictions import top5
from ui.presenter import chart, note, prose, settings
from ui.subject import Subject, cached_on_subject
from ui.upload_guard import bounded_uploads
from ui.view_link import BIND
from ui.widgets import run_button, warn_skipped


def _maps(subject: Subject, layer: str) -> tuple[np.ndarray, list[int]]:
    fmap, order = feature_maps(subject.model, subject.x, layer)
    return fmap.numpy(), order


def _reconstruction(subject: Subject, layer: str, channel: int, whole: bool) -> tuple:
    p = project_strongest(subject.model, subject.x, layer, channel, whole_channel=whole)
    return p.pixels.numpy(), p.position, p.value, p.box, p.tile


cached_maps = cached_on_subject("feature_maps", _maps, max_entries=128)
cached_reconstruction = cached_on_subject("reconstruction", _reconstruction, max_entries=256)
layer_list = cached_on_subject("feature_layers", lambda s: feature_layers(s.model, s.x), max_entries=32)


def layers_ui(subject: Subject) -> tuple[list[str], str]:
    """The layers the tabs offer (the stem's layers, blocks and stages; every layer inside them too when asked) and the
    default; a choice inside a block that the list stops offering moves to its block."""
    names, start = layer_list(subject)
    inside = st.toggle(
        "List the layers inside each block",
        key="feat_inside",
        bind=BIND,
        help="The tabs' layer lists show the stem's layers, the blocks and the stages; this adds each block's "
        "convolutions, BatchNorm, ReLU and shortcut.",
    )
    if inside:
        return names, start
    shown = outline_layers(names, start)
    for key in (
        f"feat_layer_{subject.info.name}",
        f"feat_top_layer_{subject.info.name}",
        f"feat_occ_layer_{subject.info.name}",
    ):
        if st.session_state.get(key) in names and st.session_state[key] not in shown:  # a walk: it fell to the default
            st.session_state[key] = enclosing_layer(st.session_state[key], shown)
    return shown, start


MAX_CHANNELS = 8  # channels per top-9 scan: each costs nine deconvnet projections


@st.cache_resource(show_spinner=False)
def shared_bundled_set() -> list:
    """The bundled set, generated once per process (read-only)."""
    return bundled_set()


def filters_tab(model: torch.nn.Module, info: ModelInfo) -> None:
    """The filters of the first convolution, one tile each, how smooth they are, and what they were learned from."""
    name, conv = first_conv(model)
    data = training_data(info)
    try:
        tiles = filter_images(model)
    except ValueError as exc:
        st.info(f"This network's filters cannot be drawn: {exc}.", icon=":material/grid_view:")
        return
    st.image(montage(tiles, cols=16, scale=max(1, 48 // tiles.shape[1])), width="stretch")
    shades = "greys" if tiles.ndim == 3 else "colours"  # a grey-input network's filters are grey (a walk's crash)
    st.caption(
        f"The {len(tiles)} filters of `{name}` ({conv.kernel_size[0]} x {conv.kernel_size[1]} x "
        f"{conv.in_channels}), each scaled on its own: mid-grey is zero, brighter or darker {shades} are positive or "
        "negative weights. " + filters_note(conv, info.source, imagenet_at_hand(), data and data[0])
    )


def maps_ui(
    subject: Subject,
    layers: list[str],
    start_layer: str,
) -> tuple[str, int, bool, bool]:
    """The layer to show, the channel to project (its strongest first), whether to project all of it, and whether
    the maps share one scale."""
    c1, c2 = st.columns([2, 1])
    layer = c1.selectbox(
        "Layer", layers, index=layers.index(start_layer), key=f"feat_layer_{subject.info.name}", bind=BIND
    )
    _, order = cached_maps(subject, layer)
    channel = channel_input(c2, "Channel", order, f"feat_channel_{subject.info.name}_{layer}", subject, "feat")
    whole = c2.toggle(
        "Project the whole channel",
        key="feat_whole",
        bind=BIND,
        help="Keep every activation of the channel, not only its strongest.",
    )
    shared = c1.toggle(
        "One scale for all maps",
        key="feat_shared_scale",
        bind=BIND,
        help="Off: each map from 0 to its own largest value, to show where each channel fires. On: all from 0 to "
        "the largest value among them, to compare how strongly they fire.",
    )
    return layer, channel, whole, shared


def channel_input(where: DeltaGenerator, label: str, order: list[int], key: str, subject: Subject, tab: str) -> int:
    """A channel number (of len(order), strongest first) that starts at the image's strongest channel and starts
    there again for another image (a link's own channel stays), as each tab of the page does (a walk saw Occlusion
    stay on the last image's channel while the deconvnet tab moved on). `tab` names whose image was last shown."""
    marker = f"{tab}_channel_for"
    shown_for, restart = st.session_state.get(marker), False
    if shown_for != subject.cache_id:
        st.session_state[marker] = subject.cache_id
        if shown_for is not None:
            # set, not dropped: a dropped value left the browser's box on the old channel while the new one was shown
            st.session_state[key], restart = int(order[0]), True
    start = "min" if restart else int(order[0])  # "min": no default beside the value just set
    return where.number_input(label, 0, len(order) - 1, start, key=key, bind=BIND)


def show_feature_maps(layer: str, fmap: np.ndarray, order: list[int], channel: int, shared: bool = False) -> None:
    """The 32 channels of a layer with the strongest activations, strongest first, the chosen channel among them
    (in the last tile when it is not one of the 32: a walk chose one and found its map nowhere), and where it is;
    each map on its own scale, or all on one where `shared`."""
    shown, said = tiles_with(order, channel)
    negative = " (black, negative values too)" if (fmap[shown] < 0).any() else ""
    # negatives drawn black, said where there are any (a layer before its ReLU: a review saw them unexplained)
    scale = (
        f"all maps on one scale, from 0{negative} to the largest value among them, {float(fmap[shown].max()):.3g}"
        if shared
        else f"each map scaled on its own{f', from 0{negative} to its largest' if negative else ''}"
    )
    st.image(
        montage(grey_maps(fmap[shown], shared), cols=8, scale=max(1, 96 // fmap.shape[-1]), mark=shown.index(channel)),
        caption=f"{layer} ({fmap.shape[0]} channels of {fmap.shape[1]} x {fmap.shape[2]}, {scale}): {said}",
        width="stretch",
    )


def show_projection(
    rec: np.ndarray,
    seen: np.ndarray,
    box: tuple[int, int, int, int],
    tile: tuple[int, int, int, int],
    field: str,
    channel: int,
    value: float,
    where: str,
    whole: bool,
) -> None:
    """The deconvnet projection (of the strongest activation or of the whole channel), the image patch under the
    strongest unit's receptive field (`field`: `field_text`), and where that patch is."""
    a, b, c = st.columns(3)
    if whole:  # the whole channel reaches wherever it fires: the whole image, beside the image with the box and the
        b, c = c, b  # patch last (a walk read the patch beside the whole-image projection as the same region)
        shown, projected = symmetric_image(rec), f"channel {channel}'s whole map"
    else:  # one unit's projection is zero outside its receptive field: shown over the patch beside it, as in top-9
        shown, projected = crop_tile(symmetric_image(rec), tile, 160), "its strongest activation, over the same patch"
    a.image(shown, caption=f"deconvnet projection of {projected} (mid-grey = 0)", width="stretch")
    b.image(crop_tile(seen, tile, 160), caption=f"the strongest unit's receptive field, {field}", width="stretch")
    c.image(
        draw_box(draw_box(seen, box, "#000000", 4), box, "#FF2BD6", 2),  # magenta on black: seen on green shapes too
        caption=f"channel {channel}: strongest activation {value:.3g} at {where}",
        width="stretch",
    )
    kept = (
        f"keeps every activation of channel {channel}, zeroes the other channels"
        if whole
        else "keeps only the chosen activation, zeroes the rest of the layer"
    )
    beyond = " The box marks the strongest unit only: the whole channel's projection reaches wherever it fires."
    note(
        f"The projection {kept}, and goes back down: max-pooling undone with the switches from the forward pass, "
        "ReLU applied to the signal coming down, each convolution replaced by its transpose, BatchNorm by its scale, "
        f"residual paths summed.{beyond if whole else ''}"
    )


def maps_tab(
    subject: Subject,
    layers: list[str],
    start_layer: str,
) -> None:
    """A layer's strongest feature maps, and one channel's strongest activation projected back to pixels."""
    with settings("Layer and channel"):  # folded when presenting, as every page's controls (a walk)
        layer, channel, whole, shared = maps_ui(subject, layers, start_layer)
    fmap, order = cached_maps(subject, layer)
    show_feature_maps(layer, fmap, order, int(channel), shared)
    rec, position, value, box, tile = cached_reconstruction(subject, layer, int(channel), whole)
    seen = input_image(subject.x, subject.info.mean, subject.info.std)
    if silent := silent_note(int(channel), value):
        st.info(silent, icon=":material/block:")
    field = field_text(geometry(subject.model, layer), position, seen.shape[:2])
    show_projection(rec, seen, box, tile, field, channel, value, position_text(position, fmap.shape[-2:]), whole)


NO_UPLOADS_YET = "Upload a few images above to scan them: the Scan button appears once they are here."
SET_SOURCES = {"bundled": "bundled samples and generated shapes", "uploads": "my uploads", "folder": "a folder"}


@st.cache_data(ttl=30, show_spinner=False)
def listed_folders(root: str) -> list[str]:
    """`image_folders` of the server's image folder, listed at most every 30 s (not on every rerun of the tab)."""
    return image_folders(Path(root))


def image_set_ui(subject: Subject) -> tuple[list, str]:
    """The images to scan (a folder's files are only listed here), and the folder if one was named; for the
    visitor's own network trained on this server, its own test set first."""
    mine = own_model() if subject.info.source == "own" else None
    sources = {**({"own": "its own test images"} if mine and mine.data else {}), **SET_SOURCES}
    # keyed apart when its own test images are offered, so they are chosen first (a walk scanned photos with a digits
    # network: the choice made before it was kept stayed on the bundled set)
    key = "feat_set_own" if "own" in sources else "feat_set"
    source = st.radio("Images", list(sources), horizontal=True, key=key, format_func=sources.get)
    images, problems, folder = [], [], ""
    if source == "own":
        images = [(name, Image.fromarray(p)) for name, (p, _) in test_images(mine.data, MAX_SET_IMAGES).items()]
    elif source == "bundled":
        images = shared_bundled_set()
    elif source == "uploads":
        uploads = (
            st.file_uploader(  # not "Images" again, as the choice above is named (a review)
                "Your images to scan",
                accept_multiple_files=True,
                key="feat_many",
                help=SUPPORTED,
                max_upload_size=IMAGE_MB,
            )
            or []
        )
        if not uploads:  # a walk chose "my uploads" and the Scan button vanished without a word
            st.info(NO_UPLOADS_YET, icon=":material/upload:")
        for f in bounded_uploads(uploads, TOP9_UPLOADS):
            chosen_upload = decode_upload(f.getvalue(), f.name)  # decoded once per content hash
            if isinstance(chosen_upload, str):
                problems.append(chosen_upload)
            else:
                images.append((chosen_upload.name, chosen_upload.image))
    else:
        folders = listed_folders(str(image_root()))
        if not folders:
            st.info(
                "This server offers no folders of images to scan: whoever runs it can put some under `data/images` "
                "in the project (or point `EXPLAINER_IMAGE_ROOT` at another folder). Meanwhile, scan the samples or "
                "your uploads.",
                icon=":material/folder_off:",
            )
        folder = st.selectbox(
            "Folder on this server",
            ["", *folders],
            key="feat_folder",
            format_func=lambda f: "choose a folder" if not f else "all of the image folder" if f == "." else f,
            disabled=not folders,
            help="The folders of images whoever runs this server put in its image folder; a folder is scanned with "
            "the folders inside it.",
        )
        if folders and not folder:
            st.caption("Choose a folder to scan: the Scan button appears once one is chosen.")
        if folder:
            try:  # the files are only listed here; they are decoded when the scan starts
                images = [(str(p), None) for p in folder_files(folder)]
                if not images:  # a walk met a silent dead end: no button, no word
                    st.info(f"That folder holds no image files ({', '.join(IMAGE_SUFFIXES)}).")
            except ValueError as exc:
                st.error(str(exc))
    warn_skipped(problems)
    return images, folder


def scan_ui(
    subject: Subject,
    layers: list[str],
    start_layer: str,
    images: list,
) -> tuple[str, list[int]]:
    """The layer and channels to scan."""
    top_layer = st.selectbox(
        "Layer", layers, index=layers.index(start_layer), key=f"feat_top_layer_{subject.info.name}", bind=BIND
    )
    fmap, order = cached_maps(subject, top_layer)
    picks = st.multiselect(
        f"Channels (at most {MAX_CHANNELS})",
        range(fmap.shape[0]),
        default=[int(c) for c in order[:4]],  # as Feature maps opens on the strongest (a walk: this started at 0-3)
        max_selections=MAX_CHANNELS,
        help="At first the four channels strongest on the image shown then, as Feature maps opens on the strongest; "
        "kept when the image changes (the scan is of a set of images). Choose any.",
        key=f"feat_top_ch_{subject.info.name}_{top_layer}",
        bind=BIND,
    )
    if images and not picks:  # no button, and a word on why (the choice of images says when there are none)
        st.info("Choose at least one channel to scan.", icon=":material/info:")
    return top_layer, picks


def scan_button(images: list, picks: list[int]) -> bool:
    """Whether the scan was asked for: no button without images and channels."""
    return bool(images and picks and st.button(f"Scan {counted(len(images), 'image')}", key="feat_scan"))


def set_digest(images: list, folder: str) -> str:
    """What a scan of `images` is keyed on: a folder's listed files by their paths, sizes and times (`files_signature`:
    they are decoded within the scan), any other set by its pixels (`set_sha256`)."""
    if folder:
        return "folder:" + files_signature(path for path, _ in images)
    return set_sha256(images[:MAX_SET_IMAGES])


def scan(
    subject: Subject,
    images: list,
    folder: str,
    layer: str,
    picks: list[int],
    digest: str,
) -> tuple[dict[int, tuple], int]:
    """The top-9 montages of each picked channel over the set, through the queue, and how many images were scanned;
    a folder's files are decoded within the queued job. `digest`: what the set is keyed on (`set_digest`)."""
    info = subject.info

    def compute(report: Report) -> tuple[dict[int, tuple], int, list[str]]:
        chosen, problems = folder_set(folder) if folder else (images, [])
        names, tensors = prepare_set(chosen, info.preprocess, subject.x.device)
        montages = top9_montages(subject.model, tensors, names, layer, picks, info.mean, info.std, report)
        return montages, len(names), problems

    montages, scanned, problems = cached_heavy(
        f"Scanning {counted(min(len(images), MAX_SET_IMAGES), 'image')}",
        ("top9", info.cache_key, digest, layer, tuple(picks)),
        compute,
        unit="images",
    )
    warn_skipped(problems)  # a folder's files that could not be read, kept with the result
    return montages, scanned


def show_top9(montages: dict[int, tuple], scanned: int) -> None:
    """Per channel: where it is strongest, its nine projections and the nine image patches; with fewer than nine
    images `scanned`, as many as there are, said so (a walk counted four under 'the nine strongest')."""
    if scanned < 9:
        st.caption(f"{counted(scanned, 'image')} scanned, one activation each: {scanned} of the nine.")
    for c, (strongest, projections, patches, said) in montages.items():
        st.markdown(f"**Channel {c}**: strongest in {', '.join(strongest)} (the tiles by rows, strongest first)")
        left, right = st.columns(2)
        left.image(projections, caption="projections", width="stretch")
        right.image(patches, caption=said, width="stretch")


def top9_tab(
    subject: Subject,
    layers: list[str],
    start_layer: str,
) -> None:
    """The nine strongest activations of chosen channels over a set of images; the last scan stays shown."""
    prose(
        "The nine strongest activations of a channel over a set of images (one per image), each shown as its "
        "deconvnet projection and the image patch it sees, as in the paper's Figure 2."
    )
    # folded when presenting, the Scan button left in view (a lecturer's walk: the whole first screen was controls)
    with settings("Images, layer and channels"):
        images, folder = image_set_ui(subject)
        top_layer, picks = scan_ui(subject, layers, start_layer, images)
    pressed = scan_button(images, picks)
    # what a scan is of: the model, the layer, the images and the channels (a review saw the last scan's channel 0
    # and its images shown after both had changed, under no Scan button)
    digest = set_digest(images, folder)  # once a run (9 ms for the bundled set)
    scanned_for = (subject.info.cache_key, top_layer, digest, tuple(picks))
    if pressed:
        try:
            montages, scanned = scan(subject, images, folder, top_layer, picks, digest)
            st.session_state["feat_top9"] = (montages, scanned_for, scanned)
        except ValueError as exc:  # a folder gone, or holding nothing that decodes, since it was listed
            st.error(f"Cannot scan that folder: {exc}")
    result = st.session_state.get("feat_top9")
    if result and result[1] == scanned_for:
        show_top9(result[0], result[2])
    elif result:
        st.caption("The last scan was of other images, channels or another layer: scan again to see these.")


def occlusion_ui(
    subject: Subject,
    layers: list[str],
    start_layer: str,
) -> tuple[str, int, int, int, int]:
    """The feature map (layer and channel) and class to follow, and the grey square's size and step."""
    predictions, info = top5(subject), subject.info
    c1, c2, c3 = st.columns(3)
    occ_layer = c1.selectbox(
        "Feature map of layer", layers, index=layers.index(start_layer), key=f"feat_occ_layer_{info.name}", bind=BIND
    )
    _, occ_order = cached_maps(subject, occ_layer)
    occ_channel = channel_input(c1, "Channel", occ_order, f"feat_occ_ch_{info.name}_{occ_layer}", subject, "feat_occ")
    target = c2.selectbox(
        "Class",
        [p.index for p in predictions],
        format_func=lambda i: info.categories[i],
        key=f"feat_occ_cls_{subject.cache_id}",
    )
    side = subject.x.shape[-1]
    window = c3.slider("Grey square (pixels)", 2, side // 2, max(2, side // 5), key=f"feat_occ_win_{side}")
    low = min_stride(side, window)
    stride = c3.slider(
        "Step (pixels)",
        low,
        max(low + 1, side // 4),
        max(low, side // 28),
        key=f"feat_occ_stride_{side}_{low}",
        help=f"At most {MAX_POSITIONS:,} positions of the square: smaller steps are allowed for smaller squares.",
    )
    return occ_layer, occ_channel, target, window, stride


def show_occlusion(
    maps: OcclusionMaps, categories: list[str], target: int, feature: str, seen: np.ndarray, window: int
) -> None:
    """The input with the square where it hurts the class most, then the three occlusion maps, equal in size."""
    figures = occlusion_figures(maps, categories, target, feature, window)
    flat = maps.flat_note(window, seen.shape[1], categories[target])
    top = st.columns(2)
    top[0].image(
        seen if flat else draw_box(seen, maps.worst_square(window), "#FF0066"),
        caption="(a) the input" if flat else f"(a) the input; the square where p({categories[target]}) drops most",
        width="stretch",
    )
    for col, fig in zip([top[1], *st.columns(2)], figures, strict=True):
        chart(col, fig, width="stretch")
    if flat:
        st.info(flat, icon=":material/info:")
    seen_labels = sorted({categories[i] for i in np.unique(maps.label)})
    note(
        "Each cell is one position of the grey square, drawn at the square's centre; the axes are the pixels of the "
        f"image as the model gets it ({seen.shape[1]} x {seen.shape[0]}). "
        f"Most probable classes seen: {', '.join(seen_labels)}. The panels are lettered as Zeiler & Fergus' Figure 7; "
        "its (c), the feature map's projection down to the pixels, is what the **Feature maps & deconvnet** tab draws."
    )


def occlusion_tab(
    subject: Subject,
    layers: list[str],
    start_layer: str,
) -> None:
    """Slide a grey square over the image and follow a feature map and a class, from the button."""
    with settings("Occlusion settings"):  # folded when presenting, as every page's controls (a walk)
        occ_layer, occ_channel, target, window, stride = occlusion_ui(subject, layers, start_layer)
    chosen = (subject.cache_id, occ_layer, int(occ_channel), int(target), int(window), int(stride))
    if run_button("Slide the grey square", "feat_occ_run", chosen):
        try:
            n_positions = check_occlusion(tuple(subject.x.shape[-2:]), window, stride)
        except ValueError as exc:
            st.error(str(exc))
        else:
            maps = cached_heavy(
                f"Occluding {n_positions} positions",
                ("occlusion", *chosen),
                lambda report: occlusion_sensitivity(
                    subject.model, subject.x, occ_layer, int(occ_channel), target, window, stride, progress=report
                ),
                unit="positions",
            )
            info = subject.info
            seen = input_image(subject.x, info.mean, info.std)
            show_occlusion(maps, info.categories, target, f"{occ_layer} channel {occ_channel}", seen, window)
