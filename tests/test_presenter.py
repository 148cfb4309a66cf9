"""Presenter mode's pictures: figures' text enlarged without touching the page's own figure, box labels sized to
the image and readable over each other, the map alone in the colours of the colour bar, and (in a real browser at
1280 x 720) the first map above the fold with its full-screen button in view."""

from __future__ import annotations

import os
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


def test_box_labels_are_sized_to_the_image_on_a_contrasting_band():
    small, large = label_style("#ffe119", 224, 224), label_style(["#ffe119", "#4363d8"], 480, 640, scale=1.5)
    assert Path(small["font"]).is_file() and small["font_size"] == 12  # never below 12 pixels
    assert large["font_size"] == round(16 * 1.5)  # 1/30 of the shorter side, times presenter mode's scale
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


@pytest.mark.browser
def test_presenter_mode_at_1280_by_720_puts_the_first_map_above_the_fold(tmp_path):
    """#28.8, in Chromium at a projector's 1280 x 720: the first attribution map starts above the fold and its
    full-screen button is visible without hovering; the detections picture too."""
    from tests.browser import ROOT, chromium, dashboard, problems, require_browser, wait_idle

    require_browser()
    with dashboard(tmp_path / "streamlit.log") as (url, _), chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        for path in ("attributions", "detection"):
            page.goto(f"{url}/{path}?view_compact=true")
            wait_idle(page)
            assert problems(page) == []
            picture = page.locator(".stMain [data-testid='stImage'], .stMain [data-testid='stFullScreenFrame']").first
            box = picture.bounding_box()
            assert box is not None and box["y"] < 720 - 150, (path, box)  # at least 150 px of it in view
            button = page.locator(".stMain [data-testid='stElementToolbar']").first
            assert button.evaluate("e => getComputedStyle(e).opacity") == "1", path
            out = ROOT / "docs" / "screenshots" if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path
            page.screenshot(path=str(out / f"presenter-{path}.png"))  # exactly what a projector shows
