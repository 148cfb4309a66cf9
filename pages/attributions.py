"""Attribution explorer: Captum's methods side by side, a sanity check, and faithfulness scores."""

import json

import numpy as np
import streamlit as st

from explain.figures.charts import colorbar, deletion_insertion_chart, sanity_chart
from explain.figures.export import attribution_snippet, zip_bundle
from explain.figures.render import input_image, overlay, png_bytes
from explain.methods.attributions import METHODS, attribute, defaults
from explain.methods.faithfulness import deletion_insertion
from explain.methods.layers import default_cam_layer, spatial_layers
from explain.methods.maps import to_map
from explain.methods.sanity import cascading_randomization
from ui.admission import cached_heavy
from ui.image_input import image_input
from ui.model_picker import model_picker
from ui.param_form import param_widgets
from ui.predictions import model_input, top5, weights_key
from ui.shell import app_shell
from ui.widgets import run_button

app_shell()

DEFAULT_METHODS = ["saliency", "integrated_gradients", "guided_backprop", "grad_cam"]


@st.cache_data(max_entries=32, show_spinner=False)
def layer_names(key: str, _model, _batch) -> tuple[list[str], str]:
    layers = spatial_layers(_model, _batch)
    return [layer.name for layer in layers], default_cam_layer(layers)


@st.cache_data(max_entries=512, show_spinner=False)
def cached_attribution(key: str, image_sha: str, target: int, method: str, params: str, _model, _batch) -> np.ndarray:
    return attribute(_model, _batch, method, target, **json.loads(params))[0].cpu().numpy()


st.title("Attributions: which pixels made the decision?")
st.write(
    "Pick an image, a classifier and a class. Each method credits pixels for that class's score; "
    "compare them side by side, check that they depend on what the model learned, and measure which is most faithful."
)
chosen = image_input("attr")
model, info = model_picker("attr")
if chosen is None:
    st.stop()

batch = model_input(model, info, chosen)
key = weights_key(info)
predictions = top5(model, info, chosen)

left, right = st.columns([1, 2])
# Keyed by image and model: a new image or model starts again from its own top prediction.
labels = [f"{p.label} ({p.probability:.1%})" for p in predictions] + ["another class…"]
rank = left.radio(
    "Explain the class", range(len(labels)), format_func=labels.__getitem__, key=f"attr_target_{chosen.sha256}_{key}"
)
if rank == len(predictions):
    target = left.selectbox(
        "Class", range(len(info.categories)), format_func=lambda i: info.categories[i], key=f"attr_any_{info.name}"
    )
else:
    target = predictions[rank].index
methods = right.multiselect(
    "Methods", list(METHODS), DEFAULT_METHODS, format_func=lambda k: METHODS[k].title, key="attr_methods"
)
c1, c2, c3 = right.columns(3)
mode = c1.radio("Values", ["absolute", "signed"], horizontal=True, key="attr_mode")
percentile = c2.slider("Clip at percentile", 90.0, 100.0, 99.0, 0.5, key="attr_pct")
alpha = c3.slider("Overlay opacity", 0.0, 1.0, 0.7, 0.05, key="attr_alpha")

layers, default_layer = layer_names(key, model, batch)
chosen_params = {}
with st.expander("Method parameters", expanded=False):
    for m in methods:
        st.markdown(f"**{METHODS[m].title}**: {METHODS[m].summary}")
        chosen_params[m] = param_widgets(
            METHODS[m].params, f"attr_{m}", defaults(m, batch.shape[-1], default_layer), layers
        )
if not methods:
    st.info("Tick at least one method above.")
    st.stop()

maps: dict[str, np.ndarray] = {}
failures: dict[str, str] = {}
bar = st.progress(0.0)
for i, m in enumerate(methods):
    bar.progress(i / len(methods), text=f"{METHODS[m].title} ({i + 1} of {len(methods)})…")
    try:
        maps[m] = cached_attribution(
            key, chosen.sha256, target, m, json.dumps(chosen_params[m], sort_keys=True), model, batch
        )
    except Exception as exc:  # one method failing must not take the others down
        failures[m] = f"{METHODS[m].title} does not work on {info.title}: {str(exc).splitlines()[0][:160]}"
bar.empty()

seen = input_image(batch, info.mean, info.std)
heatmaps = {m: to_map(a, mode, percentile) for m, a in maps.items()}
overlays = {m: overlay(seen, h, mode, alpha) for m, h in heatmaps.items()}
target_name = info.categories[target]

tab_maps, tab_sanity, tab_faith, tab_code = st.tabs(["Maps", "Sanity check", "Faithfulness", "Download & reproduce"])
with tab_maps:
    st.plotly_chart(colorbar(mode, percentile), width="stretch", key="attr_colorbar")
    cols = st.columns(3)
    for i, m in enumerate(methods):
        with cols[i % 3]:
            st.markdown(f"**{METHODS[m].title}**")
            if m in failures:
                st.warning(failures[m], icon=":material/block:")
                continue
            st.image(overlays[m], caption=f"{target_name} · {METHODS[m].summary}", width="stretch")
            st.download_button(
                "PNG", png_bytes(overlays[m]), f"{m}_{target_name}.png", "image/png", key=f"attr_png_{m}"
            )

with tab_sanity:
    st.write(
        "Cascading randomisation (Adebayo et al., 2018): the model's weights are re-drawn block by block from the "
        "output down, and each method's map is compared with the original (1 = unchanged). A map that stays the "
        "same while the model is destroyed does not explain the model. Guided Backprop and Deconvolution are known "
        "to fail this test."
    )
    sanity_settings = (key, chosen.sha256, target, percentile, json.dumps({m: chosen_params[m] for m in maps}))
    if run_button("Run the sanity check", "attr_sanity_run", sanity_settings):

        def sanity(report):
            out = {}
            for i, m in enumerate(maps):
                report(i, len(maps))
                out[m] = cascading_randomization(model, batch, m, target, chosen_params[m], percentile=percentile)
            return out

        results = cached_heavy(f"Randomising the model for {len(maps)} methods", ("sanity", *sanity_settings), sanity)
        st.plotly_chart(sanity_chart({METHODS[m].title: s for m, s in results.items()}), width="stretch")
        st.caption("Maps after randomising down to each block (absolute values):")
        for m, steps in results.items():
            picks = steps[:: max(1, len(steps) // 5)]
            cols = st.columns(len(picks) + 1)
            cols[0].markdown(f"**{METHODS[m].title}**")
            for col, s in zip(cols[1:], picks, strict=True):
                col.image(overlay(seen, s.heatmap, "absolute", 1.0), caption=s.layer, width="stretch")

with tab_faith:
    st.write(
        "Deletion: the class probability as the most-credited pixels are replaced by the mean colour (a faithful map "
        "makes it fall fast: low area). Insertion: the probability as those pixels are put back into a blurred copy "
        "(a faithful map makes it rise fast: high area). Petsiuk et al., 2018."
    )
    faith_settings = (key, chosen.sha256, target, mode, percentile, json.dumps({m: chosen_params[m] for m in maps}))
    if run_button("Measure faithfulness", "attr_faith_run", faith_settings):

        def faithfulness(report):
            out = {}
            for i, (m, h) in enumerate(heatmaps.items()):
                report(i, len(heatmaps))
                out[METHODS[m].title] = deletion_insertion(model, batch, np.abs(h), target)
            return out

        curves = cached_heavy("Deleting and inserting pixels", ("faithfulness", *faith_settings), faithfulness)
        st.plotly_chart(deletion_insertion_chart(curves), width="stretch")
        rows = [
            {
                "method": t,
                "deletion AUC (lower is better)": c.deletion_auc,
                "insertion AUC (higher is better)": c.insertion_auc,
            }
            for t, c in curves.items()
        ]
        st.dataframe(rows, hide_index=True)

with tab_code:
    settings = {
        "model": info.name,
        "requested_model": info.requested,
        "weights": info.source,
        "weights_file": info.weights_file,
        "image": chosen.label,
        "image_sha256": chosen.sha256,
        "target": target,
        "target_name": target_name,
        "display": {"mode": mode, "percentile": percentile, "opacity": alpha},
        "methods": {m: chosen_params[m] for m in maps},
    }
    files = {f"{m}.png": png_bytes(o) for m, o in overlays.items()}
    bundle = zip_bundle(files, settings)
    st.download_button("All maps and settings (zip)", bundle, "attributions.zip", "application/zip", key="attr_zip")
    st.json(settings, expanded=False)
    first = next(iter(maps), methods[0])
    st.caption(f"Recompute the {METHODS[first].title} map in a notebook:")
    st.code(attribution_snippet(info.name, chosen.label, first, target, chosen_params[first]), language="python")
