"""Training tricks, live: BatchNorm (Ioffe & Szegedy, 2015, Figure 1) and data augmentation."""

from ui.shell import app_shell

app_shell()  # first: a visitor arriving here after a restart sees the app while the imports below load

import streamlit as st

from ui.views.training import TABS, augmentation_tab, bn_tab, opening_tab

st.title("Training tricks, live")
tab_bn, tab_aug = st.tabs(TABS, default=opening_tab())

with tab_bn:
    train_bn = bn_tab()
with tab_aug:
    augmentation_tab()
with tab_bn:  # the live run last, once both tabs are drawn (neither is left faded while it trains)
    train_bn()
