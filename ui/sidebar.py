"""The sidebar every page shares: device, library versions, weights cache and each model's weights."""

from __future__ import annotations

import streamlit as st
import torch
import torchvision

from models.classifiers import CLASSIFIERS, weight_status
from models.devices import best_device, device_name
from models.files import public_path
from models.hub import weights_cache
from ui.model_picker import cached_classifier

_STATUS = {
    "cached": ":green[cached, hash checked]",
    "damaged": ":orange[cached file damaged; bundled model stands in]",
    "downloadable": ":blue[downloads on first use]",
    "unavailable": ":orange[bundled model stands in]",
    "bundled": ":violet[bundled]",
}


def render_sidebar() -> None:
    """Draw the shared sidebar."""
    with st.sidebar:
        st.markdown(f"**Device:** {device_name(best_device())}")
        st.caption(f"torch {torch.__version__} · torchvision {torchvision.__version__}")
        st.caption(f"Weights cache: `{public_path(weights_cache.checkpoint_dir())}`")
        with st.expander("Model weights", expanded=True):
            st.markdown("\n".join(f"- {CLASSIFIERS[n].title}: {_STATUS[weight_status(n)]}" for n in CLASSIFIERS))
            if st.button("Check again", help="Look for newly cached weights and retry the network"):
                weights_cache.forget_network_state()
                cached_classifier.clear()
                st.rerun()
