"""Small widgets several pages use."""

from __future__ import annotations

import streamlit as st


def sticky_button(label: str, key: str) -> bool:
    """A button that stays pressed for the rest of the session: expensive sections it opens keep
    showing their (cached) results when the user changes other settings, instead of vanishing."""
    if st.button(label, key=key):
        st.session_state[f"{key}_pressed"] = True
    return bool(st.session_state.get(f"{key}_pressed"))
