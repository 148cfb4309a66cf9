"""Your own network on the pages (AppTest): one trained on the Build page is explained on Attributions exactly as
a direct forward pass of that network; a download -> upload round trip gives the same predictions; every bad
file gets its one line and the page goes on; another session neither sees nor reaches it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from explain import attribute, prepare
from tests.app_helpers import open_page
from tests.test_app_build import button
from tests.test_own_model import BAD_FILES

pytestmark = pytest.mark.training  # trains a network for real (seconds)


def train_and_keep(at):
    """A one-epoch ResNet-18 (width 1/4) on the digits, trained on Build and kept as the session's own."""
    at.selectbox(key="build_setup").set_value("resnet-digits")
    at.number_input(key="build_epochs").set_value(1)
    at.select_slider(key="build_batch").set_value(128)
    button(at, "Train").click().run()
    button(at, "Explain this model").click().run()
    assert not at.exception
    return at.session_state["own_model"]


def top5_caption(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Top five: "))


@pytest.fixture(scope="module")
def trained():
    at = open_page("pages/build.py")
    mine = train_and_keep(at)
    return at, mine


def test_a_network_trained_on_the_page_is_explained_like_a_direct_forward_pass(trained):
    at, mine = trained
    assert mine.card.title.startswith("My ResNet-18 on digits, 1 epoch (") and mine.card.classes[3] == "3"
    assert any(f"Kept as **{mine.card.title}**" in s.value for s in at.success)
    at.switch_page("pages/attributions.py").run()
    at.selectbox(key="attr_model").set_value("own").run()
    assert not at.exception
    sample = at.selectbox(key="attr_sample")
    assert sample.value == next(iter(mine.samples)) and sample.value.startswith("digit ")  # its own data
    from explain.inputs.images import load_image

    image = load_image(mine.samples[sample.value])
    x = prepare(image, mine.info.preprocess, next(mine.model.parameters()).device)
    with torch.no_grad():
        p = torch.softmax(mine.model(x), 1)[0]
    top = p.topk(5)
    expected = ", ".join(
        f"{mine.card.classes[i]} {v:.1%}" for v, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
    )
    assert top5_caption(at) == f"Top five: {expected}"
    # the page's saliency map, read from the page's own cache under this image and these weights (a Subject whose
    # network refuses to run, so a miss fails here), equals a direct Captum call on that network
    from explain.inputs.images import image_sha256
    from explain.methods.attributions import defaults
    from ui.image_input import ChosenImage
    from ui.subject import Subject
    from ui.views.attributions import cached_attribution

    class Refuses(torch.nn.Module):
        def forward(self, x):
            raise AssertionError("the page's map was not in its cache")

    target = int(top.indices[0])
    chosen = ChosenImage(image, image_sha256(mine.samples[sample.value]), sample.value, "own")
    params = json.dumps(defaults("saliency", x.shape[-1]), sort_keys=True)
    page_map = cached_attribution(Subject(chosen, Refuses(), mine.info, x), target, "saliency", params)
    direct = attribute(mine.model, x, "saliency", target)[0].cpu().numpy()
    assert np.array_equal(page_map, direct)


def test_a_download_then_upload_gives_the_same_predictions(trained):
    at, mine = trained
    at.switch_page("pages/build.py").run()
    at.file_uploader(key="own_weights_0").upload("mine.pt", mine.weights, "application/octet-stream")
    at.file_uploader(key="own_card_0").upload("mine.json", mine.card.to_json().encode(), "application/json")
    next(b for b in at.get("form_submit_button") if b.label == "Load").click().run()
    assert not at.exception and not at.error
    again = at.session_state["own_model"]
    assert again is not mine and again.card.classes == mine.card.classes and again.weights == mine.weights
    x = torch.randn(4, 3, 64, 64, device=next(mine.model.parameters()).device)
    with torch.no_grad():
        assert torch.equal(again.model(x), mine.model(x))


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_every_bad_file_gets_its_line_on_the_page(name):
    make, message = BAD_FILES[name]
    at = open_page("pages/build.py")
    at.file_uploader(key="own_weights_0").upload("bad.pt", make() or b"", "application/octet-stream")
    next(b for b in at.get("form_submit_button") if b.label == "Load").click().run()
    assert not at.exception
    lines = [e.value for e in at.error]
    assert len(lines) == 1 and lines[0].startswith("bad.pt: ") and message in lines[0], lines
    assert "own_model" not in at.session_state


def test_another_session_neither_sees_nor_reaches_it(trained):
    _, mine = trained  # this process's first session holds its own network
    other = open_page()
    other.query_params["attr_model"] = "own"
    other.switch_page("pages/attributions.py").run()
    assert not other.exception
    options = other.selectbox(key="attr_model").options
    assert "own" not in options and f"Yours: {mine.card.title}" not in options
    assert other.selectbox(key="attr_model").value != "own"
    assert any("another browser session" in i.value for i in other.info)
    assert "own_model" not in other.session_state


@pytest.mark.parametrize(
    "page, picker",
    [("pages/home.py", "home_model"), ("pages/features.py", "feat_model"), ("pages/build.py", "build_net")],
)
def test_every_explainer_page_runs_on_it(trained, page, picker):
    """Classify, Features (all four tabs draw) and Build's anatomy take the session's own network, on its own data."""
    at, mine = trained
    at.switch_page(page).run()
    at.selectbox(key=picker).set_value("own").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    text = " ".join(m.value for m in [*at.markdown, *at.caption])
    assert mine.card.title in text
