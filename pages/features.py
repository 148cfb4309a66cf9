"""Feature inspector: what a convolutional network learned, layer by layer (Zeiler & Fergus, 2014)."""

import streamlit as st

from ui.model_picker import image_and_classifier_ui
from ui.predictions import model_input
from ui.shell import app_shell
from ui.view_link import prose
from ui.views.features import filters_tab, layer_list, maps_tab, occlusion_tab, top9_tab

app_shell()


st.title("What did the network learn?")
prose(
    "Zeiler & Fergus (ECCV 2014) looked inside a trained network four ways: its first-layer filters, its feature "
    "maps, the deconvnet projection of an activation back to pixels, and occlusion. Each tab does one."
)
chosen, model, info = image_and_classifier_ui("feat")
key = info.cache_key
batch = model_input(model, info, chosen)
layers, start_layer = layer_list(key, model, batch)

tab_filters, tab_maps, tab_top9, tab_occ = st.tabs(
    ["Layer-1 filters", "Feature maps & deconvnet", "Top-9 activations", "Occlusion sensitivity"]
)
with tab_filters:
    filters_tab(model)
with tab_maps:
    maps_tab(model, batch, key, chosen.sha256, info, layers, start_layer)
with tab_top9:
    top9_tab(model, batch, key, chosen.sha256, info, layers, start_layer)
with tab_occ:
    occlusion_tab(model, batch, key, chosen, info, layers, start_layer)
