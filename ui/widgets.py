"""Small widgets several pages use."""

from __future__ import annotations

from collections.abc import Hashable

import streamlit as st


def run_button(label: str, key: str, settings: Hashable) -> bool:
    """A button for work that takes seconds: True while the settings are those it was last pressed
    with, so the (stored) result stays on the page across other reruns, but a changed setting never
    starts the work by itself; the page then says that the button must be pressed again."""
    if st.button(label, key=key):
        st.session_state[f"{key}_settings"] = settings
    pressed = st.session_state.get(f"{key}_settings")
    if pressed is not None and pressed != settings:
        # the image counts among the settings (a walk read "The settings changed" after uploading a new image)
        st.info(f"The image or the settings changed: press **{label}** to compute for them.", icon=":material/refresh:")
    return pressed == settings


def warn_skipped(problems: list[str]) -> None:
    """One warning line for the images of a set that could not be used (the first five named)."""
    if problems:
        more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        st.warning("Skipped: " + "; ".join(problems[:5]) + more)
