"""The Mask R-CNN page's sections: detections and their table, the pipeline stage by stage, and one detection
explained (ui.views.detection_truth scores them against the truth). Drawing only: explain/ and models/ compute."""

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from explain.figures.charts import map_figure, subtitle, top_k_bar
from explain.figures.detections import (
    Listed,
    coco_json,
    contrasting_colour,
    draw,
    drawn_with_count,
    labels_left_off,
    listing_text,
    proposals_picture,
    roi_picture,
)
from explain.figures.render import draw_box, grey_maps, montage, overlay, png_bytes
from explain.inputs.samples import ONE_SHAPE
from explain.methods.classify import most_probable
from explain.methods.filters import strongest_channels
from explain.methods.ground_truth import one_shape_note
from explain.methods.rcnn_stages import (
    BOX_LEVEL,
    POOL,
    Followed,
    Stages,
    box_head_text,
    box_heads,
    cam_note,
    detection_cams,
    detection_source,
    follow,
    fpn_level_name,
    fpn_stride,
    head_outputs,
    roi_level,
    roi_pool_vs_align,
    run_stages,
    stage_settings,
)
from models.detectors import BUNDLED_DETECTOR, DetectorInfo, Instance, detect, drawable
from models.text import percent
from ui.presenter import chart, prose, settings, stage, text_scale
from ui.subject import Subject, cached_on_subject
from ui.view_link import BIND, explained, linked_image_missing, linked_row, name_row

ROW = "det_row"  # the query parameter naming the clicked detection, 1-based among all the model found
ROW_SOURCE = "det_row_source"  # session key: the cache id of the image and model the URL's row belongs to

cached_detect = cached_on_subject("detect", lambda s: detect(s.model, s.chosen.image, s.info.categories))
cached_stages = cached_on_subject("rcnn_stages", lambda s: run_stages(s.model, s.x), max_entries=32)
cached_heads = cached_on_subject(
    "rcnn_heads", lambda s, box, label: head_outputs(s.model, cached_stages(s), box, label)
)
cached_explanation = cached_on_subject(
    "rcnn_explanation", lambda s, box, label: detection_cams(s.model, s.x, box, label)
)
cached_box_heads = cached_on_subject(
    "rcnn_box_heads", lambda s, box, label: box_heads(s.model, cached_stages(s), box, label)
)
cached_source = cached_on_subject(
    "rcnn_source",
    lambda s, box, label, score: detection_source(s.model, cached_stages(s), box, label, score),
)
cached_roi = cached_on_subject(
    "rcnn_roi",
    lambda s, level, box, aligned: roi_pool_vs_align(
        cached_stages(s), level, box, tuple(s.x.shape[-2:]), aligned=aligned
    ),
)


def filters_ui(instances: list[Instance], subject: Subject) -> tuple[float, list[str], list[str]]:
    """Choose the score threshold, the classes to keep (of those found) and what to draw."""
    found = sorted({i.label for i in instances})
    c1, c2, c3 = st.columns([2, 3, 2])
    kept = stage_settings(subject.model).min_score  # a fidelity review: 0 seemed to show everything
    threshold = c1.slider(
        "Score threshold",
        0.0,
        1.0,
        0.5,
        0.05,
        key="det_threshold",
        bind=BIND,
        help=f"The detections listed score at least this. The model itself keeps none under {kept:g} (its "
        "box_score_thresh), so a threshold below that shows no more.",
    )
    classes = c2.multiselect(
        "Classes", found, default=found, key=f"det_classes_{subject.cache_id}", wrap=True
    )  # every class found in sight, not a scrolling row
    offered = list(drawable(subject.model))  # only what this detector gives (a walk: keypoints for a Mask R-CNN)
    show = (
        c3.pills(
            "Draw",
            offered,
            selection_mode="multi",
            default=offered,
            key="det_show",
            bind=BIND,
            help="What to draw of what this detector gives: masks come from Mask R-CNNs (the bundled detector is "
            "one), keypoints from Keypoint R-CNN only.",
        )
        or []
    )
    return threshold, classes, show


def detections_ui(
    image: np.ndarray,
    label: str,
    info: DetectorInfo,
    kept: list[Instance],
    numbers: list[int],
    total: int,
    show: list[str],
    source: str,
    generated: bool = False,
) -> int | None:
    """The kept detections drawn on the image, beside their table and downloads; return the row clicked, if any.
    `numbers`: each kept detection's index among all `total` that `source` (the image and model's cache id) gave,
    by which the URL names the clicked one (`ROW`)."""
    table = pd.DataFrame(
        [
            {
                "class": i.label,
                "score": round(i.score, 3),
                "box": ", ".join(str(round(v)) for v in i.box),
                "mask px": int(i.mask.sum()) if i.mask is not None else None,
            }
            for i in kept
        ]
    )
    if st.session_state.get(ROW_SOURCE, source) != source:  # the linked number named another image's detection
        name_row(ROW, None)
    elif linked_image_missing():  # the link's row is of its upload, not of the image shown instead (said above)
        name_row(ROW, None)
        explained(ROW)
    st.session_state[ROW_SOURCE] = source
    # A table of its own for each list: a row number means another detection in another list, and the browser kept
    # a shorter list's tick on the old row number, then sent it (a walk: the focus moved to a detection nobody
    # clicked). A new table starts from the URL's detection where the list still holds it.
    shown = [(i.label, round(i.score, 4), tuple(round(v, 1) for v in i.box)) for i in kept]
    listed = hashlib.sha256(repr((source, shown)).encode()).hexdigest()[:12]
    named = linked_row(ROW, total)
    linked = numbers.index(named) if named in numbers else None
    if named is not None and linked is None:  # a link's or a click's detection the filters now hide (a walk)
        st.info(
            f"Detection {named + 1} of {total}, the one in focus, is hidden by the score threshold or the classes "
            "chosen: lower the threshold or add its class back to see it, then click it again.",
            icon=":material/filter_alt:",
        )
    picture, listing = st.columns([1, 1])
    with listing:
        selection = None
        if kept:  # no table without rows
            selection = st.dataframe(
                table,
                hide_index=True,
                on_select="rerun",
                selection_mode="single-row",
                selection_default={"selection": {"rows": [linked]}} if linked is not None else None,
                key=f"det_table_{listed}",
                width="stretch",
                column_config={  # pixel widths that fit the column beside the picture, so no column is cut off
                    "class": st.column_config.TextColumn(width=80),
                    "score": st.column_config.NumberColumn(format="%.3f", width=60),
                    "box": st.column_config.TextColumn("box x0,y0,x1,y1", width=130),
                    "mask px": st.column_config.NumberColumn(
                        "mask px", format="%d", width=70, help="mask area in pixels"
                    ),
                },
            )
        # under the table: over it, the table's hover toolbar covered the line's end (a walk)
        st.caption(listing_text(len(kept), total))
    rows = selection.selection.rows if selection else []
    focus = rows[0] if rows and rows[0] < len(kept) else None
    name_row(ROW, None if focus is None else numbers[focus])  # a link opens on the same detection
    drawn, labelled = drawn_with_count(
        image,
        kept,
        masks="masks" in show,
        boxes="boxes" in show,
        keypoints="keypoints" in show,
        focus=focus,
        text_scale=text_scale(),
        ids=numbers,
    )
    boxed = ("boxes" in show) * (len(kept) if focus is None else 1)  # a walk: a label went missing without a word
    picture.image(drawn, caption=f"{label}: {info.title}{labels_left_off(labelled, boxed)}", width="stretch")
    if info.name == BUNDLED_DETECTOR and generated and label in ONE_SHAPE:  # found or not, say why it may fail
        st.caption(one_shape_note())
    if not kept:
        return None
    d1, d2 = listing.columns(2)
    d1.download_button(
        "COCO JSON",
        coco_json(kept, info.categories, image.shape[:2], label),
        "detections.json",
        "application/json",
        key="det_json",
    )
    d2.download_button("Overlay PNG", png_bytes(drawn), "detections.png", "image/png", key="det_png")
    if info.name == BUNDLED_DETECTOR and not generated:
        st.caption(
            "The bundled detector was trained on generated shapes only: unless this image is a scene like them, its "
            "boxes are guesses among the shapes; pick a generated scene to see it work."
        )
    return focus


def level_ui(stages: Stages) -> str:
    """Choose the FPN level whose feature maps to show."""
    return st.radio(
        "Level",
        list(stages.features),
        horizontal=True,
        key="det_level",
        bind=BIND,
        format_func=fpn_level_name,
    )


def proposals_ui(stages: Stages) -> int:
    """Choose how many of the strongest proposals to draw."""
    return st.slider(
        "Proposals to draw",
        1,
        max(1, len(stages.proposals)),
        min(20, max(1, len(stages.proposals))),
        key="det_n_props",
        bind=BIND,
    )


RCNN_FAMILY = pd.DataFrame(
    [
        (
            "R-CNN (Girshick et al., 2014)",
            "selective search, ~2,000 per image",
            "each region cropped from the image, warped, run through the CNN",
            "an SVM per class, box regression",
        ),
        (
            "Fast R-CNN (2015)",
            "selective search",
            "the CNN runs once; RoIPool cuts each region from its feature map",
            "fully connected: softmax over classes, box regression",
        ),
        ("Faster R-CNN (2015)", "the region proposal network, on the same features", "RoIPool", "as Fast R-CNN"),
        (
            "Mask R-CNN (2017)",
            "the RPN over a feature pyramid (FPN)",
            "RoIAlign (no rounding)",
            "box and class, plus a mask head (28 x 28 per class)",
        ),
    ],
    columns=["", "proposals", "features per region", "heads"],
)


RCNN_STAGES = (
    "The stages below run the model chosen above, one module at a time, in the model's order: 1. backbone and FPN, "
    "2. proposals, 3. RoIPool against RoIAlign, 4. RoI features into the box and class heads, 5. detections, 6. the "
    "mask (or keypoint) head."
)


def pipeline_tab(image: np.ndarray, stages: Stages, followed: Followed | None) -> None:
    """Stages 1 and 2: the FPN's feature maps at a chosen level and the strongest proposals, numbered by
    objectness, the one stages 3 and 4 follow drawn red as stage 4 draws it (a walk could not find it)."""
    with st.expander("From R-CNN to Mask R-CNN", expanded=False):
        st.table(RCNN_FAMILY, hide_index=True, border="horizontal")  # static: long cells wrap (a walk saw them cut)
        st.caption(RCNN_STAGES)
    stage(
        "1. Backbone + FPN.",
        "A ResNet turns the image into feature maps at strides 4 to 64; the feature pyramid network gives every "
        "level the same channels, so one head can look at all scales.",
    )
    with settings("Feature level"):
        level = level_ui(stages)
    fmap = stages.features[level]
    order = strongest_channels(fmap, 7)
    tiles = grey_maps(np.concatenate([fmap.mean(0, keepdims=True), fmap[order]]))
    st.image(
        montage(tiles, cols=8, scale=max(1, 96 // tiles.shape[-1])),
        width="stretch",
        caption=f"{fpn_level_name(level)}: channel mean, then the 7 strongest channels ({fmap.shape[2]} x "
        f"{fmap.shape[1]} cells); the model saw the image resized to {stages.resized_to[1]} x {stages.resized_to[0]} "
        "pixels (width x height, both)",
    )
    rules = stages.settings
    stage(
        "2. Region proposals.",
        "The RPN scores every anchor box for 'object or not' and nudges it; "
        + (
            f"at each FPN level the {rules.pre_nms:,} best go on, non-maximum suppression at IoU {rules.rpn_iou:g} "
            f"removes overlapping ones within each level (boxes from two levels may still overlap: torchvision's "
            f"batched NMS), and the {rules.post_nms:,} best of all levels survive. "
            if rules
            else "the best survive non-maximum suppression. "
        )
        + "Here are the strongest, with their objectness.",
    )
    # the picture in 3/5 of the width, its control beside it: the whole width made a square image 820 px tall,
    # more than a 720-px screen (a walk)
    left, right = st.columns([3, 2])
    with right, settings("Proposals drawn"):
        n = proposals_ui(stages)
    rank = followed.rank if followed is not None else None
    drawn = rank is not None and rank < n
    picture, labelled = proposals_picture(
        image, stages.proposals[:n], stages.objectness[:n], rank if drawn else None, text_scale()
    )
    if rank is None:
        which = ""
    elif drawn:
        which = f"; red: #{rank + 1}, the proposal stages 3 and 4 follow (the others grey)"
    else:
        which = f"; stages 3 and 4 follow #{rank + 1}, not among those drawn: draw {rank + 1} or more to see it"
    left.image(
        picture,
        width="stretch",
        caption=f"{n} of {len(stages.proposals)} proposals, numbered by objectness{labels_left_off(labelled, n)}"
        f"{which}",
    )


def detections_stage(stages: Stages, listed: int, threshold: float, no_class: bool = False) -> None:
    """Stage 5: how many detections every proposal's pooling and heads left, and how many the table lists (a walk
    read stages numbered 3, 3b, 3c: the detections came before the steps that make them)."""
    rules = stages.settings
    kept = (
        f"scores under {rules.min_score:g} are dropped, per-class non-maximum suppression at IoU {rules.iou:g} "
        f"removes overlaps, and at most {rules.per_image} are kept: here"
        if rules
        else "per-class non-maximum suppression then leaves"
    )
    stage(
        "5. Detections.",
        f"Stages 3 and 4 run for every proposal at once; {kept} {len(stages.boxes)} detections. "
        + (
            f"The table above lists {listed} of them: those scoring at least {threshold:.2f} in the classes chosen."
            if listed
            else "No class is chosen in the filter above, so the page lists none."
            if no_class
            else f"None of them scores at least {threshold:.2f} in the classes chosen, so the page lists none."
        ),
    )


def followed_proposal(stages: Stages, inst: Instance | None, subject: Subject) -> Followed | None:
    """The proposal stages 3 and 4 follow (`follow`): the one the clicked detection came from, else the strongest."""
    exact = cached_source(subject, inst.box, inst.label_index, inst.score) if inst is not None else None
    return follow(stages, inst.box if inst is not None else None, exact)


def followed_name(followed: Followed, inst: Instance | None) -> str:
    """The followed proposal in words, for the captions of stages 3 and 4."""
    rank = followed.rank + 1
    if inst is None or followed.why == "strongest":
        return f"proposal {rank}, the strongest"
    detection = f"{inst.label} {percent(inst.score, 0)}"
    if followed.exact:
        return f"proposal {rank}, the one {detection} came from"
    return f"proposal {rank}, the one overlapping {detection} most (its source not found)"  # said as a guess


def roi_section(
    image: np.ndarray, stages: Stages, followed: Followed | None, inst: Instance | None, subject: Subject
) -> None:
    """Stage 3: the proposal the clicked detection came from (else the strongest) pooled both ways at the FPN level
    the box head pools it from, the gap between the two split into its two causes."""
    stage(
        "3. RoIPool against RoIAlign.",
        "Before the heads, each box's features are pooled to 7 x 7 cells. Fast R-CNN's RoIPool snaps the box to "
        "whole cells of the feature map and takes the maximum over uneven bins; Mask R-CNN's RoIAlign samples the "
        "map bilinearly at exact positions and averages, so the pooled features line up with the box (which its "
        "28 x 28 masks need). Shown as the model's box head runs it: on the proposal a detection came from (the mask "
        "head later pools the detection's final box, at 14 x 14), at the level the box's size picks.",
    )
    if followed is None:
        st.info("No proposal to pool.")
        return
    box, what = followed.box, followed_name(followed, inst)
    level = roi_level(stages, box, image.shape[:2])
    with settings("RoIAlign variant"):
        aligned = st.toggle(
            "RoIAlign with the half-pixel correction (aligned=True)",
            key="det_roi_aligned",
            bind=BIND,
            help="Detectron2's default and the paper's intent; torchvision's box head samples without it.",
        )
    roi = cached_roi(subject, level, box, aligned)
    rows, cols = stages.features[level].shape[1:]  # a walk: "cells (17, 6, 32, 18)" on a map of columns 0 to 31
    past = any(q > m for q, m in zip(roi.quantised, (cols - 1, rows - 1, cols - 1, rows - 1), strict=True))
    edge = f"; the map ends at cell ({cols - 1}, {rows - 1}), and RoIPool reads no further" if past else ""
    a, b, c = st.columns(3)
    a.image(
        roi_picture(stages, roi),
        width="stretch",
        caption=f"{what} on {fpn_level_name(level)} (stride {roi.stride}), the level its size picks: green the "
        "exact box, red the whole cells RoIPool reads",
    )
    lo, hi = float(min(roi.pool.min(), roi.align.min())), float(max(roi.pool.max(), roi.align.max()))
    for col, (name, cells) in zip((b, c), (("RoIPool", roi.pool), ("RoIAlign", roi.align)), strict=True):
        fig = px.imshow(
            cells, zmin=lo, zmax=hi, color_continuous_scale="Viridis", title=name + subtitle("7 x 7, channel mean")
        )
        chart(
            col,
            # the title's second line short: on hover Plotly's toolbar covered a one-line title's end (a walk)
            fig.update_layout(height=300, margin=dict(l=10, r=10, t=55, b=10)),
            width="stretch",
            key=f"det_roi_{name}",
        )
    st.caption(  # in plain words: two walks found "not shares of the whole ... where one undoes" too dense
        f"Box in feature cells: exact ({', '.join(f'{v:.2f}' for v in roi.exact)}); RoIPool reads the whole cells "
        f"({', '.join(map(str, roi.quantised))}, inclusive{edge}). Over all channels the two 7 x 7 outputs differ by "
        f"{roi.difference:.0%} of RoIAlign's average size. Two changes make that difference, each tried alone here: "
        f"taking each bin's maximum instead of its average changes the output by {roi.max_vs_average:.0%}; reading "
        f"whole cells instead of sampling between them, by {roi.snapping:.0%}. Tried alone, they need not add up to "
        "the whole: one can undo part of the other. "
        + (
            "RoIAlign shown with the half-pixel correction, which the model does not use"
            if roi.aligned
            else "RoIAlign shown as the model's box head runs it (torchvision: aligned=False)"
        )
        + f"; the half-pixel correction changes its values by {roi.half_pixel:.0%}."
    )


def heads_section(
    image: np.ndarray,
    stages: Stages,
    followed: Followed | None,
    inst: Instance | None,
    categories: Sequence[str],
    subject: Subject,
) -> None:
    """Stage 4: one proposal's RoI features, the box head's class probabilities and the box it moves to."""
    stage(
        "4. RoI features → box and class heads.",
        f"The pooled 7 x 7 features of one proposal go through {box_head_text(subject.model)}; the box predictor "
        "then gives a probability for every class (background included) and, per class, how to move and resize the "
        "proposal.",
    )
    if followed is None:
        st.info("No proposal to follow.")
        return
    box, which = followed.box, followed_name(followed, inst)
    out = cached_box_heads(
        subject, box, inst.label_index if followed.exact else None
    )  # the detection's own box, when known
    a, b, c = st.columns(3)
    drawn = draw_box(
        draw_box(image, tuple(round(v) for v in box), "#FF1744", 3), tuple(round(v) for v in out.refined), "#00C853", 3
    )
    a.image(
        drawn,
        width="stretch",
        caption=f"{which}: red as proposed, green {out.moved_for(categories)} ({out.moved_text(box)})",
    )
    tiles = grey_maps(
        np.concatenate([out.features.mean(0, keepdims=True), out.features[strongest_channels(out.features, 7)]])
    )
    level = fpn_level_name(out.level)
    b.image(
        montage(tiles, cols=4, scale=12),
        width="stretch",
        caption=f"its RoI features: 7 x 7 x {out.features.shape[0]}, pooled from {level} (stride "
        f"{fpn_stride(out.level)}), the level its size picks; channel mean, then the 7 strongest",
    )
    preds = most_probable(out.probabilities, categories, k=5)
    shown = f"its {len(preds)} most probable of {len(categories)} classes" if len(preds) < len(categories) else ""
    title = f"class probabilities (box head){'<br>' + shown if shown else ''}"  # a walk missed two classes unsaid
    chart(c, top_k_bar(preds, title), width="stretch", key="det_box_head_probs")


def show_heads(
    image: np.ndarray,
    inst: Instance | None,
    heads: dict | None,
    keypoint_names: tuple[str, ...],
    counts: Listed,
) -> None:
    """Stage 6 for the detection clicked: its mask logits and pasted mask, or its keypoint heatmaps; `counts` (kept,
    found, no class chosen) say why there is none to show."""
    if inst is None:
        st.info(counts.hint("see its mask logits or keypoint heatmaps"))
        return
    if "mask_logits" in heads:
        stage(
            "6. The mask head.",
            "It predicts 28 x 28 logits for the instance's box and class; they are resized into the box and "
            "thresholded at probability 0.5 to give the full-resolution mask.",
        )
        a, b = st.columns(2)
        chart(
            a,
            px.imshow(
                heads["mask_logits"],
                color_continuous_scale="RdBu_r",
                title="28 x 28 mask logits",
                zmin=-10,
                zmax=10,
            ),
            width="stretch",
        )
        shown = draw(image, [inst], boxes=False, colour=contrasting_colour(image, inst.mask), alpha=0.6)
        b.image(
            shown, caption="the pasted full-resolution mask, in the colour farthest from the object's", width="stretch"
        )
    if "keypoint_heatmaps" in heads:
        stage("6. The keypoint head.", "It predicts one 56 x 56 heatmap per body keypoint; each peak becomes a point.")
        maps = grey_maps(heads["keypoint_heatmaps"])
        st.image(
            montage(maps, cols=6, scale=2),
            width="stretch",
            caption=", ".join(keypoint_names) or "keypoint heatmaps",
        )


def cam_level_ui(stages: Stages, pooled_from: str | None) -> str:
    """Choose the FPN level at which to explain the detection: by default the one its features were pooled from
    (BOX_LEVEL, the level its score has a gradient at)."""
    own = f"its own ({fpn_level_name(pooled_from)})" if pooled_from else "its own (none: no gradient)"
    return st.radio(
        "At level",
        [BOX_LEVEL, *(k for k in stages.features if k not in (POOL, pooled_from))],
        horizontal=True,
        key="det_cam_level",
        bind=BIND,
        format_func=lambda k: own if k == BOX_LEVEL else fpn_level_name(k),
        # said before the click (a walk clicked through three black maps)
        help="The box head pools each detection's features from one level, picked by the size of its proposal (about "
        "its box's): at the other levels its score has no gradient, so their maps are empty.",
    )


def explain_tab(image: np.ndarray, stages: Stages, inst: Instance | None, subject: Subject, counts: Listed) -> None:
    """Grad-CAM of the detection clicked, at a chosen FPN level, or why it cannot be explained; `counts` (kept,
    found, no class chosen) say why there is none."""
    prose(
        "Grad-CAM of one detection's class score at an FPN level: the model is run again with gradients, the "
        "detection is found again (same class, highest IoU with its box), and its class score before the softmax "
        "(the logit, as Grad-CAM takes it; the detection's percentage is its softmax) is differentiated."
    )
    if inst is None:
        st.info(counts.hint("explain that detection"))
        return
    try:  # every level's map from one backward pass, which also names the level pooled from (the gradient's)
        cams = cached_explanation(subject, inst.box, inst.label_index)
    except ValueError as exc:
        st.warning(f"This detection cannot be explained: {exc}.")
        return
    with settings("Grad-CAM level"):
        chosen = cam_level_ui(stages, cams.pooled_from)
    cam, iou, level, pooled_from = cams.at(chosen), cams.iou, cams.level_of(chosen), cams.pooled_from
    where = "no level (no gradient)" if chosen == BOX_LEVEL and pooled_from is None else fpn_level_name(level)
    left, right = st.columns(2)
    left.image(
        overlay(draw(image, [inst], masks=False, keypoints=False), cam, "absolute", 0.8),
        width="stretch",
        caption=f"{inst.label} {percent(inst.score, 0)}: Grad-CAM at {where} (found again with IoU {iou:.2f})",
    )
    chart(
        right,
        map_figure(cam, "absolute", "the map alone" + subtitle("0 = no evidence, 1 = the map's peak")),
        width="stretch",
        key="det_cam_map",
    )
    if why := cam_note(cam, level, pooled_from, inst.box):
        st.info(why, icon=":material/info:")
