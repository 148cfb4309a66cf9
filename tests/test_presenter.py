"""Presenter mode's pictures: figures' text enlarged without touching the page's own figure, box labels sized to
the image and readable over each other, the map alone in the colours of the colour bar (in a real browser at
1280 x 720: tests/test_browser.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from explain.figures.charts import for_projector
from explain.figures.render import colorize, label_style, upsample


def test_for_projector_enlarges_every_text_of_a_copy():
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))
    fig.update_layout(height=300, title=dict(text="t", font=dict(size=14)), xaxis_title="x")
    fig.add_annotation(x=0, y=0, text="a", font=dict(size=10))
    big = for_projector(fig, 1.5)
    assert big.layout.font.size == 18 and big.layout.title.font.size == 21
    assert big.layout.annotations[0].font.size == 15 and big.layout.xaxis.tickfont.size == pytest.approx(16.2)
    assert big.layout.height == 390  # room for the text, at most 1.3x taller
    assert fig.layout.font.size is None and fig.layout.annotations[0].font.size == 10  # the original is untouched


def test_for_projector_moves_a_legend_from_under_the_axes_to_the_top():
    """At 1280 x 720 the legends under BatchNorm's and Transfer's first charts were below the screen (a walk): the
    projector's copy names the lines at the top, except where subplot titles are there already."""
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], name="run")).update_layout(
        height=300, legend=dict(orientation="h", y=-0.25, x=0)
    )
    big = for_projector(fig)
    assert (big.layout.legend.yref, big.layout.legend.y, big.layout.legend.yanchor) == ("container", 1, "top")
    assert fig.layout.legend.y == -0.25  # the page's own figure keeps its legend below
    # over subplot titles (the training loop's: a lecturer's walk met its legend 1,000 px down), with room for both
    titled = go.Figure(fig).add_annotation(text="with BatchNorm", x=0.5, y=1.0, xref="paper", yref="paper")
    big = for_projector(titled)
    assert big.layout.legend.y == 1 and big.layout.margin.t >= 18 * 1.5 + 18 * 1.6  # a row of legend, the titles
    assert big.layout.height == 390 + big.layout.margin.t  # the plots keep their height
    assert for_projector(go.Figure(fig).update_layout(title="PR curve")).layout.legend.y == -0.25  # or the title
    side = go.Figure(fig).update_layout(legend=dict(orientation="v", y=1, x=1.02))
    assert for_projector(side).layout.legend.y == 1 and for_projector(side).layout.legend.yref is None
    # a legend at the figure's foot in pixels (the training loop's, since a walk saw one placed in the plot's height
    # rise onto the axis titles after the chart was drawn in a hidden tab) goes to the top too
    foot = go.Figure(fig).update_layout(legend=dict(orientation="h", yref="container", y=0, yanchor="bottom"))
    assert (for_projector(foot).layout.legend.y, for_projector(foot).layout.legend.yanchor) == (1, "top")


def test_a_projectors_colour_bars_have_larger_numbers():
    """A walk measured the colour bars' numbers at 10-12 px when presenting (Detection's RoIAlign, Grad-CAM alone):
    a trace's colour bar and a colour axis's are enlarged with the axes' ticks; the page's figure is untouched."""
    fig = go.Figure(go.Heatmap(z=[[0, 1], [1, 0]])).update_layout(
        coloraxis=dict(colorbar=dict(title="p")), font=dict(size=12)
    )
    big = for_projector(fig, 1.5)
    assert big.data[0].colorbar.tickfont.size == 18 * 0.9 and big.layout.coloraxis.colorbar.tickfont.size == 18 * 0.9
    assert big.layout.coloraxis.colorbar.title.font.size == 18
    assert fig.data[0].colorbar.tickfont.size is None


def test_the_training_loops_legend_sits_at_the_figures_foot_in_pixels():
    """A walk: after leaving Build and coming back, the loop's legend (placed at y=-0.12 of the plot's height) sat on
    the lower charts' "step" titles until the window was resized: the chart had been laid out in a hidden tab. Placed
    at the figure's foot in container pixels, with the bottom margin kept for it, it stays under them (checked in a
    browser: the same position after the run and back on the page)."""
    from explain.figures.training_loop import loop_figure
    from models.experiments.lecture_loop import LectureLoop, LoopConfig

    loop = LectureLoop(LoopConfig(setup="digits", epochs=1))
    loop.advance(2)
    layout = loop_figure(loop.history, loop.steps_per_epoch).layout
    assert (layout.legend.yref, layout.legend.y, layout.legend.yanchor) == ("container", 0, "bottom")
    assert layout.margin.b >= 40  # the legend's row, under the axis titles


def test_a_projectors_title_keeps_its_second_line_readable_and_clear_of_the_plot():
    """A lecturer's walk: a map's 13-px subtitle stayed 13 px on the projector and the map drew over it."""
    from explain.figures.charts import legend_rows, map_figure, subtitle

    fig = map_figure(np.zeros((4, 4)), "absolute", "the map alone" + subtitle("0 = no evidence"))
    big = for_projector(fig)
    assert "font-size:20px" in big.layout.title.text and "font-size:13px" in fig.layout.title.text
    assert big.layout.margin.t == round(fig.layout.margin.t * 1.5)
    assert big.layout.height == round(fig.layout.height * 1.3) + big.layout.margin.t - fig.layout.margin.t
    many = go.Figure([go.Scatter(x=[0], y=[0], name=f"a rather long legend entry {i}") for i in range(12)])
    assert legend_rows(many, 18) >= 3 and legend_rows(go.Figure(go.Scatter(name="one")), 18) == 1


def test_box_labels_are_sized_to_the_image_on_a_contrasting_band():
    # (a portrait 640 x 480 here, where the shorter side rules; a landscape one is the width's case below)
    small, large = label_style("#ffe119", 224, 224), label_style(["#ffe119", "#4363d8"], 640, 480, scale=1.5)
    assert Path(small["font"]).is_file() and small["font_size"] == 12  # never below 12 pixels
    assert large["font_size"] == round(16 * 1.5)  # 1/30 of the shorter side, times presenter mode's scale
    # at least 12 pixels once shown 400 px wide: a walk measured 8-px labels on a 600 x 400 photo (coffee)
    assert label_style("#ffe119", 400, 600)["font_size"] == 18
    assert label_style("#ffe119", 64, 1024)["font_size"] == 16  # a wide strip: no more than a quarter of its height
    assert small["fill_labels"] and small["label_colors"] == "black" and large["label_colors"] == ["black", "white"]


def test_the_map_alone_is_the_map_in_the_colour_bar_colours():
    from explain import attribution_views
    from models import load_classifier

    _, info = load_classifier("shapes-resnet18")
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (80, 100, 3), dtype=np.uint8))
    heat = np.random.default_rng(1).standard_normal((64, 64))
    seen, views = attribution_views({"m": heat}, image, info.preprocess, "signed", 95.0, 0.5)
    view = views["m"]
    assert np.array_equal(view.picture(alone=True), colorize(upsample(view.heat, seen.shape[:2]), "signed"))
    assert np.array_equal(view.picture(alone=False), view.overlay) and view.alone.shape == seen.shape


def test_no_figure_uses_a_colour_streamlit_replaces_with_its_theme() -> None:
    """Streamlit's chart element replaces the colours #000001 to #000024 anywhere in a figure's JSON with its theme's
    (they are its placeholders); Plotly's Inferno starts at #000004, so a map's zero ('no evidence') was drawn pink
    in Detection's 'the map alone'. The maps' scale, its lookup table and the figures drawn with it avoid them."""
    import re

    from explain.figures.charts import colorbar, map_figure
    from explain.figures.render import COLORSCALES, colormap_lut

    placeholder = re.compile(r"#0000(0[1-9]|1\d|2[0-4])\b", re.IGNORECASE)
    m = np.linspace(-1, 1, 64).reshape(8, 8)
    for mode in COLORSCALES:
        for fig in (map_figure(m, mode, "map"), colorbar(mode, 99.0), colorbar(mode, 99.0, 0.7)):
            own = go.Figure(fig).update_layout(template=None)  # Streamlit's own template uses them, on purpose
            assert not placeholder.search(own.to_json()), mode
    assert tuple(colormap_lut("absolute")[0]) == (0, 0, 0)  # zero is black, as Inferno's is
