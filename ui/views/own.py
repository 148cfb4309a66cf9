"""Build's "Your model" tab (upload a state_dict, download the one you have, forget it) and the "Keep it to explain"
button under a finished training loop. Loading and checking: models/own.py."""

from __future__ import annotations

import weakref

import streamlit as st

from models.devices import best_device
from models.experiments.lecture_loop import LectureLoop, test_images
from models.own import (
    ARCHITECTURES,
    MAX_INPUT_SIZE,
    MAX_MODEL_MB,
    NORMALISATIONS,
    OwnModelError,
    from_loop,
    load_own_classifier,
)
from models.text import display_name
from ui.admission import heavy_job
from ui.own_model import forget_own, keep_own, own_files, own_model, room_for
from ui.presenter import prose
from ui.upload_guard import let_go

WHERE = "choose **Yours** under *Classifier* on Classify, Attributions and Features, or under *Network* on Anatomy"


def keep_loop_ui(loop: LectureLoop, which: str = "") -> None:
    """Under a finished loop: keep the network it trained as the visitor's own, to explain on the other pages; once
    kept, the button gives way to what was kept (a walk pressed it again). `which` names the run kept of two."""
    if message := st.session_state.get("build_keep_message"):
        kept = st.session_state.get("build_keep_of")
        if kept is not None and kept() is loop:  # a weak reference: not id(), which is reused; not the loop itself,
            # which would hold its network and optimiser in the session after later runs
            st.success(message, icon=":material/check:")
            return
        st.session_state.pop("build_keep_message")
        st.session_state.pop("build_keep_of", None)
    if not st.button(
        "Keep it to explain",
        key="build_keep",
        help=f"Keeps {which or 'the trained network'} for this browser session, to explain on the other pages",
    ):
        return
    model, card = from_loop(loop)
    try:
        mine = keep_own(model, card, test_images(loop.config.setup), data=loop.config.setup)
    except OwnModelError as exc:
        st.error(str(exc), icon=":material/block:")
        return
    st.session_state["build_keep_message"] = f"Kept as **{mine.card.title}** for this browser session: {WHERE}."
    st.session_state["build_keep_of"] = weakref.ref(loop)
    st.rerun()  # from the top: the Anatomy tab, drawn before this one, lists it now (a walk found it missing there)


def current_ui() -> None:
    """The network this session holds, its downloads (weights and card) and a button that forgets it."""
    if message := st.session_state.pop("own_message", None):
        st.success(message, icon=":material/check:")
    mine = own_model()
    if mine is None:
        st.info(
            "No model of yours yet: train one under *Training loop* and press **Keep it to explain**, or upload one."
        )
        return
    card = mine.card
    st.markdown(
        f"**{card.title}**: {ARCHITECTURES[card.architecture]}, {len(card.classes)} classes, "
        f"{card.input_size} x {card.input_size} input with {card.channels} channel(s)"
        + (f"; trained as {card.trained}" if card.trained else "")
        + f". To explain it, {WHERE}."
    )
    weights_name, card_name = own_files()
    c1, c2, c3 = st.columns(3)
    c1.download_button("Weights (.pt)", mine.weights_file, weights_name, "application/octet-stream", key="own_dl_pt")
    c2.download_button("Model card (.json)", card.to_json(), card_name, "application/json", key="own_dl_json")
    c3.button("Forget it", key="own_forget", on_click=forget_own)


def upload_ui() -> None:
    """The upload form; a file that cannot be used gets one line and the page goes on."""
    st.subheader("Upload a network")
    prose(
        "A state_dict: what `torch.save(model.state_dict(), path)` writes, for torchvision's ResNet-18/50, AlexNet or "
        "VGG-16, the lecture's ResNet-18 (its `Network` and `ResBlock`) or the course's at any width, or the digits "
        "network. It is read with `torch.load(weights_only=True)`, never unpickled. The number of classes comes from "
        "its last layer; names from its card or a text file, else class 0, 1, …"
    )
    n = st.session_state.setdefault("own_upload_n", 0)  # a new key empties the uploaders once a file is loaded
    with st.form("own_form"):
        weights = st.file_uploader(
            f"Weights (.pt, .pth or .safetensors; up to {MAX_MODEL_MB} MB)",
            key=f"own_weights_{n}",
            max_upload_size=MAX_MODEL_MB,
        )
        c1, c2 = st.columns(2)
        card = c1.file_uploader("Its model card (.json, optional)", key=f"own_card_{n}", max_upload_size=1)
        classes = c2.file_uploader(
            "Class names (.txt, one per line, optional)", key=f"own_classes_{n}", max_upload_size=1
        )
        c3, c4 = st.columns(2)
        normalisation = c3.radio(
            "Without a card: normalisation",
            ["imagenet", "unit"],
            key="own_norm",
            horizontal=True,
            format_func=lambda k: NORMALISATIONS[k][0],
        )
        size = c4.number_input(
            "Without a card: input size (pixels)",
            16,
            MAX_INPUT_SIZE,
            None,
            key="own_size",
            placeholder="64 for the digits network, else 224",
            help="Empty: the architecture's own (a walk: 224 was given to a 64-px digits network)",
        )
        submitted = st.form_submit_button("Load", type="primary")
    if not submitted:
        return
    if weights is None:
        st.warning("Choose a weights file first.")
        return
    data = weights.getvalue()
    try:
        with heavy_job("Loading your weights"):  # up to the model cap: a network built and filled, as heavy as a run
            model, _, loaded = load_own_classifier(
                data,
                card.getvalue() if card else None,
                classes.getvalue() if classes else None,
                filename=weights.name,
                normalisation=normalisation,
                input_size=None if size is None else int(size),
                device=best_device(),
                room=room_for,  # refused before the network is built, not after
            )
        # a network Build trained says so in its card: its own test images come back with it (a walk's re-upload
        # was shown a star, with no word that it was unlike its digits)
        samples = test_images(loaded.data) if loaded.data else None
        mine = keep_own(model, loaded, samples, weights=data, data=loaded.data or None)
    except OwnModelError as exc:  # named by the file it is about: the weights, the card or the class names
        about = {"card": card, "classes": classes}.get(exc.about) or weights
        st.error(f"{display_name(about.name)}: {exc}", icon=":material/block:")
        return
    st.session_state["own_upload_n"] = n + 1  # the form's uploaders start empty
    let_go([weights, card, classes])  # and the server lets their files go (the network keeps its own copy)
    st.session_state["own_message"] = f"Loaded **{mine.card.title}** for this browser session: {WHERE}."
    st.rerun()  # the tab again, from the top: the model it now holds, its downloads


def own_model_tab() -> None:
    """The "Your model" tab: the session's own network (kept from a run or uploaded), its download and card, the
    upload form."""
    prose(
        "Your own network, held for this browser session only (one at a time; another session never sees it): "
        "one trained on this page, or weights you upload. Download it as a state_dict and its card to load it "
        "again here or in a notebook (`models.own.load_own_classifier`)."
    )
    current_ui()
    upload_ui()
