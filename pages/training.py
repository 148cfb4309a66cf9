"""Training tricks, live: BatchNorm (Ioffe & Szegedy, 2015, Figure 1) and data augmentation."""

import streamlit as st

from ui.shell import app_shell
from ui.views.training import (
    augmentation_tab,
    bn_tab,
)

app_shell()


st.title("Training tricks, live")
tab_bn, tab_aug = st.tabs(["BatchNorm", "Data augmentation"])

with tab_bn:
    bn_tab()
with tab_aug:
    augmentation_tab()
