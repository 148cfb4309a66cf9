"""Home: classify an image with a zoo model and show the top-5 classes."""

import streamlit as st

from explain.charts import top_k_bar
from explain.classify import Prediction, prepare, top_k
from ui.image_input import image_input
from ui.model_picker import model_picker
from ui.navigation import PAGES


@st.cache_data(max_entries=256, show_spinner=False)
def predict(weights_key: str, image_sha: str, _model, _info, _image) -> list[Prediction]:
    """Top-5 for (weights, image): recomputed only when either changes."""
    batch = prepare(_image, _info.preprocess, next(_model.parameters()).device)
    return top_k(_model, batch, _info.categories, k=5)


st.title("What does the network see?")
st.write("Pick an image and a classifier. The model runs on the device shown in the sidebar.")

chosen = image_input("home")
model, info = model_picker("home")

if chosen is not None:
    left, right = st.columns([2, 3])
    left.image(chosen.image, caption=f"{chosen.label} · {chosen.image.width} x {chosen.image.height}")
    with right, st.spinner("Classifying…"):
        predictions = predict(f"{info.name}:{info.source}", chosen.sha256, model, info, chosen.image)
        st.plotly_chart(top_k_bar(predictions, f"Top-5 of {info.title}"), width="stretch")

st.subheader("Pages")
for page in PAGES:
    st.page_link(page.path, label=f"{page.title}: {page.blurb}", icon=page.icon)
