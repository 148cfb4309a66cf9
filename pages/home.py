"""Home: classify an image with a zoo model and show the top-5 classes."""

from ui.shell import app_shell

app_shell()  # first: a visitor arriving here after a restart sees the app while the imports below load

import streamlit as st

from explain import top_k_bar
from ui.model_picker import classifier_image_ui, classifier_subject, model_picker, out_of_distribution
from ui.navigation import PAGES
from ui.predictions import top5
from ui.presenter import chart, in_use, prose, settings

st.title("What does the network see?")
prose("Pick an image and a classifier. The model runs on the device shown in the sidebar.")

with settings():
    chosen = classifier_image_ui("home")
    model, info = model_picker("home")

if chosen is not None:
    in_use(chosen.name, info.title, info.is_fallback)
    left, right = st.columns([2, 3])
    left.image(chosen.image, caption=f"{chosen.name} · {chosen.image.width} x {chosen.image.height}")
    with right, st.spinner("Classifying…"):
        chart(st, top_k_bar(top5(classifier_subject(chosen, model, info)), f"Top-5 of {info.title}"), width="stretch")
        if note := out_of_distribution(info, chosen):
            st.caption(f":material/help: {note}")

from ui.readiness import readiness_ui  # imported once the result is drawn: 2 s of a cold start

readiness_ui()
st.subheader("The other pages")
for page in PAGES[1:]:  # this page is the first
    st.page_link(page.path, label=f"{page.title}: {page.blurb}", icon=page.icon)
