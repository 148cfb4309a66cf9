"""A U-Net as pictures: its shape as a U, predicted labels as colours, per-class IoU bars."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from torch import nn

from explain.figures.charts import PALETTE

LABEL_COLOURS = np.array(
    [(40, 40, 40), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180)],
    dtype=np.uint8,
)


SKIP_COLOUR = PALETTE[1]  # the skip arrows, and the network with them in charts beside the U
NO_SKIP_COLOUR = "#8c8c8c"  # grey: the network without (a walk read orange as skips in the U, "without" in the bars)
ERROR_COLOUR = (70, 240, 240)  # cyan: no class's colour (red was the circle's), clear on the faded grey


def colour_labels(labels: np.ndarray) -> np.ndarray:
    """H x W class indices -> H x W x 3 colours (background dark grey)."""
    return LABEL_COLOURS[np.asarray(labels) % len(LABEL_COLOURS)]


def u_figure(model: nn.Module, size: int) -> go.Figure:
    """The architecture as the familiar U: one box per level with its channels and resolution,
    arrows down (max-pool), up (transposed conv) and across (the skip connections, if any)."""
    fig = go.Figure()
    depth, widths = model.depth, model.widths
    for i, c in enumerate(widths):
        res = size // 2**i
        y = -i
        for x, label in ((i, "encoder"), (2 * depth - i, "decoder")):
            if label == "decoder" and i == depth:
                continue
            fig.add_shape(
                type="rect",
                x0=x - 0.45,  # wide enough for '128 ch' at presenter mode's 1.5x text
                x1=x + 0.45,
                y0=y - 0.3,
                y1=y + 0.3,
                line=dict(color=PALETTE[0]),
                fillcolor="rgba(76,120,168,0.15)",
            )
            fig.add_annotation(x=x, y=y, text=f"{c} ch<br>{res}x{res}", showarrow=False, font=dict(size=11))
        if i < depth:
            # corner to corner, so the arrows never cross a box's label
            fig.add_annotation(
                x=i + 0.75,
                y=y - 0.7,
                ax=i + 0.25,
                ay=y - 0.3,
                xref="x",
                yref="y",
                axref="x",
                ayref="y",
                arrowhead=2,
                arrowcolor=PALETTE[3],
                text="",
            )
            fig.add_annotation(
                x=2 * depth - i - 0.25,
                y=y - 0.3,
                ax=2 * depth - i - 0.75,
                ay=y - 0.7,
                xref="x",
                yref="y",
                axref="x",
                ayref="y",
                arrowhead=2,
                arrowcolor=PALETTE[2],
                text="",
            )
            if model.skips:
                fig.add_annotation(
                    x=2 * depth - i - 0.45,
                    y=y,
                    ax=i + 0.45,
                    ay=y,
                    xref="x",
                    yref="y",
                    axref="x",
                    ayref="y",
                    arrowhead=2,
                    arrowcolor=SKIP_COLOUR,
                    text="",
                )
                if i == 0:  # one label for all the skip arrows
                    fig.add_annotation(
                        x=depth,
                        y=y + 0.18,
                        text="copy and concatenate (skip connections)",
                        showarrow=False,
                        font=dict(size=10, color=SKIP_COLOUR),
                    )
    # its left edge a gap from the last box's, so larger text (presenter mode) grows away from the box, not into it
    fig.add_annotation(
        x=2 * depth + 0.6, y=0, text="1x1 conv<br>→ classes", showarrow=False, xanchor="left", align="left"
    )
    fig.update_xaxes(visible=False, range=[-0.7, 2 * depth + 2.1])
    fig.update_yaxes(visible=False, range=[-depth - 0.6, 0.6])
    title = "U-Net" + ("" if model.skips else " without skip connections")
    fig.update_layout(title=title, height=120 + 90 * depth, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def iou_bars(metrics: dict[str, list[float]], classes: list[str]) -> go.Figure:
    """Per-class held-out IoU of the network with skips and the one without (in that order), side by side, in the
    skip arrows' colour and grey."""
    fig = go.Figure()
    for (name, values), colour in zip(metrics.items(), (SKIP_COLOUR, NO_SKIP_COLOUR), strict=True):
        fig.add_bar(x=classes, y=values, name=name, marker_color=colour)
    fig.update_layout(
        barmode="group",
        yaxis=dict(title="IoU on held-out scenes", range=[0, 1]),
        height=320,
        margin=dict(l=10, r=10, t=30, b=10),
    )
    return fig


def error_overlay(seen: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    """The image the network saw, faded to grey, with its wrongly labelled pixels in ERROR_COLOUR."""
    grey = np.asarray(seen, np.float64).mean(-1, keepdims=True) * 0.5 + 96
    out = np.repeat(grey, 3, axis=-1)
    out[wrong] = ERROR_COLOUR
    return out.round().clip(0, 255).astype(np.uint8)
