"""Widgets for a method's parameters, drawn from its `Param` specs (one form for every method)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from explain.attributions import Method


def param_widgets(method: Method, key: str, defaults: dict[str, Any], layers: list[str]) -> dict[str, Any]:
    """Draw one widget per parameter of `method`; return the chosen values by parameter name."""
    values: dict[str, Any] = {}
    for p in method.params:
        k = f"{key}_{method.key}_{p.name}"
        if p.kind == "int":
            values[p.name] = int(
                st.number_input(p.label, int(p.low), int(p.high), int(defaults[p.name]), 1, key=k, help=p.help or None)
            )
        elif p.kind == "float":
            values[p.name] = float(
                st.number_input(p.label, float(p.low), float(p.high), float(defaults[p.name]), 0.01, key=k)
            )
        elif p.kind == "bool":
            values[p.name] = st.checkbox(p.label, bool(defaults[p.name]), key=k, help=p.help or None)
        elif p.kind == "choice":
            values[p.name] = st.selectbox(p.label, p.choices, p.choices.index(defaults[p.name]), key=k)
        else:  # a layer of this model: the key carries the layer list, which changes with the model
            index = layers.index(defaults[p.name]) if defaults[p.name] in layers else len(layers) - 1
            values[p.name] = st.selectbox(p.label, layers, index, key=f"{k}_{hash(tuple(layers))}", help=p.help)
    return values
