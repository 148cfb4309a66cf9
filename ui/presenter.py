"""Presenter mode, for a projector (the sidebar's switch, `?view_compact=true` in a link): the sidebar opens folded,
each page's controls fold into one Settings panel above its results, explanatory text is hidden, figures are drawn
with text 1.5 times larger, and each figure's full-screen button is always shown rather than on hover."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ui.view_link import BIND

if TYPE_CHECKING:  # plotly loads with the pages' figures, after the shell is drawn
    import plotly.graph_objects as go

KEY = "view_compact"  # the switch's key and URL parameter (the name links saved before presenter mode use)
TEXT_SCALE = 1.5  # how much larger text is in figures and pictures when presenting

# Larger page text (a metric's value too: the paragraph rule alone drew it as small as its label; and what a
# selectbox or number box shows, which Streamlit draws as an input's value: both from walks), and
# Streamlit's element toolbar (full screen, download) shown without hovering; the main area's top padding 3.5rem, just
# under the header's button that opens the folded sidebar (a walk: at 1280 x 720 the first attribution map began 157
# px above the bottom of the screen). Not presenting, `theme.paddingTop` (.streamlit/config.toml) sets it: Streamlit
# adds the header's 60 px to that where the header shows a button, as it does here.
STYLE = """<style>
section.main, .stMain { font-size: 1.2rem; }
.stMain .stMainBlockContainer { padding-top: 3.5rem; }
.stMain [data-testid="stMarkdownContainer"] p, .stMain [data-testid="stMarkdownContainer"] li,
.stMain [data-testid="stCaptionContainer"] { font-size: 1.2rem; }
.stMain [data-testid="stMetricValue"] [data-testid="stMarkdownContainer"] p { font-size: 2.7rem; }
.stMain [data-testid="stCode"] code { font-size: 1.05rem; }
.stMain input { font-size: 1.2rem; }
.stMain [data-testid="stElementToolbar"] { opacity: 1 !important; visibility: visible !important; }
.stMain [data-testid="stElementContainer"]:has([data-testid="stDataFrame"]) { zoom: 1.25; width: 80% !important; }
</style>"""


def presenter_toggle() -> bool:
    """The sidebar's switch; its state is in the URL, so a copied link opens in presenter mode."""
    tip = (
        "For a projector: controls folded into Settings, the results first, larger text, full-screen buttons shown, "
        "explanations hidden. Copy the link after switching it on to keep it."
    )
    return st.sidebar.toggle("Presenter mode", key=KEY, bind=BIND, help=tip)


def presenting() -> bool:
    return bool(st.session_state.get(KEY))


def prose(text: str) -> None:
    """Explanatory text: shown unless presenting."""
    if not presenting():
        st.write(text)


def stage(title: str, text: str) -> None:
    """A numbered stage's bold title, then its explanation unless presenting."""
    st.markdown(f"**{title}**" if presenting() else f"**{title}** {text}")


def note(text: str) -> None:
    """An explanatory caption: shown unless presenting."""
    if not presenting():
        st.caption(text)


def presenter_style() -> None:
    """The page-wide styles of presenter mode (nothing when not presenting)."""
    if presenting():
        st.html(STYLE)


@contextmanager
def settings(label: str = "Settings", key: str | None = None) -> Iterator[DeltaGenerator]:
    """Where a page draws its controls: in place normally, folded into one panel when presenting (the panel keeps
    every value; open it to change one). A live run's panel has a `key`: `fold_panel` then folds it when the run is
    started or resumed (its open or folded state is tracked, so opening it reruns the page)."""
    if presenting():
        tracked = {} if key is None else {"key": key, "on_change": "rerun"}
        with st.expander(label, expanded=False, icon=":material/tune:", **tracked) as panel:
            yield panel
    else:
        with st.container() as place:
            yield place


def fold_panel(key: str) -> None:
    """When presenting, fold the live-run Settings panel keyed `key` at the next run, so that the run's progress bar
    and charts are in view: from a button's callback (Train, Resume), which runs before the panel is drawn (a walk
    pressed Train at 1280 x 720 and the open panel kept the loss curve below the screen until folded by hand)."""
    if presenting():
        st.session_state[key] = False


MODEBAR = {  # Plotly's toolbar cut down to saving a PNG and undoing a zoom: its eight buttons covered a narrow chart's
    # title (a walk); dragging still zooms, a double click still resets
    "displaylogo": False,
    "modeBarButtons": [["toImage", "resetScale2d"]],
}


def chart(where: DeltaGenerator | Any, fig: go.Figure, **kwargs: Any) -> Any:
    """`where.plotly_chart(fig, ...)`, its text enlarged when presenting, with a short toolbar (`MODEBAR`); every page
    draws its Plotly figures here."""
    from explain.figures.charts import for_projector

    kwargs.setdefault("config", MODEBAR)
    return where.plotly_chart(for_projector(fig, TEXT_SCALE) if presenting() else fig, **kwargs)


def press(button: str) -> str:
    """Where to press a form's `button`: inside the folded Settings panel when presenting (a walk read "Press Train"
    with no Train in sight)."""
    return f"Open **Settings** above and press **{button}**" if presenting() else f"Press **{button}**"


def text_scale() -> float:
    """How much larger labels drawn into pictures (box labels) should be now."""
    return TEXT_SCALE if presenting() else 1.0


def per_row(normal: int) -> int:
    """Panels per row in a grid of figures: fewer, larger ones when presenting."""
    return max(1, normal - 1) if presenting() else normal


def in_use(image_name: str, model_title: str, fallback: bool, caveat: str = "", explaining: str = "") -> None:
    """When presenting, one line under the folded settings naming the image and the model in use (the weights
    banner is inside the panel), so the audience always sees which model the results are from; then `caveat`, what
    the audience must know of the results that the folded panel says (a walk: a coffee cup explained as "circle" with
    the out-of-distribution note folded away)."""
    if presenting():
        from models.text import code_span  # here: the shell imports this module before torch loads

        # not "trained here": a walk read it as trained by this server; it ships with the app
        model = f"{model_title} (the offline fallback, trained by this project)" if fallback else model_title
        # `explaining`: the class the maps are for (a lecturer's walk found it only under the maps, below the screen)
        said = f" · explaining the class {code_span(explaining)}" if explaining else ""
        st.caption(f":material/visibility: {image_name} · {model}{said}")
        if caveat:
            st.caption(f":material/help: {caveat}")
