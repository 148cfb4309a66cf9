"""Mask R-CNN viewer: detections, instance masks, keypoints, the pipeline stage by stage, and one
detection explained (He, Gkioxari, Dollar & Girshick, ICCV 2017; torchvision's detection models)."""

from ui.shell import app_shell

app_shell()  # first: a visitor arriving here after a restart sees the app while the imports below load

import numpy as np
import streamlit as st

from explain import sample_truth
from models import shown_detections
from ui.model_picker import image_and_detector_ui
from ui.presenter import in_use, settings
from ui.views.detection import (
    Listed,
    cached_detect,
    cached_heads,
    cached_stages,
    detections_stage,
    detections_ui,
    explain_tab,
    filters_ui,
    followed_proposal,
    heads_section,
    pipeline_tab,
    roi_section,
    show_heads,
)
from ui.views.detection_truth import truth_tab, truth_ui

st.title("Mask R-CNN: what is where")
with settings():
    subject = image_and_detector_ui("det", default_sample="generated scene 1")
chosen, info = subject.chosen, subject.info
in_use(chosen.name, info.title, info.is_fallback)
with st.spinner("Detecting… (a COCO model takes seconds on a CPU)"):
    instances = cached_detect(subject)
with settings("Which detections"):
    threshold, classes, show = filters_ui(instances, subject)
shown = shown_detections(instances, threshold, classes)
kept = [instances[n] for n in shown]
image = np.asarray(chosen.image)
generated = sample_truth(chosen.name, chosen.sha256) is not None  # by its bytes, as the truth tab knows it
focus = detections_ui(image, chosen.name, info, kept, shown, len(instances), show, subject.cache_id, generated)
inst = None if focus is None else kept[focus]
counts = Listed(len(kept), len(instances), not classes)  # why no detection is followed, when none is

tab_pipe, tab_explain, tab_truth = st.tabs(
    ["The pipeline, stage by stage", "Explain one detection", "Against the truth"]
)
with tab_pipe:
    stages = cached_stages(subject)
    followed = followed_proposal(stages, inst, subject)  # the proposal stages 2 to 4 name
    pipeline_tab(image, stages, followed)
    roi_section(image, stages, followed, inst, subject)
    heads_section(image, stages, followed, inst, info.categories, subject)
    detections_stage(stages, len(kept), threshold, no_class=not classes)
    heads = None if inst is None else cached_heads(subject, inst.box, inst.label_index)
    show_heads(image, inst, heads, info.keypoint_names, counts)
with tab_explain:
    explain_tab(image, stages, inst, subject, counts)
with tab_truth:
    truth = truth_ui(chosen, image, info)
    if truth is not None:
        truth_tab(image, instances, kept, truth, subject)
