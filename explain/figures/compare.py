"""Runs compared: a visitor's finished runs of one live experiment on one chart, each labelled with its settings,
so two settings (a scheduler stepped or forgotten, two BatchNorm rates) are read off one figure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explain.figures.charts import FOOT_LEGEND, series_colours
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


SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "cross")  # one per run: runs on top of each other
COINCIDE = 0.005  # of a panel's range: runs whose every point is this close are drawn on top of each other


def distinct_runs(runs: Sequence[Sequence[Curve]]) -> list[Curve]:
    """Runs' curves, oldest run first, flattened for `comparison_figure`: a run with the settings of an earlier one is
    named with its place among them ("..., seed 0 (run 2 of these settings)"; a walk read "#2" as a seed), so it
    keeps its own colour and legend entry (two runs with one name were drawn in one colour, one on top of the
    other)."""
    seen: dict[str, int] = {}
    out = []
    for curves in runs:
        for name in dict.fromkeys(c.run for c in curves):
            seen[name] = seen.get(name, 0) + 1
            renamed = name if seen[name] == 1 else f"{name} (run {seen[name]} of these settings)"
            out += [replace(c, run=renamed) for c in curves if c.run == name]
    return out


def comparison_figure(curves: Sequence[Curve], x_title: str, percent: Sequence[str] = ()) -> go.Figure:
    """One panel per series title (in the first curve's order), one colour and marker per run and one dash per arm,
    the newest run (the last) drawn thicker and behind the others; panels named in `percent` are read as fractions
    and shown in percent.
    Hovering a step lists every run's value there, so runs drawn on top of each other can be told apart."""
    panels = list(dict.fromkeys(t for c in curves for t in c.series))
    runs = list(dict.fromkeys(c.run for c in curves))
    arms = list(dict.fromkeys(c.arm for c in curves))
    fig = make_subplots(rows=1, cols=max(1, len(panels)), subplot_titles=panels, horizontal_spacing=0.08)
    colours = series_colours(len(runs))
    xs = [x for c in curves for x in c.x]
    # a few whole epochs tick every one (a walk saw 1.5 and 2.5 for 3 epochs); steps and longer runs keep Plotly's
    tick = 1 if xs and all(float(x).is_integer() for x in xs) and max(xs) <= 20 else None
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
                marker=dict(symbol=SYMBOLS[i % len(SYMBOLS)], size=7),
                name=curve.label,
                legendgroup=curve.label,
                showlegend=col == 1,
                zorder=len(runs) - i,  # older runs in front: a thin line inside the newest's thick one shows both
                row=1,
                col=col,
            )
            if title in percent:  # every 20%: 50% and 100% alone left runs near chance without a scale (a walk)
                # within 0 to 100% however few points: one point per run had the axis run from -50% (a walk)
                fig.update_yaxes(
                    tickformat=".0%", dtick=0.2, autorangeoptions=dict(minallowed=0, maxallowed=1), row=1, col=col
                )
            fig.update_xaxes(title_text=x_title, dtick=tick, row=1, col=col)
    fig.update_layout(
        height=360 + 22 * len(dict.fromkeys(c.label for c in curves)),  # the legend below, an entry a line
        margin=dict(l=10, r=10, t=40, b=10),
        legend=FOOT_LEGEND,  # under the axis title (a walk: "Ba step tchNorm")
        hovermode="x unified",
    )
    return fig


def coinciding_text(curves: Sequence[Curve]) -> str:
    """A sentence naming the runs whose curves lie on an earlier run's (every arm and panel, the same steps, every
    point within COINCIDE of the panel's range), which the chart draws on top of each other; "" when none do."""
    panels = list(dict.fromkeys(t for c in curves for t in c.series))
    span = {}
    for title in panels:
        values = [v for c in curves for v in c.series.get(title, ()) if math.isfinite(v)]  # a diverged run's left out
        span[title] = max(values, default=0.0) - min(values, default=0.0)

    def same(a: list[Curve], b: list[Curve]) -> bool:
        if [(c.arm, c.x) for c in a] != [(c.arm, c.x) for c in b]:
            return False
        return all(
            ca.series.keys() == cb.series.keys()
            and all(
                (math.isfinite(u) and math.isfinite(v) and abs(u - v) <= COINCIDE * span[t])
                or (not math.isfinite(u) and not math.isfinite(v) and (u == v or (u != u and v != v)))
                for t in ca.series
                for u, v in zip(ca.series[t], cb.series[t], strict=True)
            )
            for ca, cb in zip(a, b, strict=True)
        )

    by_run = {name: [c for c in curves if c.run == name] for name in dict.fromkeys(c.run for c in curves)}
    names = list(by_run)
    on: dict[str, list[str]] = {}  # each earliest run -> the later runs on it (a run is named once, on the first)
    for j, later in enumerate(names):
        if first := next((earlier for earlier in names[:j] if same(by_run[earlier], by_run[later])), None):
            on.setdefault(first, []).append(later)
    if not on:
        return ""
    groups = "; ".join(
        f"{' and '.join(f'“{n}”' for n in laters)} on “{earlier}”" for earlier, laters in on.items()
    )  # a walk read three long pairs for three identical runs
    return (
        f"Drawn on top of each other (every point within {COINCIDE:.1%} of its chart's value range): "
        f"{groups}. Hover a step to read each run's value."
    )


def bn_curves(history: BNHistory, run: str) -> list[Curve]:
    """A BatchNorm run's two networks' test accuracy per step (BatchNorm's in eval mode, as it is tested), for
    comparing it with the visitor's other runs."""
    x = tuple(history.steps)
    return [
        Curve(run, "BatchNorm", x, {"Test accuracy": tuple(history.acc_bn_running)}),
        Curve(run, "no BatchNorm", x, {"Test accuracy": tuple(history.acc_plain)}),
    ]
