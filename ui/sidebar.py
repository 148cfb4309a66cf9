"""The sidebar every page shares: device, library versions, weights cache and each model's weights."""

from __future__ import annotations

import streamlit as st
import torch
import torchvision

from models.classifiers import CLASSIFIERS
from models.detectors import DETECTORS
from models.devices import best_device, device_name
from models.files import public_path
from models.hub import weights_cache
from models.hub.fallback import status

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
        # folded: ten models' lines ran 700 px down the sidebar (a walk); each page's banner says what is in use
        with st.expander("Model weights", expanded=False):
            # the detectors too (a walk on the Detection page found only the classifiers listed)
            for kind, specs in (("Classifiers", CLASSIFIERS), ("Detectors", DETECTORS)):
                st.markdown(
                    f"{kind}:\n" + "\n".join(f"- {s.title}: {_STATUS[status(s.weights)]}" for s in specs.values())
                )
            if st.button("Check again", help="Look for newly cached weights and retry the network"):
                if not weights_cache.check_network_again():  # at most every 30 s; weights found load on their own
                    st.session_state["weights_checked"] = (
                        "The network was asked less than 30 s ago and is asked again after that; weights cached "
                        "since are found all the same."
                    )
                st.rerun()
            if said := st.session_state.pop("weights_checked", None):  # a review: a press could do nothing silently
                st.caption(said)
