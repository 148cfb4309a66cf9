"""Parameter forms: an attribution method's, drawn from its `Param` specs, and an augmentation
transform's, drawn from its `TransformSpec` with its bounds."""

from __future__ import annotations

from typing import Any

import streamlit as st

from explain.methods.attributions import Method
from models.experiments.augmentation import TRANSFORMS


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


def transform_widgets(key: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Draw one widget per parameter of augmentation transform `name`, bounded by its ranges (pairs get
    two inputs side by side); return the chosen values by parameter name."""
    spec = TRANSFORMS[name]
    out = {}
    for k, default in spec.defaults.items():
        value, wkey = params.get(k, default), f"{key}_{name}_{k}"
        if isinstance(default, bool):
            out[k] = st.checkbox(k, bool(value), key=wkey)
            continue
        low, high = spec.bounds[k]
        if isinstance(default, tuple):
            a, b = st.columns(2)
            lo, hi = (min(max(float(v), low), high) for v in value)
            out[k] = (a.number_input(f"{k} from", float(low), float(high), lo, 0.05, key=wkey + "_a"),
                      b.number_input(f"{k} to", float(low), float(high), hi, 0.05, key=wkey + "_b"))  # fmt: skip
        elif isinstance(default, int):
            step_by = 2 if k == "kernel_size" else 1
            out[k] = int(st.number_input(k, int(low), int(high), min(max(int(value), low), high), step_by, key=wkey))
        else:
            start = min(max(float(value), low), high)
            out[k] = float(st.number_input(k, float(low), float(high), start, 0.05, key=wkey))
    return out
