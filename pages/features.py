"""Feature inspector: what a convolutional network learned, layer by layer (Zeiler & Fergus, 2014)."""

from ui.shell import app_shell

app_shell()  # first: a visitor arriving here after a restart sees the app while the imports below load

import streamlit as st

from ui.model_picker import image_and_classifier_ui, out_of_distribution
from ui.presenter import in_use, prose, settings
from ui.views.features import filters_tab, layers_ui, maps_tab, occlusion_tab, top9_tab

st.title("What did the network learn?")
prose(
    "Zeiler & Fergus (ECCV 2014) looked inside a trained network: its first-layer filters, its feature maps and "
    "the deconvnet projection of an activation back to pixels, the nine strongest activations over a set of images, "
    "and occlusion. The tabs follow them in that order."
)
with settings():
    subject = image_and_classifier_ui("feat")
    info = subject.info  # an image unlike the model's training data is said to be a guess, as on Attributions
    if guess := out_of_distribution(info, subject.chosen):  # (a review followed "triangle" over a cat, unwarned)
        st.caption(f":material/help: {guess}")
    layers, start_layer = layers_ui(subject)
in_use(subject.chosen.name, info.title, info.is_fallback, guess)

tab_filters, tab_maps, tab_top9, tab_occ = st.tabs(
    ["Layer-1 filters", "Feature maps & deconvnet", "Top-9 activations", "Occlusion sensitivity"]
)
with tab_filters:
    filters_tab(subject.model, subject.info)
with tab_maps:
    maps_tab(subject, layers, start_layer)
with tab_top9:
    top9_tab(subject, layers, start_layer)
with tab_occ:
    occlusion_tab(subject, layers, start_layer)
