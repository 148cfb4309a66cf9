"""Runs compared: a visitor's finished runs of one live experiment on one chart, each labelled with its settings,
so two settings (a scheduler stepped or forgotten, two BatchNorm rates) are read off one figure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explain.figures.charts import series_colours
from models.experiments.batchnorm import BNHistory


@dataclass(frozen=True)
class Curve:
    """One line of a comparison chart, in every panel it has values for: the run's settings (its colour), which arm
    of the run it is ("" for a single arm; arms of one run share the colour, dashed after the first), the x values
    and, per panel title, its y values."""

    run: str
    arm: str
    x: tuple[float, ...]
    series: dict[str, tuple[float, ...]]

    @property
    def label(self) -> str:
        return f"{self.run} · {self.arm}" if self.arm else self.run


def comparison_figure(curves: Sequence[Curve], x_title: str, percent: Sequence[str] = ()) -> go.Figure:
    """One panel per series title (in the first curve's order), one colour per run and one dash per arm, the newest
    run (the last) drawn thicker; panels named in `percent` are read as fractions and shown in percent."""
    panels = list(dict.fromkeys(t for c in curves for t in c.series))
    runs = list(dict.fromkeys(c.run for c in curves))
    arms = list(dict.fromkeys(c.arm for c in curves))
    fig = make_subplots(rows=1, cols=max(1, len(panels)), subplot_titles=panels, horizontal_spacing=0.08)
    colours = series_colours(len(runs))
    for curve in curves:
        i = runs.index(curve.run)
        newest = i == len(runs) - 1
        dash = ("solid", "dash", "dot")[arms.index(curve.arm) % 3]
        for col, title in enumerate(panels, start=1):
            if title not in curve.series:
                continue
            fig.add_scatter(
                x=list(curve.x),
                y=list(curve.series[title]),
                mode="lines+markers",  # a one-epoch run is one point: a line alone would draw nothing
                line=dict(color=colours[i], width=3 if newest else 1.5, dash=dash),
                name=curve.label,
                legendgroup=curve.label,
                showlegend=col == 1,
                row=1,
                col=col,
            )
            if title in percent:
                fig.update_yaxes(tickformat=".0%", row=1, col=col)
            fig.update_xaxes(title_text=x_title, row=1, col=col)
    fig.update_layout(
        height=360, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25, x=0, yanchor="top")
    )
    return fig


def bn_curves(history: BNHistory, run: str) -> list[Curve]:
    """A BatchNorm run's two networks' test accuracy per step (BatchNorm's in eval mode, as it is tested), for
    comparing it with the visitor's other runs."""
    x = tuple(history.steps)
    return [
        Curve(run, "BatchNorm", x, {"Test accuracy": tuple(history.acc_bn_running)}),
        Curve(run, "no BatchNorm", x, {"Test accuracy": tuple(history.acc_plain)}),
    ]
