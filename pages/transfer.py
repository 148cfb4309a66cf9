"""Transfer lab: linear probe vs fine-tuning vs training from scratch, with learning curves (Hoiem et al. 2021)."""

from ui.shell import app_shell

app_shell()  # first: a visitor arriving here after a restart sees the app while the imports below load

import streamlit as st

from ui.presenter import prose, settings
from ui.views.transfer import source_ui, sweep_in_use, sweep_listing, sweep_section
from ui.views.transfer_sweep import start_sweep, sweep_form_ui, sweep_run_section

st.title("Adapting a pretrained network")
prose(
    "Three ways to reuse a network trained on another task, on the same data: train the whole network **from "
    "scratch**; freeze the pretrained encoder (in eval mode: its BatchNorm keeps its stored statistics) and train "
    "only a new linear layer on its features, centred on the training images (**linear probe**); or start from the "
    "pretrained weights and train everything, the encoder at a tenth of the new layer's rate (**fine-tuning**). The "
    "sweeps add a fourth, the linear probe as a library fits it: scikit-learn's logistic regression on the frozen "
    "encoder's features, computed once (**cached features**); and, as Hoiem et al.'s baseline, a linear probe on a "
    "frozen encoder that was never trained (**random encoder**: what pretraining adds). "
    "A learning curve shows which is best at each amount of data: test error against training images per class, "
    "with the fit e(n) = α + η·n^γ of Hoiem et al., *Learning Curves for Analysis of Deep Networks* (ICML 2021)."
)
listing = sweep_listing()  # the sweeps listed, read once for the Results and the comparison lists
with settings():
    folder, title = source_ui(listing)
sweep_in_use(title)
sweep_section(folder, listing)
start_sweep(sweep_form_ui())
sweep_run_section()
