"""The app shell (page config, navigation, shared sidebar) and the guard that keeps every page inside it.

Streamlit treats a folder named `pages/` beside the entry point as a legacy (v1) multipage app
until the first `st.navigation` call of the process, and then runs a requested page file
directly, without app.py. `app_shell()` at the top of each page notices that and runs the
shell itself, which runs the page again inside the proper navigation, then stops the outer run.
"""

from __future__ import annotations

import logging

import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.pages_manager import PagesManager

from ui.navigation import PAGES
from ui.page_end import PageEnded
from ui.presenter import presenter_style, presenter_toggle
from ui.view_link import (
    RUN_SUBJECT,
    copy_link,
    drop_infinite_values,
    remember_linked_values,
    say_values_not_taken,
    take_linked_values,
)


def _log_to_stderr() -> None:
    """Our own log lines (model loads) go to the server's stderr, once per process."""
    log = logging.getLogger("explainer")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


def run_app() -> None:
    """What app.py does: page config, navigation over PAGES, the shared sidebar, then the page."""
    _log_to_stderr()
    remember_linked_values()  # what the link asked for, before anything takes part of it out
    drop_infinite_values()  # before any widget bound to the URL reads it
    compact = st.query_params.get("view_compact") == "true"  # a projected view opens with the sidebar folded
    st.set_page_config(
        page_title="CV explainer",
        page_icon=":material/visibility:",
        layout="wide",
        initial_sidebar_state="collapsed" if compact else "auto",
    )
    # .streamlit/config.toml starts with the sidebar navigation off, so that a fresh server's first run, which
    # Streamlit starts as a legacy pages/ app, never lists the files; ours is on from its first frame.
    st.set_option("client.showSidebarNavigation", True)
    page = st.navigation([st.Page(p.path, title=p.title, icon=p.icon, default=i == 0) for i, p in enumerate(PAGES)])
    link_slot = st.sidebar.container()
    # The navigation is out before PyTorch is imported: a first visit after a restart sees the app and this
    # line, not a blank page under Streamlit's legacy file list, while the libraries load. So this module imports
    # nothing that imports `explain` or `models` (tests/test_public_api.py checks it).
    with st.spinner("Starting: loading PyTorch and the models (a few seconds on the first visit after a restart)…"):
        from ui.sidebar import render_sidebar
        from ui.upload_guard import name_upload_visitor, say_refused_upload

        name_upload_visitor()  # the guard, installed once per process before any uploader is drawn, bounds uploads
        render_sidebar()
    presenter_toggle()
    presenter_style()
    st.session_state[RUN_SUBJECT] = ""
    done_slot = st.sidebar.empty()
    link_note = st.empty()  # the top of the page: where a link's values the page could not take are named
    say_refused_upload(st.empty())  # and an upload the server refused: a place drawn on every run, so nothing moves
    try:
        page.run()
    except PageEnded:  # a page that ends early (no usable image yet) has said why; its run is done too
        pass
    finally:  # under an error's message too; a rerun interrupting the run stops it here
        copy_link(link_slot)
        linked = take_linked_values()  # judged by this run alone, and only if it reaches its end
    say_values_not_taken(link_note, linked)  # after a whole run: every widget the link could name has read it
    mark_done(done_slot)  # the last element of a run


def mark_done(slot: DeltaGenerator) -> None:
    """An invisible marker drawn when a run has drawn everything: its number in this session and its subject.
    A test or a tool waits for the marker naming its image, not stale (Streamlit marks a running rerun's old
    elements `data-stale`), with the script idle: never for "looks idle a moment". A run interrupted by a rerun,
    or ended by an error, draws none."""
    count = st.session_state.get("run_count", 0) + 1
    st.session_state["run_count"] = count
    subject = st.session_state.get(RUN_SUBJECT, "")
    slot.html(f'<span class="explainer-run-done" data-run="{count}" data-subject="{subject}"></span>')


def app_shell() -> None:
    """Call first in every page: when Streamlit ran the page file directly, run it inside the shell. The one
    place that reads Streamlit's private legacy-pages flag (no public API tells a page how it was run);
    tests/test_public_api.py fails if an upgrade moves it."""
    if PagesManager.uses_pages_directory:
        run_app()  # st.navigation turns legacy mode off; the page runs again, inside the shell
        st.stop()
