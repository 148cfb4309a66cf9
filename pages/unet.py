"""U-Net: an encoder-decoder with skip connections, trained on generated scenes, and its ablation."""

from ui.shell import app_shell

app_shell()  # first: a visitor arriving here after a restart sees the app while the imports below load

import streamlit as st

from ui.presenter import in_use, settings
from ui.views.unet import (
    NETWORKS,
    caveat,
    departures,
    intro,
    loaded_unets,
    segmentation_section,
    show_ablation,
    source_ui,
)

intro()
(full, full_rec), (noskip, noskip_rec) = loaded_unets()
departures(full_rec)
show_ablation(full, noskip, full_rec.metrics, noskip_rec.metrics)
st.subheader("Predict")  # above the folded settings when presenting: the pictures below keep their heading (a walk)
with settings():
    image, truth, name = source_ui()
in_use(name, NETWORKS, fallback=False, caveat=caveat(truth))
segmentation_section(full, noskip, full_rec.config, image, truth)
