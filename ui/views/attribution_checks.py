"""The Attributions page's checks of its maps: the sanity check (cascading randomisation), the faithfulness curves
(deletion and insertion), the maps over a labelled set, and what to download to reproduce a view. Drawing only:
explain/ computes."""

import json

import numpy as np
import streamlit as st
import torch

from explain.figures.charts import deletion_insertion_chart, sanity_chart
from explain.figures.export import attribution_record, attribution_snippet, zip_bundle
from explain.figures.render import overlay, png_bytes
from explain.inputs.image_sets import set_sha256
from explain.inputs.upload_limits import IMAGE_MB, LABELLED_UPLOADS
from explain.methods.attributions import (
    METHODS,
    direction_methods,
)
from explain.methods.batch_view import (
    MAX_BATCH,
    LabelledImage,
    explain_batch,
    generated_shapes,
    settings_text,
    summary,
)
from explain.methods.classify import model_view
from explain.methods.faithfulness import GRIDS, RANKINGS, faithfulness_of_maps, flat_note, tie_note
from explain.methods.sanity import METRICS as SANITY_METRICS
from explain.methods.sanity import VARIANTS as SANITY_VARIANTS
from explain.methods.sanity import fully_randomised_text, sanity_of_methods, shown_steps
from models.classifiers import ModelInfo
from models.text import counted, percent
from ui.admission import cached_heavy
from ui.image_input import SUPPORTED, decode_upload
from ui.model_picker import unlike_training
from ui.own_model import own_files, own_model
from ui.presenter import chart, note, presenting, prose, settings
from ui.subject import Subject
from ui.upload_guard import bounded_uploads
from ui.view_link import BIND
from ui.widgets import run_button, warn_skipped


def sanity_tab(
    subject: Subject,
    target: int,
    percentile: float,
    params: dict[str, dict],
    maps: dict[str, np.ndarray],
    seen: np.ndarray,
) -> None:
    """Cascading randomisation of the methods that gave a map, from its button (Adebayo et al., 2018)."""
    prose(
        "Cascading randomisation (Adebayo et al., 2018): the model's weights are re-initialised block by block from "
        "the output down, and each method's map is compared with the original (1 = unchanged). A map that stays the "
        "same while the model is destroyed does not explain the model. In the paper Guided Backprop failed it (its "
        "maps hardly changed); how each method fares depends on the model and the image, so the sentence under the "
        "chart says what this run shows."
    )
    with settings("Sanity check settings"):  # folded when presenting, as every page's controls (a walk)
        variant = st.radio(
            "Randomise and compare",
            list(SANITY_VARIANTS),
            format_func={"paper": "as published", "rescaled": "rescaled weights (earlier variant)"}.get,
            horizontal=True,
            key="attr_sanity_variant",
            bind=BIND,
        )
        note(SANITY_VARIANTS[variant].capitalize() + ".")
    sanity_settings = (subject.cache_id, target, percentile, variant, json.dumps({m: params[m] for m in maps}))
    if run_button("Run the sanity check", "attr_sanity_run", sanity_settings):
        results = cached_heavy(
            f"Randomising the model for {len(maps)} methods",
            ("sanity", *sanity_settings),
            lambda report: sanity_of_methods(
                subject.model,
                subject.x,
                target,
                {m: params[m] for m in maps},
                percentile=percentile,
                progress=report,
                variant=variant,
            ),
            unit="methods",
        )
        show_sanity(results, seen)


def show_sanity(results: dict[str, list], seen: np.ndarray) -> None:
    """Similarity to the original map as the model is randomised, and some of the maps on the way."""
    metrics = st.multiselect(
        "Similarity metrics (Adebayo et al.'s four)",
        list(SANITY_METRICS),
        default=["spearman", "ssim"],
        format_func=SANITY_METRICS.get,
        key="attr_sanity_metrics",
    )
    titled = {METHODS[m].title: s for m, s in results.items()}
    if not metrics:
        st.info("Choose at least one similarity metric above to draw the curves.", icon=":material/info:")
    else:
        chart(st, sanity_chart(titled, metrics), width="stretch")
        if said := fully_randomised_text(titled, metrics[0]):  # the first metric the chart shows
            st.markdown(said)
    note(
        "How to read it (Adebayo et al. 2018): a method that depends on what the model learned loses similarity as "
        "more layers are randomised; one whose curve stays high is explaining the input, not the model. "
        "A map that became constant has no similarity to draw: its line breaks there, and its legend entry names "
        "those steps."
    )
    steps = next(iter(results.values()), [])
    picks = shown_steps(steps)
    some = "each step" if len(picks) == len(steps) else f"{len(picks)} of its {len(steps)} steps, the last among them"
    st.caption(f"Maps as the model is randomised, at {some} (absolute values):")
    for m, steps in results.items():
        picks = shown_steps(steps)
        cols = st.columns(len(picks) + 1)
        cols[0].markdown(f"**{METHODS[m].title}**")
        for col, s in zip(cols[1:], picks, strict=True):
            flat = " ✕ constant: says nothing" if s.constant else ""
            picture = overlay(seen, s.heatmap, "absolute", 1.0, grey_under=True)  # as the Maps tab draws them
            col.image(picture, caption=f"{s.layer}{flat}", width="stretch")


def faithfulness_tab(
    subject: Subject,
    target: int,
    params: dict[str, dict],
    maps: dict[str, torch.Tensor],
) -> None:
    """Deletion and insertion curves of the methods that gave a map, from its button (Petsiuk et al., 2018)."""
    prose(
        "Deletion: the class probability as the most-credited pixels are replaced by zeros after normalisation (the "
        "mean colour, or black for a model given plain [0, 1] pixels; a faithful map "
        "makes it fall fast: low area). Insertion: the probability as those pixels are put back into a blurred copy "
        "(a faithful map makes it rise fast: high area). As RISE's evaluation code computes them (Petsiuk et al., "
        "2018): one row of pixels per step, an 11-pixel Gaussian blur (sigma 5)."
    )
    with settings("Faithfulness settings"):  # folded when presenting, as every page's controls (a walk)
        left, right = st.columns(2)
        by = left.radio(
            "Rank pixels by their", list(RANKINGS), format_func=RANKINGS.get, key="attr_faith_rank", bind=BIND
        )
        side = subject.x.shape[-2]
        grid = right.radio(
            "Pixels per step",
            list(GRIDS),
            format_func=lambda g: (
                f"one row (RISE: {side} steps)" if GRIDS[g] is None else f"{GRIDS[g]} steps (coarser)"
            ),
            key="attr_faith_grid",
            bind=BIND,
            help="RISE removes one row's worth of pixels per step; fewer steps cost less and change the areas.",
        )
    faith_settings = (subject.cache_id, target, by, grid, json.dumps({m: params[m] for m in maps}))
    if run_button("Measure faithfulness", "attr_faith_run", faith_settings):
        curves = cached_heavy(
            "Deleting and inserting pixels",
            ("faithfulness", *faith_settings),
            lambda report: faithfulness_of_maps(
                subject.model,
                subject.x,
                maps,
                target,
                by,
                report,
                GRIDS[grid],
                params,
            ),
            unit="maps",
        )
        show_faithfulness(curves, by, params)
        if why := flat_note(curves, subject.x.shape[-1]):
            st.info(why, icon=":material/info:")
        if unlike_training(subject.info, subject.chosen):  # said above the maps; the scores need it too
            st.warning(
                "This image is unlike the model's training data (its note says how): the probability these "
                "curves follow is the model's guess, so the areas compare the maps on a guess, not on a recognition.",
                icon=":material/help:",
            )


def show_faithfulness(curves: dict, by: str, params: dict[str, dict]) -> None:
    """The deletion and insertion curves, and their areas per method, saying how pixels were ranked, and why a
    gradient's areas ranked by signed value say little (a walk read Saliency's 0.83 as a useless map)."""
    chart(st, deletion_insertion_chart({METHODS[m].title: c for m, c in curves.items()}), width="stretch")
    directions = [METHODS[m].title for m in curves if m in direction_methods(params)]
    by_absolute = f" Here by absolute value: {', '.join(directions)}." if by == "meaning" and directions else ""
    st.caption(f"Pixels ranked by their {RANKINGS[by]}.{by_absolute}")
    if by == "signed" and directions:
        st.info(
            f"{', '.join(directions)}: the sign is the direction in which a small change raises the score, not "
            "evidence for or against the class, so a ranking by signed value scores these maps against their "
            "meaning. Rank by value as the method means it (the default) to compare them with the others.",
            icon=":material/info:",
        )
    rows = [
        {
            "method": METHODS[m].title,
            "deletion AUC (lower is better)": c.deletion_auc,
            "insertion AUC (higher is better)": c.insertion_auc,
        }
        for m, c in curves.items()
    ]
    areas = {c: st.column_config.NumberColumn(format="%.3f") for c in list(rows[0])[1:]} if rows else {}
    # every method in sight (10 rows, then it scrolled); one precision (a walk read 0.999 beside 0.9992)
    st.dataframe(rows, hide_index=True, height="content", column_config=areas)
    if ties := tie_note({METHODS[m].title: c for m, c in curves.items()}):
        st.caption(ties)


def reproduce_tab(
    subject: Subject,
    target: int,
    mode: str,
    percentile: float,
    alpha: float,
    alone: bool,
    methods: list[str],
    params: dict[str, dict],
    overlays: dict[str, np.ndarray],
) -> None:
    """The maps and settings as a zip, the settings, and the code that recomputes the first map."""
    info, chosen = subject.info, subject.chosen
    display = {"mode": mode, "percentile": percentile, "opacity": alpha, "picture": "map alone" if alone else "overlay"}
    settings = attribution_record(info, chosen.name, chosen.sha256, target, display, {m: params[m] for m in overlays})
    files = {f"{m}.png": png_bytes(o) for m, o in overlays.items()}
    bundle = zip_bundle(files, settings)
    st.download_button("All maps and settings (zip)", bundle, "attributions.zip", "application/zip", key="attr_zip")
    st.caption("The settings in the zip (model, image hash, target, display, each method's parameters); click to open:")
    st.json(settings, expanded=False)  # a walk found this folded "{...}" with no word on what it holds
    first = next(iter(overlays), methods[0])
    st.caption(f"Recompute the {METHODS[first].title} map in a notebook:")
    snippet = attribution_snippet(
        info.name,
        chosen.name,
        first,
        target,
        params[first],
        sample=chosen.kind in ("generated", "photo"),  # what `sample_bytes` gives a notebook
        mode=mode,
        percentile=percentile,
        own_files=own_files(),
    )
    st.code(snippet, language="python", wrap_lines=True)


UNKNOWN = "(not given)"


BATCH_SOURCES = {"generated": "generated shapes, labelled by the generator", "uploads": "my uploads, labelled here"}


def batch_set_ui(info: ModelInfo) -> tuple[list[LabelledImage], list[str]]:
    """The labelled set: the own network's test images (labelled by their data), generated shapes (labelled by the
    generator) or uploads, each given its true label here.
    Returns the images and a line per upload that could not be used."""
    mine = own_model() if info.source == "own" else None
    sources = {
        **({"own": "its own test images, labelled by their data"} if mine and mine.truth else {}),
        **BATCH_SOURCES,
    }
    source = st.radio(
        "Images", list(sources), horizontal=True, key="attr_batch_source", bind=BIND, format_func=sources.get
    )
    if source == "own":
        chosen = [(name, decode_upload(data, name)) for name, data in mine.samples.items()]
        return [LabelledImage(c.name, c.image, mine.truth[n]) for n, c in chosen if not isinstance(c, str)], []
    if source == "generated":
        c1, c2 = st.columns(2)
        n = c1.slider("How many", 4, MAX_BATCH, 8, 2, key="attr_batch_n", bind=BIND)
        seed = c2.number_input("Seed", 0, 10_000, 0, key="attr_batch_seed", bind=BIND)
        return generated_shapes(int(n), int(seed)), []
    uploads = (
        st.file_uploader(
            "Images", accept_multiple_files=True, key="attr_batch_files", help=SUPPORTED, max_upload_size=IMAGE_MB
        )
        or []
    )
    problems, images, cols = [], [], st.columns(4)
    seen: dict[str, str] = {}  # SHA-256 -> the name it came under first
    unlike = ""
    for f in bounded_uploads(uploads, LABELLED_UPLOADS):
        decoded = decode_upload(f.getvalue(), f.name)
        if isinstance(decoded, str):
            problems.append(decoded)
            continue
        if decoded.sha256 in seen:  # its label box would repeat the first one's key (a review: an exception)
            problems.append(f"{decoded.name}: the same image as {seen[decoded.sha256]}, which is in the set already")
            continue
        seen[decoded.sha256] = decoded.name
        column = cols[len(images) % 4]  # placed by the images kept: a refused file leaves no gap
        truth = column.selectbox(
            f"True label of {decoded.name}", [UNKNOWN, *info.categories], key=f"attr_batch_truth_{decoded.sha256[:16]}"
        )
        images.append(LabelledImage(decoded.name, decoded.image, None if truth == UNKNOWN else truth))
        unlike = unlike or unlike_training(info, decoded)  # an upload is the visitor's own: the same note for each
    if unlike:  # as the Maps view says it of one upload (a walk: the set of photos had no word)
        st.caption(f":material/help: {unlike}")
    return images, problems


def batch_tab(subject: Subject) -> None:
    """One method over a labelled set, as Captum Insights showed it: truth, prediction and map per image."""
    prose(
        "One method over a set of labelled images: for each, the true label, the model's answer, and the map "
        "for the predicted class (or the true one). A wrong answer often shows the model looking "
        "elsewhere."
    )
    model, info, weights = subject.model, subject.info, subject.info.cache_key
    # folded when presenting, the Explain button left in view (a lecturer's walk: the first screen was controls)
    with settings("Images and method"):
        images, problems = batch_set_ui(info)
        c1, c2 = st.columns(2)
        method = c1.selectbox(
            "Method",
            list(METHODS),
            index=list(METHODS).index("integrated_gradients"),
            format_func=lambda k: METHODS[k].title,
            key="attr_batch_method",
            bind=BIND,
        )
        target = c2.radio(
            "Map for the",
            ["predicted", "true"],
            horizontal=True,
            key="attr_batch_target",
            bind=BIND,
            format_func={"predicted": "predicted class", "true": "true class"}.get,
        )
    if presenting():  # the line above the tabs names the other tabs' image and class (a lecturer's walk)
        st.caption(
            f":material/visibility: This tab explains its own images, each for its {target} class (not the above)"
        )
    warn_skipped(problems)
    if not images:
        st.info("Upload a few images, then give each its true label.")
        return
    set_key = (set_sha256([(im.name, im.image) for im in images]), tuple(im.truth for im in images))
    if not run_button(f"Explain {counted(len(images), 'image')}", "attr_batch_run", (weights, set_key, method, target)):
        return
    items = cached_heavy(
        f"{METHODS[method].title} over {counted(len(images), 'image')}",
        ("batch", weights, set_key, method, target),
        lambda report: explain_batch(model, info.preprocess, info.categories, images, method, target, report),
        unit="images",
    )
    st.markdown(f"**{summary(items)}** · {settings_text(items, method)}.")
    cols = st.columns(4)
    for i, (im, it) in enumerate(zip(images, items, strict=True)):
        mark = "" if it.correct is None else ("✓ " if it.correct else "✗ ")
        truth = it.truth or "not given"
        cols[i % 4].image(
            overlay(
                model_view(im.image, info.preprocess, min_side=max(it.map.shape)),
                it.map,
                "absolute",
                0.7,
                grey_under=True,
            ),
            width="stretch",
            caption=f"{mark}{it.name}: true {truth} · predicted {it.predicted} {percent(it.probability, 0)}"
            + ("" if it.explained == it.predicted else f" · map for {it.explained}"),
        )
