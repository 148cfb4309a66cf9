"""The live training loop's four panels: loss and accuracy per step with each epoch's train and test values,
the learning rate per step (StepLR's staircase, or the flat line of a forgotten `lr_scheduler.step()`), and each
layer's gradient norm."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explain.figures.charts import FOOT_LEGEND, PALETTE, depth_colours
from explain.figures.compare import Curve
from models.experiments.lecture_loop import LoopHistory


def loop_figure(h: LoopHistory, steps_per_epoch: int) -> go.Figure:
    """2 x 2 panels over training steps; epoch values sit at the step that ends their epoch."""
    fig = make_subplots(
        rows=2,
        cols=2,
        vertical_spacing=0.14,
        horizontal_spacing=0.08,
        subplot_titles=("Loss", "Accuracy", "Learning rate", "Gradient norm per layer"),
    )
    ends = [e * steps_per_epoch for e in h.epoch]
    for col, (per_step, train, test) in enumerate(
        ((h.loss, h.train_loss, h.test_loss), (h.accuracy, h.train_accuracy, h.test_accuracy)), start=1
    ):
        first = col == 1
        fig.add_scatter(
            x=h.step,
            y=per_step,
            mode="lines",
            line=dict(color=PALETTE[0], width=1),
            opacity=0.45,
            name="each batch",
            legendgroup="batch",
            showlegend=first,
            row=1,
            col=col,
        )
        fig.add_scatter(
            x=ends,
            y=train,
            mode="lines+markers",
            line=dict(color=PALETTE[0], width=2),
            name="train (mean over the epoch, while it trained)",
            legendgroup="train",
            showlegend=first,
            row=1,
            col=col,
        )
        fig.add_scatter(
            x=ends,
            y=test,
            mode="lines+markers",
            line=dict(color=PALETTE[1], width=2),
            name="test (after the epoch)",
            legendgroup="test",
            showlegend=first,
            row=1,
            col=col,
        )
    fig.add_scatter(
        x=h.step,
        y=h.lr,
        mode="lines",
        line=dict(color=PALETTE[2], shape="hv"),
        name="learning rate",
        showlegend=False,
        row=2,
        col=1,
    )
    for (name, norms), colour in zip(h.grad_norms.items(), depth_colours(len(h.grad_norms)), strict=True):
        fig.add_scatter(
            x=h.step,
            y=norms,
            mode="lines",
            line=dict(width=1, color=colour),
            name=name,
            legend="legend2",  # beside its panel: in the main legend its column pushed the charts down (a walk)
            legendgroup="grads",
            legendgrouptitle_text="layers, input to output",
            legendgrouptitle_font=dict(weight="bold"),  # apart from the entry before it (a walk read one label)
            row=2,
            col=2,
        )
    fig.update_yaxes(type="log", dtick=1, exponentformat="power", row=2, col=2)  # decades only: 0.1, 1, 10
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)  # in percent, as the numbers beside it
    fig.update_yaxes(rangemode="tozero", row=2, col=1, exponentformat="e")
    for col in (1, 2):
        fig.update_xaxes(title_text="step", row=2, col=col)
    fig.update_layout(
        height=680,
        margin=dict(l=10, r=10, t=40, b=40),
        legend=FOOT_LEGEND,  # under the axis titles (a walk: over them, back on the page, from a hidden tab)
        legend2=dict(groupclick="toggleitem", orientation="v", x=1.01, xanchor="left", y=0, yanchor="bottom"),
    )
    return fig


def epoch_rates(h: LoopHistory, steps_per_epoch: int) -> list[float]:
    """The rate each epoch trained at: its last step's."""
    return [h.lr[e * steps_per_epoch - 1] for e in h.epoch]


MAX_RATE_TICKS = 6


def rate_ticks(curves: list[list[float]]) -> dict:
    """Axis ticks for learning rates: at the rates the runs trained at ("0.001", "0.0005", "0.00025": the halvings a
    StepLR makes; two significant figures, never in e-notation), and 0, when there are at most MAX_RATE_TICKS of them;
    else evenly spaced, two significant figures."""
    rates = sorted({float(f"{r:.6g}") for curve in curves for r in curve})
    if 0 < len(rates) <= MAX_RATE_TICKS:
        ticks = [0.0, *(r for r in rates if r > 0)]
        text = [np.format_float_positional(t, precision=2, fractional=False, trim="-") for t in ticks]  # no "7.5e-05"
        return {"tickvals": ticks, "ticktext": text}
    return {"tickformat": ".2g"}


def scheduler_figure(stepped: LoopHistory, forgotten: LoopHistory, steps_per_epoch: int) -> go.Figure:
    """The two runs of a scheduler comparison on one chart: test accuracy, test loss and the rate each epoch trained
    at (its last step's), solid with `lr_scheduler.step()`, dashed with it forgotten."""
    # room between the panels for the rate's tick labels ("0.000075" ran into the loss panel at 1280 px: a walk)
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.13, subplot_titles=("Test accuracy", "Test loss", "Rate"))
    for h, name, dash in ((stepped, "with lr_scheduler.step()", "solid"), (forgotten, "step forgotten", "dash")):
        rates = epoch_rates(h, steps_per_epoch)
        for col, values in enumerate((h.test_accuracy, h.test_loss, rates), start=1):
            fig.add_scatter(
                x=h.epoch,
                y=values,
                mode="lines+markers",
                line=dict(color=PALETTE[0] if dash == "solid" else PALETTE[1], dash=dash),
                name=name,
                legendgroup=name,
                showlegend=col == 1,
                row=1,
                col=col,
            )
    epochs = max([*stepped.epoch, *forgotten.epoch, 1])
    for col in (1, 2, 3):  # at most about six epoch ticks a panel (twenty, one per epoch, ran together: a walk)
        fig.update_xaxes(title_text="epoch", dtick=max(1, math.ceil(epochs / 6)), row=1, col=col)
    top = max([*stepped.lr, *forgotten.lr, 0.0])
    fig.update_yaxes(tickformat=".0%", row=1, col=1)  # in percent, as the sentence under the chart
    fig.update_yaxes(range=[0, 1.15 * top], row=1, col=3)  # a constant rate is a line at its value
    fig.update_yaxes(row=1, col=3, **rate_ticks([epoch_rates(h, steps_per_epoch) for h in (stepped, forgotten)]))
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10), legend=FOOT_LEGEND)
    return fig


def loop_curve(history: LoopHistory, run: str, arm: str = "") -> Curve:
    """A lecture-loop run's test accuracy and loss per epoch, for comparing it with the visitor's other runs."""
    return Curve(
        run,
        arm,
        tuple(history.epoch),
        {"Test accuracy": tuple(history.test_accuracy), "Test loss": tuple(history.test_loss)},
    )
