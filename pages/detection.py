"""Mask R-CNN viewer: detections, instance masks, keypoints, the pipeline stage by stage, and one
detection explained (He, Gkioxari, Dollar & Girshick, ICCV 2017; torchvision's detection models)."""

import numpy as np
import streamlit as st
from torch import nn

from models import DetectorInfo, detector_input, model_device
from ui.image_input import ChosenImage, image_input
from ui.model_picker import detector_picker
from ui.page_end import end_page
from ui.shell import app_shell
from ui.views.detection import (
    cached_detect,
    cached_heads,
    cached_stages,
    detections_ui,
    explain_tab,
    filters_ui,
    heads_section,
    pipeline_tab,
    roi_section,
    show_heads,
    truth_tab,
    truth_ui,
)

app_shell()


def inputs_ui() -> tuple[ChosenImage, nn.Module, DetectorInfo]:
    """Choose an image and a detector; stops if the image is unusable."""
    chosen = image_input("det", default_sample="generated scene 1")
    model, info = detector_picker("det")
    if chosen is None:
        end_page()
    return chosen, model, info


st.title("Mask R-CNN: what is where")
chosen, model, info = inputs_ui()
key = info.cache_key  # the weights' content hash included
with st.spinner("Detecting… (a COCO model takes seconds on a CPU)"):
    instances = cached_detect(key, chosen.sha256, model, chosen.image, info.categories)
threshold, classes, show = filters_ui(instances, chosen.sha256, key)
kept = [i for i in instances if i.score >= threshold and i.label in classes]
image = np.asarray(chosen.image)
focus = detections_ui(image, chosen.label, info, kept, len(instances), show)
inst = None if focus is None else kept[focus]

tab_pipe, tab_explain, tab_truth = st.tabs(
    ["The pipeline, stage by stage", "Explain one detection", "Against the truth"]
)
x = detector_input(chosen.image, model_device(model))
with tab_pipe:
    stages = cached_stages(key, chosen.sha256, model, x)
    pipeline_tab(image, stages, len(kept), threshold)
    roi_section(image, stages, inst, key, chosen.sha256)
    heads_section(image, stages, inst, info.categories, key, chosen.sha256, model, x)
    heads = None if inst is None else cached_heads(key, chosen.sha256, inst.box, inst.label_index, model, x)
    show_heads(image, inst, heads, info.keypoint_names)
with tab_explain:
    explain_tab(image, stages, inst, key, chosen.sha256, model, x)
with tab_truth:
    truth = truth_ui(chosen, image, info)
    if truth is not None:
        truth_tab(image, instances, kept, truth, info, key, chosen.sha256, model)
