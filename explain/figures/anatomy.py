"""A residual block drawn as the lecture draws it: the main path down the middle, the shortcut beside it
(the identity, or the 1x1 stride-2 projection when the block downsamples), the sum, then the last ReLU."""

from __future__ import annotations

from itertools import pairwise

import plotly.graph_objects as go

from explain.figures.charts import PALETTE


def _box(fig: go.Figure, x: float, y: float, text: str, colour: str, width: float = 1.9) -> None:
    fig.add_shape(
        type="rect",
        x0=x - width / 2,
        x1=x + width / 2,
        y0=y - 0.32,
        y1=y + 0.32,
        line=dict(color=colour),
        fillcolor="rgba(76,120,168,0.08)",
    )
    # 13 px: at 11 a walk found them hard to read; the ink is the theme's, read on a light or a dark page
    fig.add_annotation(x=x, y=y, text=text, showarrow=False, font=dict(size=13))


def _arrow(fig: go.Figure, x0: float, y0: float, x1: float, y1: float, colour: str) -> None:
    fig.add_annotation(
        x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", arrowhead=2, arrowcolor=colour, text=""
    )


def block_figure(main: list[str], shortcut: list[str], title: str) -> go.Figure:
    """`main` and `shortcut` as `explain.methods.anatomy.block_paths` gives them (an empty shortcut: identity)."""
    fig = go.Figure()
    steps = ["input", *main, "+", "ReLU", "output"]
    plus = len(main) + 1
    for i, text in enumerate(steps):
        y = -i
        if text == "+":
            fig.add_shape(type="circle", x0=-0.25, x1=0.25, y0=y - 0.25, y1=y + 0.25, line=dict(color=PALETTE[1]))
            fig.add_annotation(x=0, y=y, text="<b>+</b>", showarrow=False, font=dict(size=16, color=PALETTE[1]))
        elif text in ("input", "output"):
            fig.add_annotation(x=0, y=y, text=f"<i>{text}</i>", showarrow=False)
        else:
            _box(fig, 0, y, text, PALETTE[0])
        if i:
            _arrow(fig, 0, -(i - 1) - 0.35, 0, y + (0.27 if text == "+" else 0.35), PALETTE[0])
    # The shortcut: from the input, out to the right, down, and into the sum.
    x = 2.4
    fig.add_shape(type="line", x0=0.45, x1=x, y0=0, y1=0, line=dict(color=PALETTE[2], width=2))  # from "input"
    if shortcut:
        top = -plus / 2 + 0.5 * (len(shortcut) - 1)  # the projection's boxes centred beside the main path
        ys = [top - k for k in range(len(shortcut))]
        fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=ys[0] + 0.32, line=dict(color=PALETTE[2], width=2))
        for y, text in zip(ys, shortcut, strict=True):
            _box(fig, x, y, text, PALETTE[2])
        bottom = ys[-1] - 0.32
        for a, b in pairwise(ys):
            fig.add_shape(type="line", x0=x, x1=x, y0=a - 0.32, y1=b + 0.32, line=dict(color=PALETTE[2], width=2))
        fig.add_shape(type="line", x0=x, x1=x, y0=bottom, y1=-plus, line=dict(color=PALETTE[2], width=2))
        label = "projection shortcut"
    else:
        fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=-plus, line=dict(color=PALETTE[2], width=2))
        label = "identity shortcut"
    _arrow(fig, x, -plus, 0.27, -plus, PALETTE[2])
    fig.add_annotation(
        x=x + 0.15, y=0.3, text=label, showarrow=False, xanchor="center", font=dict(size=11, color=PALETTE[2])
    )
    fig.update_xaxes(visible=False, range=[-1.05, 3.45])
    fig.update_yaxes(visible=False, range=[-len(steps) + 0.4, 0.6])
    fig.update_layout(
        title=title,
        height=70 + 52 * len(steps),
        margin=dict(l=10, r=10, t=40, b=10),
        showlegend=False,
    )
    return fig
