"""One parameter form for every `models.params.Param` list: an attribution method's and an augmentation
transform's are drawn by the same function, bounded by the same ranges the library checks."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import streamlit as st

from models.params import Param
from ui.view_link import BIND


def param_widgets(
    params: Sequence[Param], prefix: str, values: dict[str, Any], layers: Sequence[str] = (), linked: bool = False
) -> dict[str, Any]:
    """Draw one widget per parameter, keyed `{prefix}_{name}` and starting from `values` (the defaults where
    missing); return the chosen values by parameter name. Pairs get two inputs side by side; a layer is chosen
    from `layers`. `linked`: every widget is bound to the URL (its key is the query parameter)."""
    out: dict[str, Any] = {}
    bind = BIND if linked else None
    for p in params:
        k, value, tip = f"{prefix}_{p.name}", values.get(p.name, p.default), p.help or None
        if p.kind == "int":
            start = int(p.clamp(int(value)))
            out[p.name] = int(
                st.number_input(p.label, int(p.low), int(p.high), start, int(p.widget_step), key=k, help=tip, bind=bind)
            )
        elif p.kind == "float":
            start = p.clamp(float(value))
            out[p.name] = float(
                st.number_input(p.label, float(p.low), float(p.high), start, p.widget_step, key=k, help=tip, bind=bind)
            )
        elif p.kind == "pair":
            a, b = st.columns(2)
            lo, hi = (p.clamp(float(v)) for v in value)
            out[p.name] = (
                a.number_input(
                    f"{p.label} from", float(p.low), float(p.high), lo, p.widget_step, key=k + "_a", bind=bind
                ),
                b.number_input(
                    f"{p.label} to", float(p.low), float(p.high), hi, p.widget_step, key=k + "_b", bind=bind
                ),
            )
        elif p.kind == "bool":
            out[p.name] = st.checkbox(p.label, bool(value), key=k, help=tip, bind=bind)
        elif p.kind == "choice":
            index = p.choices.index(value)
            out[p.name] = st.selectbox(p.label, p.choices, index, format_func=p.caption, key=k, help=tip, bind=bind)
        else:  # a layer of this model: the key carries a digest of the layer list, which changes with the model
            layers = list(layers)
            index = layers.index(value) if value in layers else len(layers) - 1
            digest = hashlib.sha256("\0".join(layers).encode()).hexdigest()[:8]  # the same in every process
            out[p.name] = st.selectbox(p.label, layers, index, key=f"{k}_{digest}", help=tip, bind=bind)
    return out
