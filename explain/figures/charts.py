"""Plotly figures shared by the pages; pages only place them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from explain.methods.classify import Prediction
from models.text import percent

if TYPE_CHECKING:
    from explain.methods.occlusion import OcclusionMaps
    from models.experiments.batchnorm import BNHistory

PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B", "#B279A2", "#FF9DA6", "#9D755D", "#BAB0AC")


def series_colours(k: int) -> list[str]:
    """A distinct colour for each of `k` series: PALETTE's ten, or Plotly's 24-colour Dark24 for more (a walk found
    two of 13 attribution methods sharing each of three colours when PALETTE was cycled), cycled past 24."""
    from plotly.express.colors import qualitative

    colours = PALETTE if k <= len(PALETTE) else qualitative.Dark24
    return [colours[i % len(colours)] for i in range(k)]


def depth_colours(k: int) -> list[str]:
    """A colour for each of `k` layers from input to output along Viridis, dark purple to green (its pale yellow end,
    faint on white, left off), so depth reads from the colour (a walk found three layers in near reds)."""
    from plotly.colors import sample_colorscale

    return sample_colorscale("Viridis", [0.8 * i / max(k - 1, 1) for i in range(k)])


def top_k_bar(predictions: Sequence[Prediction], title: str = "") -> go.Figure:
    """A horizontal bar chart of class probabilities, the most probable class on top."""
    preds = list(reversed(predictions))
    fig = go.Figure(
        go.Bar(
            x=[p.probability for p in preds],
            y=[p.label for p in preds],
            orientation="h",
            text=[percent(p.probability) for p in preds],
            # beside short bars, always: "auto" left the label off a bar thinner than a pixel, so some near-zero
            # rows said "0.0%" and others nothing (a walk)
            textposition=["inside" if p.probability >= 0.2 else "outside" for p in preds],
            textangle=0,  # a thin bar's label was turned on its side (a walk); it goes beside the bar instead
            cliponaxis=False,
            marker_color="#4C78A8",
        )
    )
    ticks = [i / 5 for i in range(6)]  # 0% to 100%: a walk saw the ticks stop at 80% beside bars of 89-100%
    fig.update_layout(
        title=title or None,
        xaxis=dict(title="probability", range=[0, 1], tickvals=ticks, tickformat=".0%"),
        # class names as names: a digits network's "0".."9" were read as numbers and its bars drawn between ticks
        yaxis=dict(automargin=True, type="category"),
        height=80 + 44 * len(preds),
        # room right of the axis for half the '100%' label: with 10 px Plotly left it off (a walk, again)
        margin=dict(l=10, r=30, t=40 + 20 * title.count("<br>") if title else 10, b=40),  # a line per title line
    )
    return fig


SUBTITLE_PX = 13


def subtitle_style(px: int) -> str:
    return f"font-size:{px}px;font-weight:normal"


SUBTITLE_STYLE = subtitle_style(SUBTITLE_PX)


def subtitle(text: str) -> str:
    """A Plotly title's second line at a readable 13 px (`<sup>` drew it at about 9 px, walks found; `for_projector`
    enlarges it), to append to the title's text."""
    return f"<br><span style='{SUBTITLE_STYLE}'>{text}</span>"


# A horizontal legend at the figure's foot, in container pixels (Plotly moves the plot's bottom margin up to make room
# for it). Placed in the plot's own height instead (paper y < 0), a legend moved with the plot area, which a long
# legend shrinks (a walk: Transfer's axis title over its legend once a sweep was compared) and which a chart first
# laid out in a hidden tab has wrong until the window is resized (a walk: Build's loop legend over its axis titles).
FOOT_LEGEND = dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0)


def legend_height(fig: go.Figure, font_px: float = 12, width: float = 800) -> int:
    """About how many pixels a horizontal legend of `fig` takes at `font_px` across `width` pixels, on the side of too
    many: its untitled entries packed in rows, and each titled group (Plotly stacks a group's entries) its title and
    entries a row each."""
    shown = [t for t in fig.data if t.legend in (None, "legend") and t.showlegend is not False and t.name]
    titled = {t.legendgroup for t in fig.data if t.legendgroup and t.legendgrouptitle and t.legendgrouptitle.text}
    loose = go.Figure([t for t in shown if t.legendgroup not in titled])
    rows = legend_rows(loose, font_px, width) if loose.data else 0
    rows += sum(1 + sum(t.legendgroup == g for t in shown) for g in titled)
    return round(rows * font_px * 1.7 + 10 * len(titled))


def legend_rows(fig: go.Figure, font_px: float, width: float = 1050) -> int:
    """How many rows a horizontal legend of `fig` takes at `font_px` across `width` pixels (a presenting page's
    chart), estimated from its entries' lengths on the side of too many."""
    main = [t for t in fig.data if t.legend in (None, "legend")]  # not a second legend's entries
    entries = [t.name for t in main if t.showlegend is not False and t.name]
    titles = {t.legendgrouptitle.text for t in main if t.legendgrouptitle and t.legendgrouptitle.text}
    rows, used = 1, 0.0
    for w in [len(n) * font_px * 0.6 + 45 for n in entries] + [len(t) * font_px * 0.65 + 20 for t in titles]:
        if used and used + w > width:
            rows, used = rows + 1, 0.0
        used += w
    return rows


def colorbar(mode: str, percentile: float, alpha: float | None = None, explained: bool = True) -> go.Figure:
    """The one colour bar all attribution panels share, drawn from the very lookup table the panels use: the map's
    value as a fraction of its percentile. With the overlay's `alpha`, drawn as the overlay blends it (over a mid
    grey standing for the image): each value's colour at the opacity it gets, so 0 shows the image, not black; the
    line saying so is left out where not `explained` (presenter mode, whose maps it kept below a 720-px screen)."""
    from explain.figures.render import colorize, overlay

    lo = -1.0 if mode == "signed" else 0.0
    values = np.linspace(lo, 1, 256)
    if alpha is None:
        strip = np.repeat(colorize(values[None, :], mode), 12, axis=0)
    else:
        grey = np.full((12, 256, 3), 128, np.uint8)
        strip = overlay(grey, np.repeat(values[None, :], 12, axis=0), mode, alpha)
    step = (1 - lo) / 255  # square pixels in data units, or Plotly squeezes the strip
    fig = go.Figure(go.Image(z=strip, x0=lo, dx=step, y0=0, dy=step, hoverinfo="skip"))
    said = alpha is not None and explained
    fig.update_layout(
        height=128 if said else 100,
        margin=dict(l=10, r=10, t=58 if said else 30, b=30),
        title=dict(
            text=f"{mode} attribution, divided by each map's {percentile:g}th percentile of |value|"
            + (
                ""
                if not said
                else subtitle(
                    f"drawn over the image in grey at opacity {alpha:g} x |value|; the grey here stands for the image, "
                    "which shows through where the value is 0"
                )
            ),
            x=0,
        ),
        yaxis=dict(visible=False),
        xaxis=dict(tickvals=[lo, 0, 1] if mode == "signed" else [0, 0.5, 1], showgrid=False),
    )
    return fig


def map_figure(m: np.ndarray, mode: str, title: str) -> go.Figure:
    """One normalised map (from `to_map`) alone, in its mode's colour scale, with a colour bar: readable
    whatever the colours of the image it explains."""
    import plotly.express as px

    from explain.figures.render import plotly_scale

    lo = -1.0 if mode == "signed" else 0.0
    fig = px.imshow(m, color_continuous_scale=plotly_scale(mode), zmin=lo, zmax=1.0, title=title)
    fig.update_xaxes(visible=False).update_yaxes(visible=False)
    return fig.update_layout(margin=dict(l=10, r=10, t=40 + 15 * title.count("<br>"), b=10), height=360)


def sanity_chart(results: dict[str, Sequence], metrics: Sequence[str] = ("spearman", "ssim")) -> go.Figure:
    """Each of `metrics` (by default Spearman rank correlation and SSIM) to the original map, one panel each, two
    panels a row, every method a line of its own colour in each, as the model is randomised block by block from the
    output down. A panel per metric, not a line style: a walk met 26 lines on one chart for 13 methods, with a legend
    to scroll; the legend now names each method once, and clicking it hides that method in every panel."""
    from plotly.subplots import make_subplots

    from explain.methods.sanity import METRICS

    if not metrics:
        raise ValueError("choose at least one similarity metric to draw")
    cols = min(2, len(metrics))
    rows = -(-len(metrics) // cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        specs=[[{} if r * cols + c < len(metrics) else None for c in range(cols)] for r in range(rows)],  # no empty one
        shared_yaxes=True,
        subplot_titles=[METRICS[m] for m in metrics],
        vertical_spacing=0.25 if rows > 1 else 0.1,  # room for the upper row's layer names
        horizontal_spacing=0.04,
    )
    for colour, (title, steps) in zip(series_colours(len(results)), results.items(), strict=True):
        x = [s.layer for s in steps]
        # a constant map's similarity means nothing: no point, the line broken there, and the legend says so (drawn
        # at its 0 it was the lowest line, read by a walk as the method that passed best)
        flat = [s.layer for s in steps if s.constant]
        listed = ", ".join(flat[:3]) + (f" and {len(flat) - 3} more" if len(flat) > 3 else "")
        name = f"{title} (map constant at {listed}: not drawn)" if flat else title
        for i, metric in enumerate(metrics):
            fig.add_scatter(
                x=x,
                y=[None if s.constant else getattr(s, metric) for s in steps],
                name=name,
                legendgroup=title,
                showlegend=i == 0,
                mode="lines+markers",
                line=dict(color=colour),
                marker=dict(size=7),
                hovertemplate=f"{title}<br>{METRICS[metric]}: %{{y:.2f}}<extra>%{{x}}</extra>",
                row=i // cols + 1,
                col=i % cols + 1,
            )
    values = [getattr(s, m) for steps in results.values() for s in steps for m in metrics if not s.constant]
    fig.update_xaxes(tickangle=-45)  # layer names: slanted
    fig.update_xaxes(title_text="randomised down to (cumulative, from the output)", row=rows)
    fig.update_yaxes(range=[min([-0.2, *values]) - 0.05, 1.05])
    fig.update_yaxes(title_text="similarity to the original map", col=1)
    # The legend under the panels (beside them it scrolled at 13 methods), in the bottom margin, below the slanted
    # layer names and the axis title (about 100 px, given to them outright, not pushed for: their pushes and the
    # legend's would overlap)
    legend_rows = -(-len(results) // 5)  # about five names a row at a page's width
    bottom = 100 + 24 * legend_rows
    fig.update_xaxes(automargin=False)
    fig.update_layout(
        height=300 * rows + 40 + bottom,
        margin=dict(l=10, r=10, t=40, b=bottom),
        legend=dict(orientation="h", yref="container", yanchor="bottom", y=0, x=0),
    )
    return fig


def deletion_insertion_chart(curves: dict) -> go.Figure:
    """Deletion (left) and insertion (right) curves of every method on shared axes."""
    from plotly.subplots import make_subplots

    # Every curve starts from the same image (the image itself; RISE's blurred copy), and a steep first step made
    # them look as if they started apart (a walk): their one start is marked, and named under each panel's title (a
    # label beside the point lay across the curves rising from it: a later walk).
    first, mark = next(iter(curves.values()), None), "#808080"  # grey: seen on the light and the dark theme alike
    starts = [] if first is None else [(first.deletion[0], "the image"), (first.insertion[0], "its blurred copy")]
    titles = ["Deletion (lower is better)", "Insertion (higher is better)"]
    for i, (start, what) in enumerate(starts):
        titles[i] += (
            f"<br><span style='font-size:12px'>● every curve starts at {what}, {percent(float(start), 0)}</span>"
        )
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles)
    for colour, (title, c) in zip(series_colours(len(curves)), curves.items(), strict=True):
        fig.add_scatter(x=c.fractions, y=c.deletion, name=title, line=dict(color=colour), row=1, col=1)
        fig.add_scatter(
            x=c.fractions, y=c.insertion, name=title, line=dict(color=colour), showlegend=False, row=1, col=2
        )
    for col, (start, what) in enumerate(starts, start=1):
        fig.add_scatter(
            x=[0],
            y=[start],
            mode="markers",
            marker=dict(color=mark, size=9),
            showlegend=False,
            row=1,
            col=col,
            hovertemplate=f"every curve starts here: {what}, {percent(float(start))}<extra></extra>",
        )
    fig.update_xaxes(title_text="fraction of pixels", range=[-0.02, 1])
    fig.update_yaxes(range=[0, 1.02])
    fig.update_yaxes(title_text="class probability", col=1)
    fig.update_layout(height=400 if starts else 380, margin=dict(l=10, r=10, t=60 if starts else 40, b=10))
    return fig


def occlusion_figures(
    maps: OcclusionMaps, categories: Sequence[str], target: int, caption: str, window: int = 0
) -> tuple[go.Figure, go.Figure, go.Figure]:
    """Zeiler & Fergus' Figure 7 panels: (b) feature-map activation, (d) class probability, (e) top label, one cell
    per position of the grey square, placed at the square's centre in the image's pixels (axes in pixels, y down, one
    pixel as wide as tall), with the colour bar under the map so the map keeps the panel's width."""
    import plotly.express as px

    ys, xs = (np.asarray(c, float) + (window - 1) / 2 for c in maps.corners)  # pixels c..c+w-1: centre c+(w-1)/2

    def cells(z, title, **kw):
        fig = px.imshow(z, x=xs, y=ys, title=title, labels=dict(x="x (pixels)", y="y (pixels)", color=""), **kw)
        fig.update_coloraxes(colorbar=dict(orientation="h", y=-0.22, yanchor="top", thickness=12, len=0.9))
        return fig.update_layout(height=470, margin=dict(l=10, r=10, t=60, b=70), title=dict(font=dict(size=15)))

    # lettered as the paper's Figure 7 letters them (a review: our (a)-(c) were its (b), (d) and (e))
    a = cells(maps.activation, f"(b) total activation{subtitle(caption)}", color_continuous_scale="Viridis")
    b = cells(maps.probability, f"(d) p({categories[target]})", zmin=0, zmax=1, color_continuous_scale="Viridis")
    seen = np.unique(maps.label)  # the classes that occur, as 0..k-1, each with a colour band of its own
    codes = np.searchsorted(seen, maps.label)
    k = len(seen)
    colours = series_colours(k)
    scale = [[edge, colour] for i, colour in enumerate(colours) for edge in (i / k, (i + 1) / k)]
    c = cells(codes, "(e) most probable class", zmin=-0.5, zmax=k - 0.5, color_continuous_scale=scale)
    names = np.vectorize(lambda i: categories[i])(maps.label)
    c.update_traces(customdata=names, hovertemplate="%{customdata}<extra></extra>")
    c.update_coloraxes(
        colorbar=dict(tickvals=list(range(k)), ticktext=[categories[i] for i in seen], title=None, orientation="h")
    )
    return a, b, c


def bn_accuracy_chart(history: BNHistory) -> go.Figure:
    """Figure 1a: test accuracy against training steps, without and with BatchNorm (both evaluations)."""
    fig = go.Figure()
    fig.add_scatter(x=history.steps, y=history.acc_plain, name="without BatchNorm", line=dict(color=PALETTE[0]))
    fig.add_scatter(
        x=history.steps, y=history.acc_bn_batch, name="with BatchNorm (batch statistics)", line=dict(color=PALETTE[1])
    )
    fig.add_scatter(
        x=history.steps,
        y=history.acc_bn_running,
        name="with BatchNorm, eval mode (running statistics)",
        line=dict(color=PALETTE[2], dash="dot"),
    )
    fig.update_layout(
        xaxis_title="training step",
        yaxis=dict(title="test accuracy", range=[0, 1.02], tickformat=".0%"),
        height=380,
        margin=dict(l=10, r=10, t=30, b=10),
        legend=FOOT_LEGEND,
    )
    return fig


def bn_distribution_chart(history: BNHistory, unit: int, conv: bool = False) -> go.Figure:
    """Figures 1b and 1c: the 15th, 50th and 85th percentiles of one unit's input over training; for a conv net
    (`conv`), the unit is a channel's centre pixel, and the axis says so (a fidelity review)."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=("without BatchNorm", "with BatchNorm"))
    for col, pct in ((1, history.pct_plain), (2, history.pct_bn)):
        p = np.asarray(pct)
        # the band's two edges in two styles (a walk could not tell the 15th from the 85th in the legend)
        for k, (name, dash) in enumerate((("15th", "dash"), ("50th", "solid"), ("85th", "dot"))):
            fig.add_scatter(
                x=history.steps,
                y=p[:, k],
                name=f"{name} percentile",
                line=dict(color=PALETTE[3], dash=dash),
                showlegend=col == 1,
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="training step")
    what = f"channel {unit}'s centre pixel" if conv else f"hidden unit {unit}"
    fig.update_yaxes(title_text=f"input to {what}'s nonlinearity", col=1)
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10), legend=FOOT_LEGEND)
    return fig


def precision_recall_chart(curves: dict[str, tuple[np.ndarray, np.ndarray]], iou: float) -> go.Figure:
    """COCO's interpolated precision against recall, one line per curve (name -> (recall, precision))."""
    fig = go.Figure()
    for colour, (name, (recall, precision)) in zip(series_colours(len(curves)), curves.items(), strict=True):
        fig.add_trace(
            go.Scatter(
                x=recall,
                y=precision,
                mode="lines",
                name=name,
                line=dict(color=colour, width=2, shape="hv"),
            )
        )
    fig.update_layout(
        # which detections the lines are of, in the title (a walk read this image's flat line as the set's)
        title=f"Precision against recall at IoU {iou:.2f} (pycocotools, averaged over classes): {' and '.join(curves)}",
        xaxis=dict(title="recall", range=[0, 1.02]),
        yaxis=dict(title="precision", range=[0, 1.05]),
        height=340,
        margin=dict(l=10, r=10, t=40, b=40),
        legend=FOOT_LEGEND,
    )
    return fig


def _top_margin(fig: go.Figure, top: int) -> None:
    """Set `fig`'s top margin to `top` px; a fixed-height figure grows by what that adds, so its plot keeps its
    height."""
    before = fig.layout.margin.t or 0
    fig.update_layout(margin_t=top, height=fig.layout.height and fig.layout.height + top - before)


def for_projector(fig: go.Figure, scale: float = 1.5) -> go.Figure:
    """A copy of `fig` with its text `scale` times larger, every size set explicitly (the default font, titles, axis
    titles and ticks, legend, annotations; the page's theme would otherwise keep its own small tick and title sizes)
    and, for a fixed-height figure, room for them: what presenter mode shows on a projector."""
    out = go.Figure(fig)
    layout = out.layout
    base = (layout.font.size or 12) * scale

    def bigger(font, default: float) -> None:
        font.size = font.size * scale if font.size else default

    out.update_layout(font_size=base)
    bigger(layout.title.font, base * 1.2)
    bigger(layout.legend.font, base)
    if "legend2" in layout:  # a second legend (the training loop's layers, beside their panel)
        bigger(layout.legend2.font, base)
    for annotation in layout.annotations:
        bigger(annotation.font, base)
    for axis in [*out.select_xaxes(), *out.select_yaxes()]:
        bigger(axis.title.font, base)
        bigger(axis.tickfont, base * 0.9)
    # colour bars' numbers too (a walk measured Detection's RoIAlign and Grad-CAM bars at 10-12 px when presenting)
    bars = [t.colorbar for t in out.data if hasattr(t, "colorbar")] + [a.colorbar for a in out.select_coloraxes()]
    for bar in bars:
        bigger(bar.tickfont, base * 0.9)
        bigger(bar.title.font, base)
    if layout.height:
        out.update_layout(height=round(layout.height * min(scale, 1.3)))
    if layout.title.text and layout.margin.t:  # the title's room grows with its text (a walk: a subtitle under a map)
        _top_margin(out, round(layout.margin.t * scale))
    if SUBTITLE_STYLE in (layout.title.text or ""):  # a title's second line, fixed in pixels: larger too
        layout.title.text = layout.title.text.replace(SUBTITLE_STYLE, subtitle_style(round(SUBTITLE_PX * scale)))
    legend = layout.legend  # under the axes: below the plot area, or at the figure's foot (container-referenced)
    at_foot = all(legend[k] == FOOT_LEGEND[k] for k in ("yref", "y", "yanchor"))
    below = legend.orientation == "h" and legend.y is not None and (legend.y < 0 or at_foot)
    subplots = any(a.y is not None and a.y >= 1 for a in layout.annotations)  # their titles, where a legend would go
    if below and not layout.title.text and not any(axis.automargin is False for axis in out.select_xaxes()):
        # a legend under the axes moves to the top of the figure, where it is on the screen with the chart's first
        # lines (a walk at 1280 x 720: BatchNorm's three runs and Transfer's regimes were named below the screen; a
        # lecturer's walk: the training loop's lines on the first screen with their legend 1,000 px down); not over
        # a title (a review: the PR curve's)
        out.update_layout(legend=dict(yref="container", y=1, yanchor="top", x=0, xanchor="left"))
        if subplots:  # room above the subplot titles for the legend's rows, estimated on the side of too many
            _top_margin(out, round(legend_rows(out, base) * (base * 1.5 + 6) + base * 1.6 + 16))
    if any(axis.automargin is False for axis in out.select_xaxes()) and layout.margin.b:
        # a bottom margin set outright for the text below the axes (sanity_chart's legend): it grows with the text
        out.update_layout(margin_b=round(layout.margin.b * scale), height=out.layout.height + layout.margin.b // 2)
    return out
