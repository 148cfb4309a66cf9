"""The transfer page's Plotly figures: learning curves with their fits and the paper's, and training curves.
No Streamlit, so a notebook can draw the same."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from explain.figures.charts import FOOT_LEGEND, PALETTE, legend_height
from explain.methods.learning_curves import PAPER_FITS, PAPER_N, PAPER_NAMES, LearningCurve
from explain.methods.transfer_curves import Run, by_regime, mean_errors
from models.transfer import REGIMES as REGIME_TITLES
from models.transfer.published import N_MIN as PAPER_N_MIN

COLOURS = {
    "scratch": PALETTE[3],
    "probe": PALETTE[0],
    "finetune": PALETTE[2],
    "probe-features": PALETTE[6],
    "random-probe": PALETTE[4],  # teal: a walk took the brown it had, dotted, for From scratch's red
}
SYMBOLS = {  # a run's marker names its regime with its colour: regimes whose points overlap stay apart
    "scratch": "circle",
    "probe": "square",
    "finetune": "diamond",
    "probe-features": "triangle-up",
    "random-probe": "star",
}
PAPER_TASK = "Hoiem et al.'s fits: ResNet-18, ImageNet -> CIFAR-100 (another task)"  # over the paper's lines
PAPER_DASHES = ("dot", "dashdot", "longdash", "dash")  # one per published fit, none solid: fits of ours are solid


def band(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, colour: str, group: str, opacity: float) -> go.Scatter:
    """A shaded region between `lo` and `hi` over `x`, legend-grouped with its line, without its own hover."""
    return go.Scatter(
        x=np.concatenate([x, x[::-1]]),
        y=np.concatenate([hi, lo[::-1]]),
        fill="toself",
        fillcolor=colour,
        opacity=opacity,
        line=dict(width=0),
        hoverinfo="skip",
        showlegend=False,
        legendgroup=group,
    )


DODGE = 1.06  # the factor on n between neighbouring regimes' points: regimes measured at one n stay apart


def dodge(k: int, regimes: int) -> float:
    """The factor regime number `k` of `regimes` multiplies its points' n by, centred on 1 (0.92, 0.97, 1.03, 1.09
    for four): runs at the same n sat in one pile (a walk could not tell the pretrained regimes apart)."""
    return DODGE ** (k - (regimes - 1) / 2)


INV_SQRT_DODGE = 0.012  # the step on n^-1/2 between neighbouring regimes' points (the axis spans about 0 to 1)


def _x(n: np.ndarray, axis: str) -> np.ndarray:
    return n**-0.5 if axis == "inv_sqrt" else n


def dodged_x(n: np.ndarray, k: int, regimes: int, axis: str) -> np.ndarray:
    """Where regime number `k`'s points at sizes `n` go on `axis`, nudged sideways: by the factor `dodge` on a log
    axis (the same distance at every n), by a fixed step on the linear n^-1/2 axis (a factor on n there moved the
    points at n = 1 about 30 px off their tick and their fit, and those at large n hardly at all: a walk)."""
    if axis == "inv_sqrt":
        return n**-0.5 + INV_SQRT_DODGE * (k - (regimes - 1) / 2)
    return _x(n * dodge(k, regimes), axis)


def learning_curve_figure(
    runs: Sequence[Run],
    curves: dict[str, LearningCurve],
    axis: str = "log",
    paper: bool = False,
    selected: str | None = None,
    others: Mapping[str, Sequence[Run]] | None = None,
) -> go.Figure:
    """Test error against images per class: every run as a point (its key in customdata, for
    click-through), each regime's fitted curve with its 95% band, optionally the paper's fits, and the
    measured means of `others` (other sweeps, by name) as dashed lines in their regimes' colours, to compare."""
    sizes = [r.n_per_class for r in runs]
    n_max = max(max(sizes), 400 if paper else 0)
    grid = np.geomspace(min(sizes), max(sizes), 200)  # the fits are drawn where there are measurements, not beyond
    fig = go.Figure()
    regimes = by_regime(runs)
    for k, (regime, rs) in enumerate(regimes.items()):
        colour, title = COLOURS[regime], REGIME_TITLES[regime]
        c = curves.get(regime)
        if c is not None:
            # an unreliable fit is drawn thin and faint, without a band (a walk: drawn like a trusted fit beside
            # the sentence calling it unreliable)
            if not c.unreliable:
                lo, hi = c.band(grid)
                fig.add_trace(band(_x(grid, axis), lo, hi, colour, regime, opacity=0.18))
            fig.add_trace(
                go.Scatter(
                    x=_x(grid, axis),
                    y=c.predict(grid),
                    mode="lines",
                    line=dict(color=colour, width=1 if c.unreliable else 2),
                    opacity=0.45 if c.unreliable else 1.0,
                    name=f"{title}: fit" + (" (unreliable)" if c.unreliable else ""),
                    legendgroup=regime,
                    showlegend=False,
                    hovertemplate=f"{title} fit<br>n=%{{customdata:.1f}}: %{{y:.1f}}%<extra></extra>",
                    customdata=grid,
                )
            )
        n = np.array([r.n_per_class for r in rs], dtype=float)
        fig.add_trace(
            go.Scatter(
                x=dodged_x(n, k, len(regimes), axis),  # nudged sideways by regime; the hover gives the true n
                y=[r.test_error for r in rs],
                mode="markers",
                marker=dict(
                    color=colour,
                    symbol=SYMBOLS[regime],
                    size=[13 if r.key == selected else 8 for r in rs],
                    line=dict(width=[2.5 if r.key == selected else 0.5 for r in rs], color="black"),
                ),
                name=title,
                legendgroup=regime,
                showlegend=False,
                customdata=[r.key for r in rs],
                text=[f"n={r.n_per_class} per class, seed {r.seed}" for r in rs],
                hovertemplate=f"{title}<br>%{{text}}<br>error %{{y:.1f}}%<br>"
                "click for its training curve<extra></extra>",
            )
        )
        # One legend entry per regime, its symbol on its fit's line: a click hides the regime's points, fit and band
        # together. Two entries each (points, fit) took three rows, below the fold when presenting (a walk).
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers" if c is None else "lines+markers",
                line=dict(color=colour, width=1 if c is not None and c.unreliable else 2),
                marker=dict(color=colour, symbol=SYMBOLS[regime], size=8, line=dict(width=0.5, color="black")),
                name=title + (" (fit unreliable)" if c is not None and c.unreliable else ""),
                legendgroup=regime,
                hoverinfo="skip",
            )
        )
    top = max(r.test_error for r in runs)
    for (name, other), dash in zip((others or {}).items(), ("dash", "dashdot", "longdash"), strict=False):
        for k, (regime, (n, errors)) in enumerate(mean_errors(other).items()):
            top = max(top, *errors)
            fig.add_trace(
                go.Scatter(
                    x=_x(np.array(n, dtype=float), axis),
                    y=errors,
                    mode="lines+markers",
                    line=dict(color=COLOURS[regime], dash=dash, width=1.5),
                    marker=dict(symbol="x", size=7),
                    # the sweep's name once, as its entries' title (a walk read a 70-character name three times)
                    legendgroup=f"compared: {name}",
                    legendgrouptitle_text=name if k == 0 else None,
                    name=f"{REGIME_TITLES[regime]} (mean)",
                    hovertemplate=f"{name}<br>{REGIME_TITLES[regime]}: %{{y:.1f}}%<extra></extra>",
                )
            )
            n_max = max(n_max, *n)
    if paper:  # each published fit in its analogous regime's colour, dotted, over the sizes the paper measured
        # (a walk: drawn down to n = 1, the fits ran past 100% error, clipped flat, and read as total failure)
        paper_grid = np.geomspace(PAPER_N_MIN, PAPER_N, 200)
        top = max(top, *(float(np.max(PAPER_FITS[name].predict(paper_grid))) for name in PAPER_NAMES.values()))
        for k, ((regime, name), dash) in enumerate(zip(PAPER_NAMES.items(), PAPER_DASHES, strict=True)):
            fig.add_trace(
                go.Scatter(
                    x=_x(paper_grid, axis),
                    y=np.clip(PAPER_FITS[name].predict(paper_grid), 0.0, 100.0),
                    mode="lines",
                    line=dict(color=COLOURS[regime], dash=dash, width=1.5),
                    # the task named over the paper's lines, on the chart itself (a walk read "paper: From scratch"
                    # beside the digits points as if it were the same task)
                    legendgroup="paper",
                    legendgrouptitle_text=PAPER_TASK if k == 0 else None,
                    name=f"paper: {REGIME_TITLES[regime]} (n = {PAPER_N_MIN}-{PAPER_N})",  # the page's names
                    hovertemplate=f"{PAPER_TASK}<br>{REGIME_TITLES[regime]}: %{{y:.1f}}%<extra></extra>",
                )
            )
    ticks = [n for n in (1, 2, 5, 10, 20, 50, 100, 200, 400, 1000) if n <= n_max]
    if axis == "inv_sqrt":  # large n crowd towards 0 there: 200 and 1000 left out (a walk saw 100, 200, 400 overlap)
        ticks = [n for n in ticks if n not in (200, 1000)]
        xaxis = dict(
            title="n^-1/2 (n = training images per class; more data to the left)",
            tickvals=[t**-0.5 for t in ticks],
            ticktext=[str(t) for t in ticks],
            range=[0, 1.05],
        )
    else:
        xaxis = dict(title="training images per class (log scale)", type="log", tickvals=ticks)
        low = min(sizes)
        if n_max < 10 * low:  # a decade at the least: over one size the regimes' sideways nudge filled the axis
            centre = math.sqrt(low * n_max)
            lo, hi = centre / math.sqrt(10), centre * math.sqrt(10)
            xaxis.update(
                range=[math.log10(lo), math.log10(hi)],
                tickvals=[n for n in (1, 2, 5, 10, 20, 50, 100, 200, 400, 1000) if lo <= n <= hi],
            )
    fig.update_layout(
        xaxis=xaxis,
        yaxis=dict(title="test error (%)", range=[0, min(100.0, 1.1 * top)]),  # every curve drawn has its line
        height=440 + legend_height(fig),  # the plot keeps its height as compared sweeps and fits add legend rows
        margin=dict(l=10, r=10, t=30, b=40),
        legend=FOOT_LEGEND,
        clickmode="event+select",
    )
    return fig


NESTS = 8  # more than the regimes a sweep can have: a line's zorder stays above 0, the bands'


def _band_traces(
    fig: go.Figure, epochs: np.ndarray, values: np.ndarray, colour: str, name: str, dash: str, nest: int
) -> None:
    """The mean line of `values` over the seeds and, for several seeds, its band; `nest`: how many regimes' lines
    are drawn after this one, each thinner and in front of it, so a line lying on another shows inside it."""
    mean = values.mean(0)
    if len(values) > 1:
        fig.add_trace(band(epochs, values.min(0), values.max(0), colour, name, opacity=0.15))
    fig.add_trace(
        go.Scatter(
            x=epochs,
            y=mean,
            mode="lines+markers",
            line=dict(color=colour, dash=dash, width=1.5 + 2 * nest),
            marker=dict(size=6 + 3 * nest),
            name=name,
            legendgroup=name,
            zorder=NESTS - nest,  # every line over every band (at 0), the thinner ones in front
        )
    )


def training_curves_figure(runs: Sequence[Run], metric: str = "accuracy") -> go.Figure:
    """Loss or accuracy per epoch, train (dashed) and test (solid), for each regime among `runs`:
    the mean over the seeds given, with a band from the lowest to the highest seed. Each regime's lines are thinner
    than the ones before and drawn in front of them: a walk saw every regime's training accuracy at 100% from the
    second epoch, each line hiding the one under it (`lines_on_lines` says which lie on which)."""
    fig, longest = go.Figure(), 0
    regimes = {regime: [r for r in rs if r.history] for regime, rs in by_regime(runs).items()}
    regimes = {regime: rs for regime, rs in regimes.items() if rs}
    for k, (regime, rs) in enumerate(regimes.items()):
        length = min(len(r.history) for r in rs)
        longest = max(longest, length)
        epochs = np.arange(1, length + 1)
        for split, dash in (("train", "dash"), ("test", "solid")):
            values = np.array([[h.value(split, metric) for h in r.history[:length]] for r in rs])
            if metric == "accuracy":
                values = 100 * values
            name = f"{REGIME_TITLES[regime]} ({split})"
            _band_traces(fig, epochs, values, COLOURS[regime], name, dash, len(regimes) - 1 - k)
    fig.update_layout(
        xaxis=dict(title="epoch", dtick=1 if longest <= 20 else None),
        yaxis=dict(title="accuracy (%)" if metric == "accuracy" else "cross-entropy loss"),
        height=380,
        margin=dict(l=10, r=10, t=30, b=40),
        legend=FOOT_LEGEND,
    )
    return fig


ON_TOP = 0.005  # of the chart's value range: a line this close to another from some epoch on lies on it


def lines_on_lines(fig: go.Figure) -> str:
    """A sentence naming each of `fig`'s lines that lies on an earlier one (every point within ON_TOP of the chart's
    value range) from some epoch to its last, for at least half its epochs and two, and from which epoch; "" when
    none does."""
    lines = [t for t in fig.data if t.mode == "lines+markers" and t.y is not None and len(t.y) > 1]
    values = [float(v) for t in lines for v in t.y if math.isfinite(float(v))]
    span = (max(values) - min(values)) if values else 0.0
    said = []
    for j, later in enumerate(lines):
        for earlier in lines[:j]:
            n = min(len(later.y), len(earlier.y))  # both start at epoch 1
            close = [abs(float(later.y[e]) - float(earlier.y[e])) <= ON_TOP * span for e in range(n)]
            start = n
            while start > 0 and close[start - 1]:
                start -= 1
            if n == len(later.y) and n - start >= max(2, math.ceil(n / 2)):
                since = "" if start == 0 else f" from epoch {start + 1}"
                said.append(f"“{later.name}” lies on “{earlier.name}”{since}")
                break
    if not said:
        return ""
    return (
        f"{'; '.join(said)}. Each regime's lines are drawn thinner than the ones before it and in front of them, so "
        "a line lying on another shows inside it."
    )
