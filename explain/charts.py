"""Plotly figures shared by the pages; pages only place them."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from explain.classify import Prediction


def top_k_bar(predictions: Sequence[Prediction], title: str = "") -> go.Figure:
    """A horizontal bar chart of class probabilities, the most probable class on top."""
    preds = list(reversed(predictions))
    fig = go.Figure(
        go.Bar(
            x=[p.probability for p in preds],
            y=[p.label for p in preds],
            orientation="h",
            text=[f"{p.probability:.1%}" for p in preds],
            textposition="auto",
            marker_color="#4C78A8",
        )
    )
    fig.update_layout(
        title=title or None,
        xaxis=dict(title="probability", range=[0, 1], tickformat=".0%"),
        yaxis=dict(automargin=True),
        height=80 + 44 * len(preds),
        margin=dict(l=10, r=10, t=40 if title else 10, b=40),
    )
    return fig
