"""Links to a view. Every page's main widgets are bound to the URL's query parameters (Streamlit's
`bind="query-params"`: the key is the parameter's name, a value the widget cannot take is dropped), so a link
on a slide opens exactly that view. This module adds what binding does not: the "Copy link" box, an upload
named by its hash for this browser session, a line naming a link's values the page could not take, and
explanatory text that presenter mode (ui.presenter) hides."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import streamlit as st

if TYPE_CHECKING:  # ui.shell imports this module before PyTorch loads: nothing from explain or models here
    from streamlit.delta_generator import DeltaGenerator

    from explain.inputs.upload_limits import KeptUploads

BIND = "query-params"  # every linked widget's `bind`
UPLOAD = "upload"  # the query parameter naming an upload by the SHA-256 of its bytes
CARRIED = "carried_upload"  # session key: (SHA-256, name) of the upload the visitor's pages show (ui.image_input)
RUN_SUBJECT = "run_subject"  # session key: the SHA-256 of the image this run explains (ui.shell.mark_done)
MAX_UPLOADS_KEPT = 4  # uploads a visitor's browser keeps for links to name (each at most 25 MB)
KEPT_UPLOADS_MB = int(os.environ.get("EXPLAINER_KEPT_UPLOADS_MB", "100"))  # all visitors' kept uploads


def infinite(text: str) -> bool:
    """Whether a URL value reads as an infinite number ("inf", "-Infinity", "1e999"): Streamlit 1.67's number input
    turns a bound one into an OverflowError on the page (it drops NaN and other values it cannot take)."""
    try:
        return math.isinf(float(text))
    except ValueError:
        return False


def drop_infinite_values() -> None:
    """Take out of the URL every parameter with an infinite value, before any bound widget reads it: a link with
    `?bn_steps=inf` broke its page for whoever opened it, on every reload (a review over loopback). Bound widgets
    seed from the URL as the session first saw it, so that copy is reset too (Streamlit's own calls: deleting from
    `st.query_params` leaves it)."""
    from streamlit.runtime.state.session_state_proxy import get_session_state

    bad = [k for k in st.query_params if any(infinite(v) for v in st.query_params.get_all(k))]
    if bad:
        with get_session_state().query_params() as params:
            for key in bad:
                params.remove_param(key)  # as Streamlit clears a URL value a widget cannot take
            params.set_initial_query_params_from_current()


def name_option_exactly(key: str, options: Sequence[float], format_func: Callable[[float], str] = str) -> None:
    """Before a widget over the numbers `options` binds the URL's `key`: a value there that names an option as a
    number but not by its label ("0.50", "1" for 1.0, "3e-4") is put in its place as that option's label, the only
    form Streamlit takes (it dropped a link's `bn_lr=1` and showed the default 0.5). Bound widgets seed from the URL
    as the session first saw it, so that copy follows, as in `drop_infinite_values`."""
    from streamlit.runtime.state.session_state_proxy import get_session_state

    from models.text import number_named

    values = st.query_params.get_all(key)
    index = number_named(values[0], options) if len(values) == 1 else None
    if index is None or format_func(options[index]) == values[0]:
        return
    with get_session_state().query_params() as params:
        if params.is_bound(key):  # a widget holds it already: its own label is there
            return
        params[key] = format_func(options[index])  # the browser's address bar shows it too
        params.set_initial_query_params_from_current()


def select_number(
    where: DeltaGenerator,
    label: str,
    options: Sequence[float],
    value: float,
    *,
    key: str,
    format_func: Callable[[float], str] = str,
    **kwargs: Any,
) -> float:
    """A select slider over numbers, bound to the URL's `key`, that takes a link's number however it is written
    (`name_option_exactly`)."""
    name_option_exactly(key, options, format_func)
    return where.select_slider(label, options, value, key=key, bind=BIND, format_func=format_func, **kwargs)


LINKED = "_linked_values"  # session key: the URL's values as the session's first run found them


def remember_linked_values() -> None:
    """On a session's first run, before any widget reads the URL (and before `drop_infinite_values`): what the
    link asked for, so that `say_values_not_taken` can name what the page could not take."""
    if "_linked_seen" not in st.session_state:
        st.session_state["_linked_seen"] = True
        st.session_state[LINKED] = {k: st.query_params.get_all(k) for k in st.query_params}


def linked_values(key: str) -> list[str]:
    """The link's values of `key` on the session's first run (what `remember_linked_values` kept, until
    `take_linked_values` takes them), else []: a page judges a link's values once, not the URL its widgets write later
    (a review: a sweep chosen both to show and to compare read as a link's foreign sweep)."""
    return list(st.session_state.get(LINKED, {}).get(key, []))


EXPLAINED = "_link_explained"  # session key: link parameters (and values) a page has already said something about


def explained(key: str, values: Sequence[str] | None = None) -> None:
    """The page has said why the link's `key` cannot be shown (a network uploaded in another session), or, given
    `values`, why those of its values cannot: `say_values_not_taken` leaves them out rather than give a second, other
    reason, and still names the key's other values it dropped."""
    said = st.session_state.setdefault(EXPLAINED, {})
    if values is None:
        said[key] = None
    elif said.get(key, set()) is not None:
        said.setdefault(key, set()).update(values)


REFUSED = "_link_refused"  # session key: a link's values of parameters no widget is bound to that the page refused


def refuse(key: str, value: str) -> None:
    """The page could not take the link's `value` of `key`, a parameter no widget is bound to (a detection's row):
    `say_values_not_taken` names it with the widgets' (a walk's `det_row=999` was dropped without a word)."""
    st.session_state.setdefault(REFUSED, {}).setdefault(key, set()).add(value)


def take_linked_values() -> dict[str, list[str]] | None:
    """The link's values `remember_linked_values` kept, taken out: judged by the run that kept them, if it runs to
    its end, and by no later one (a run interrupted before its end leaves the widgets, and then the URL, to the
    visitor's changes, which a later judgement would take for the link's)."""
    return st.session_state.pop(LINKED, None)


def _not_taken(key: str, values: list[str]) -> list[str]:
    """The link's `values` of `key` that the widget bound to it could not take ([] when it took them all): Streamlit
    cleared or corrected them, and not because they are the widget's default (it clears those too); a list widget
    names only the values it dropped (a review: five sweeps to compare, three taken, and the line named a taken one);
    a widget of one value given several took the last, and all are named. A value given twice is one. Read with
    Streamlit's own parsing and widget metadata: private, so tests/test_view_links.py fails when an upgrade moves
    them (here a failure to read them says nothing). A key no widget is bound to is the page's own to check (a
    detection's row)."""
    from models.text import same_values

    values = list(dict.fromkeys(values))
    held = st.query_params.get_all(key)
    if len(values) == 1 and same_values(held, values):  # as the link gave it ("0.5" for "0.50")
        return []

    def listed(value: object) -> list[str]:
        return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]

    try:
        from streamlit.runtime.state.query_params import parse_url_param
        from streamlit.runtime.state.session_state_proxy import get_session_state

        state = get_session_state()._state
        meta = state._new_widget_state.widget_metadata.get(state._key_id_mapper.get_id_from_key(key) or "")
        default = listed(meta.serializer(meta.deserializer(None))) if meta is not None else []
    except Exception:  # Streamlit's internals moved: no line rather than an error (the test catches the move)
        return []
    if meta is None:
        return []
    if meta.value_type.endswith("array_value"):  # what the widget holds: the URL's, or its default where cleared
        holds = held or default
        return [v for v in values if not any(same_values([v], [h]) for h in holds)]
    if len(values) > 1:  # a one-value widget takes the last (a loopback review's bn_steps=50&700)
        return values
    try:  # the link's value as the URL would hold the default (a slider's value past its end also falls back to it)
        return [] if same_values(listed(parse_url_param(values[0], meta.value_type)), default) else values
    except Exception:  # Streamlit could not parse it either
        return values


def say_values_not_taken(where: DeltaGenerator, linked: dict[str, list[str]] | None) -> None:
    """At the end of a session's first whole run: one line at `where` naming the link's values (`linked`, from
    `take_linked_values`) that the page's widgets could not take as given. Streamlit drops or corrects them without a
    word: a link typed with a widget's key, `?unet_source=any`, where the URL holds its label, silently showed
    another view. Keys the page has `explained` are left to what it said."""
    from models.text import code_span

    refused = st.session_state.pop(REFUSED, {})  # judged with the link's values, or dropped at the next whole run
    if not linked:
        return
    said = st.session_state.get(EXPLAINED, {})
    missed = [
        f"{code_span(key, 30)}={code_span(','.join(dropped), 40)}"
        for key, values in linked.items()
        if (key not in said or said[key] is not None)
        and (
            dropped := [
                v
                for v in dict.fromkeys(_not_taken(key, values) + [v for v in values if v in refused.get(key, ())])
                if v not in (said.get(key) or ())
            ]
        )
    ]
    if missed:
        more = f" and {len(missed) - 3} more" if len(missed) > 3 else ""
        where.info(
            f"This link's {', '.join(missed[:3])}{more} "
            + ("are not values" if len(missed) > 1 else "is not a value")
            + " this page can show: it shows what it could take, or its default. **Copy link** gives a working link.",
            icon=":material/link_off:",
        )


def visitor() -> str:
    """This visitor's name in the server's stores (kept uploads, launched sweeps): their browser's
    (`browser_key`, the same in every tab and after a reload), else this session's own random one."""
    import secrets

    from explain.inputs.upload_limits import browser_key

    if "_uploads_owner" not in st.session_state:
        cookie = st.context.cookies.get("_streamlit_xsrf")
        st.session_state["_uploads_owner"] = browser_key(cookie) or secrets.token_hex(16)
    return st.session_state["_uploads_owner"]


@st.cache_resource(show_spinner=False)
def kept_uploads() -> KeptUploads:
    """The process's uploads kept for links: each visitor's newest MAX_UPLOADS_KEPT, KEPT_UPLOADS_MB in all."""
    from explain.inputs.upload_limits import KeptUploads

    return KeptUploads(MAX_UPLOADS_KEPT, KEPT_UPLOADS_MB)


def remember_upload(sha256: str, data: bytes, label: str) -> None:
    """Keep an upload for this visitor (`visitor`), so a link naming its hash (`?upload=`) finds it (the newest few,
    within a bound for the whole server)."""
    kept_uploads().put(visitor(), sha256, data, label)


def linked_upload() -> tuple[bytes, str] | str | None:
    """The upload the URL names: (bytes, label) when this session has it, a one-line reason when it does not,
    None when the URL names none."""
    sha = st.query_params.get(UPLOAD)
    if not sha:
        return None
    found = kept_uploads().get(visitor(), sha)
    if found is not None:
        return found
    return (
        "The link names an image uploaded in another browser, which this one cannot see, or one this server no "
        "longer holds: upload it again."
    )


def name_upload(sha256: str | None) -> None:
    """Put the upload being shown into the URL (or take it out when a sample is shown)."""
    if sha256 and st.query_params.get(UPLOAD) != sha256:
        st.query_params[UPLOAD] = sha256
    elif not sha256:
        forget_upload()


def linked_row(param: str, count: int) -> int | None:
    """The 0-based row of a `count`-row table that the URL's `param` names (1-based, as a person counts), or None.
    A link's value that names no row is `refuse`d, to be named; a link giving several has the last taken and all
    named, as a one-value widget's (a review)."""
    from models.text import row_number

    text, linked = st.query_params.get(param), linked_values(param)
    row = row_number(text, count)
    # several, or the one given names no row (or was dropped as infinite before: a loopback review's 5,000 digits)
    if len(linked) > 1 or (row is None and linked):
        for value in linked:
            refuse(param, value)
    return row


def linked_image_missing() -> bool:
    """Whether the link named an upload that this page does not show (another browser's, or one the server let go:
    the page says so): what the link says of its image, a detection's row, belongs to another image (a review found
    a link's row focusing an unrelated detection of the sample shown instead). Call after the image is chosen."""
    named = linked_values(UPLOAD)
    return bool(named) and st.query_params.get(UPLOAD) != named[-1]


def name_row(param: str, row: int | None) -> None:
    """Put the chosen row of a table into the URL as `param` (1-based), or take it out when none is chosen."""
    if row is None:
        if param in st.query_params:
            del st.query_params[param]
    elif st.query_params.get(param) != str(row + 1):
        st.query_params[param] = str(row + 1)


def forget_upload() -> None:
    """Stop naming an upload in the URL (the named upload is not this visitor's, or no longer kept)."""
    if UPLOAD in st.query_params:
        del st.query_params[UPLOAD]


def carry_upload(sha256: str, label: str) -> None:
    """Make this upload the one the visitor's other pages show until they pick a sample or remove it."""
    st.session_state[CARRIED] = (sha256, label)


def carried_upload() -> tuple[bytes, str] | str | None:
    """The upload the visitor last made or chose on any page: (bytes, label) while this server keeps it, a one-line
    reason once it no longer does (the store is bounded for the whole server; the upload is then let go), or None."""
    from models.text import display_name

    if CARRIED not in st.session_state:
        return None
    sha, label = st.session_state[CARRIED]
    found = kept_uploads().get(visitor(), sha)
    if found is None:
        del st.session_state[CARRIED]
        return f"Your {display_name(label)} from earlier is no longer held by this server: upload it again."
    return found


def carried_name() -> str | None:
    """The name of the upload the visitor's pages show, without reading it (None when there is none)."""
    return st.session_state[CARRIED][1] if CARRIED in st.session_state else None


def drop_upload() -> None:
    """The visitor chose a sample (or removed their file): no page shows their upload until they give another."""
    st.session_state.pop(CARRIED, None)
    forget_upload()


def drop_if_emptied(key: str) -> None:
    """A file widget's on_change: when the visitor emptied it (removed the file, cleared the photo), drop their
    upload everywhere. A callback, not a comparison with the last run: it fires in the rerun the removal makes,
    whatever earlier runs drew, and never when a page left and opened again starts with its widgets empty."""
    if st.session_state.get(key) is None:
        drop_upload()


def copy_link(where: DeltaGenerator) -> None:
    """The link to this view now, in a box with a copy button, in a popover at `where`."""
    # every value of a key (a list's choices): to_dict() keeps the last alone (a review: two methods chosen, one linked)
    params = [(key, value) for key in st.query_params for value in st.query_params.get_all(key)]
    base = st.context.url or ""
    link = f"{base}?{urlencode(params)}" if params else base
    with where.popover("Copy link", icon=":material/link:", width="stretch"):
        st.code(link, language=None, wrap_lines=True)
        st.caption(
            "Copy it with the button that appears at the box's right when the pointer is over the box, or select it "
            "and press Ctrl+C. It opens this page with these settings; an uploaded image and a sweep run from the "
            "page are found only in the browser that made them, a network trained or uploaded here only in this tab."
        )
