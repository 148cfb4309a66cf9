"""The Mask R-CNN page's "Against the truth" tab: the image's true objects (a generated scene's own, or an
uploaded COCO annotation file's), each shown detection right or wrong at a chosen IoU, and COCO AP with its
precision-recall curves. Drawing only: explain.methods.ground_truth scores."""

import numpy as np
import streamlit as st

from explain.figures.charts import precision_recall_chart
from explain.figures.detections import (
    draw_verdicts,
)
from explain.inputs.annotations import AnnotationFile, TrueObject, coco_objects, labels_known, scene_objects
from explain.inputs.images import image_sha256
from explain.inputs.samples import sample_truth
from explain.inputs.upload_limits import IMAGE_MB
from explain.methods.ground_truth import SET_SIZE, image_ap_text, match, score, score_generated_set, versus_card
from models.data.shapes import SHAPE_CLASSES
from models.detectors import DetectorInfo, Instance
from models.text import code_span, code_spans, counted, display_name
from ui.admission import cached_heavy
from ui.image_input import ChosenImage
from ui.presenter import chart, settings, text_scale
from ui.subject import Subject
from ui.view_link import BIND
from ui.widgets import run_button, warn_skipped


def truth_ui(chosen: ChosenImage, image: np.ndarray, info: DetectorInfo) -> list[TrueObject] | None:
    """The image's true objects: a generated scene's own, or those of an uploaded COCO annotation file; None,
    having said why, when there are none."""
    scene = sample_truth(chosen.name, chosen.sha256)
    if scene is not None:
        objects = scene_objects(scene)
        st.caption(  # the picture draws the boxes only (a walk looked for the masks it named)
            f"The truth: {counted(len(objects), 'object')} the generator drew, boxes and masks (the masks score mask "
            "AP; the picture draws the boxes)."
        )
    else:
        upload = st.file_uploader(
            "COCO annotation file (JSON) for this image",
            key="det_truth_upload",
            max_upload_size=IMAGE_MB,
            help="COCO format: images, categories, annotations with bbox (x, y, width, height). Boxes only.",
        )
        if upload is None:
            st.info(
                "Pick a generated scene or shape as the image, or upload a COCO-format annotation file for your "
                "image, to see which detections are right."
            )
            return None
        data = upload.getvalue()
        annotations = cached_annotations(image_sha256(data), chosen.name, image.shape[:2], data)
        if isinstance(annotations, str):
            st.error(f"{display_name(upload.name)}: {annotations}", icon=":material/description:")
            return None
        objects = annotations.objects
        warn_skipped(annotations.outside)
        if annotations.other_name:
            st.caption(
                f"The file's one image is named {code_span(annotations.other_name, 60)}, not this image's name: its "
                "boxes are taken for this image."
            )
    known, unknown = labels_known(objects, info.categories)
    if unknown:
        st.warning(f"{info.title} does not know {code_spans(unknown)}: those objects are left out.")
    return known


@st.cache_data(max_entries=32, show_spinner=False)
def cached_annotations(sha256: str, image_name: str, size: tuple[int, int], _data: bytes) -> AnnotationFile | str:
    """An annotation file's boxes for the image, or its one-line refusal, read once per (file's SHA-256, image):
    every rerun of the page read a 5-MB file again (0.3 s each)."""
    try:
        return coco_objects(_data, image_name, size)
    except ValueError as exc:
        return str(exc)


def truth_tab(
    image: np.ndarray,
    instances: list[Instance],
    kept: list[Instance],
    truth: list[TrueObject],
    subject: Subject,
) -> None:
    """Each shown detection right or wrong at a chosen IoU, the misses, and COCO AP with its precision-recall
    curve for this image (all detections) and, from its button, for a set of generated scenes."""
    info = subject.info
    with settings("IoU to be right"):
        iou = st.slider(
            "IoU a detection needs with a true object of its class to be right",
            0.5,
            0.95,
            0.5,
            0.05,
            key="det_truth_iou",
            bind=BIND,
        )
    m = match(kept, truth, iou)
    left, right = st.columns([1, 1])
    picture, labelled, boxes = draw_verdicts(image, kept, m.true_positive, truth, m.missed, text_scale())
    left_off = (
        f" ({labelled} of {boxes} labelled: labels are placed wrong first, then missed, then right; one with no free "
        "spot is left off)"
        if labelled < boxes
        else ""
    )
    left.image(
        picture, width="stretch", caption=f"white: the truth; green: right; red: wrong; orange: missed{left_off}"
    )
    rows = [
        {
            "detection": d.label,
            "score": round(d.score, 3),
            "verdict": "right" if ok else "wrong",
            "best IoU": round(v, 2),
        }
        for d, ok, v in zip(kept, m.true_positive, m.iou, strict=True)
    ]
    right.markdown(
        f"Of the {len(kept)} detections shown, **{sum(m.true_positive)} right** and "
        f"**{len(kept) - sum(m.true_positive)} wrong**; **{len(m.missed)} of {len(truth)}** true objects missed "
        "(a true object is matched once: a second detection of it is wrong)."
    )
    right.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config={  # every score to three places, as the detections' table (a walk: "0.87" among "0.934"s)
            "score": st.column_config.NumberColumn(format="%.3f"),
            "best IoU": st.column_config.NumberColumn(format="%.2f"),
        },
    )
    here = score([instances], [truth], [image.shape[:2]], info.categories, iou)
    curves = {"this image": (here.recall, here.precision)} if here.objects else {}  # none: no curve to draw
    st.markdown(image_ap_text(here, all(m.true_positive), iou))
    if all(c in info.categories for c in SHAPE_CLASSES):
        run_settings = (subject.info.cache_key, iou)
        if run_button(f"Score on {SET_SIZE} generated scenes", "det_truth_set", run_settings):
            whole = cached_heavy(
                f"Detecting in {SET_SIZE} generated scenes",
                ("det-set", *run_settings),
                lambda report: score_generated_set(subject.model, info.categories, iou, report=report),
                unit="scenes",
            )
            curves[f"{SET_SIZE} generated scenes"] = (whole.recall, whole.precision)
            mask = f", mask AP {100 * whole.mask['AP']:.1f}" if whole.mask else ""
            st.markdown(
                f"**{SET_SIZE} held-out generated scenes** ({whole.objects} objects): box AP "
                f"{100 * whole.box['AP']:.1f} (AP@0.5 {100 * whole.box['AP50']:.1f}){mask}."
            )
            if info.source == "bundled":
                st.caption(versus_card())
    if curves:
        chart(st, precision_recall_chart(curves, iou), width="stretch", key="det_pr")
