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
from tests.on_device import tolerance
from tests.test_app_build import button
from tests.test_own_model import BAD_FILES

pytestmark = pytest.mark.training  # trains a network for real (seconds)


def train_and_keep(at):
    """A one-epoch ResNet-18 (width 1/4) on the digits, trained on Build and kept as the session's own."""
    at.selectbox(key="build_setup").set_value("resnet-digits")
    at.number_input(key="build_epochs").set_value(1)
    at.select_slider(key="build_batch").set_value(128)
    button(at, "Train").click().run()
    button(at, "Keep it to explain").click().run()
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
    assert mine.card.title.startswith("My ResNet-18 at 1/4 width on digits, 1 epoch (") and mine.card.classes[3] == "3"
    assert any(f"Kept as **{mine.card.title}**" in s.value for s in at.success)
    assert not any(b.label == "Keep it to explain" for b in at.button)  # kept: no second press (a walk pressed again)
    # the Anatomy tab's Network list has it at once (a walk: only after some other widget made the page run again)
    assert "own" in at.selectbox(key="build_net").options or any(
        o.startswith("Yours") for o in at.selectbox(key="build_net").options
    )
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
    # the page's saliency map, read from the server's result store under this image and these weights (where the
    # page keeps its maps since they go through the heavy-job queue; a miss fails here), equals a direct Captum call
    from explain.inputs.images import image_sha256
    from explain.methods.attributions import defaults
    from ui.admission import result_store
    from ui.image_input import ChosenImage
    from ui.subject import Subject
    from ui.views.attributions import attribution_key

    target = int(top.indices[0])
    chosen = ChosenImage(image, image_sha256(mine.samples[sample.value]), sample.value, "own")
    params = json.dumps(defaults("saliency", x.shape[-1]), sort_keys=True)
    page_map = result_store().get(attribution_key(Subject(chosen, None, mine.info, x), target, "saliency", params))
    assert page_map is not None, "the page's map was not in the store"
    direct = attribute(mine.model, x, "saliency", target)[0].cpu().numpy()
    # bit for bit on the CPU; on a GPU two backward passes may take different cuDNN algorithms (seen on an H200: the
    # same map to the 7th digit), so there the two agree to float rounding of the largest value
    np.testing.assert_allclose(
        page_map, direct, rtol=0, atol=tolerance(0.0, 1e-5) * float(np.abs(direct).max()), equal_nan=False
    )


def test_it_says_when_an_image_is_unlike_the_data_it_was_trained_on(trained):
    """#28 follow-up: the bundled model said so for a photo; a network trained on Build said nothing."""
    at, mine = trained
    at.switch_page("pages/attributions.py").run()
    at.selectbox(key="attr_model").set_value("own").run()
    note = ":material/help: Out of distribution"
    at.selectbox(key="attr_sample").set_value(next(iter(mine.samples))).run()
    assert not at.exception and not any(c.value.startswith(note) for c in at.caption)  # one of its own test digits
    at.selectbox(key="attr_sample").set_value("chelsea the cat (photo)").run()
    said = [c.value for c in at.caption if c.value.startswith(note)]
    assert not at.exception and len(said) == 1
    assert mine.card.title in said[0] and "handwritten digit scans" in said[0]


def test_a_download_then_upload_gives_the_same_predictions(trained, monkeypatch):
    import ui.views.own as view

    jobs, real = [], view.heavy_job
    monkeypatch.setattr(view, "heavy_job", lambda what: jobs.append(what) or real(what))  # the load takes a slot
    _, mine = trained
    at = open_page("pages/build.py")  # another session uploads the download (the trained one keeps its network)
    at.file_uploader(key="own_weights_0").upload("mine.pt", mine.weights_file(), "application/octet-stream")
    at.file_uploader(key="own_card_0").upload("mine.json", mine.card.to_json().encode(), "application/json")
    next(b for b in at.get("form_submit_button") if b.label == "Load").click().run()
    assert not at.exception and not at.error and jobs == ["Loading your weights"]
    again = at.session_state["own_model"]
    assert again is not mine and again.card.classes == mine.card.classes
    # its card names the set-up it was trained on: its test images and out-of-distribution notes come back with it
    # (a walk's re-upload was shown a star, with no word that it was unlike its digits)
    assert again.data == mine.data and mine.data and list(again.samples) == list(mine.samples)
    assert again.info.weights_sha256 == mine.info.weights_sha256  # the same file: every cache keyed the same
    x = torch.randn(4, 3, 64, 64, device=next(mine.model.parameters()).device)
    with torch.no_grad():
        assert torch.equal(again.model(x), mine.model(x))


def test_the_server_holds_a_bounded_total_of_visitors_networks(trained, monkeypatch):
    """A loopback review: eight sessions each loaded a 241-kB file that builds a 233-MB AlexNet, and the server grew
    by 245 MB a session (1,064 to 3,012 MB). Every session's own network counts toward OWN_SERVER_MB; past it one
    line refuses the next, and a session replacing its own network is not counted twice."""
    import models.own as own

    _, mine = trained
    size = own.network_mb(mine.model)
    uploads = []

    def load(at):
        n = at.session_state.get("own_upload_n", 0)  # a load empties the form: its uploaders get new keys
        at.file_uploader(key=f"own_weights_{n}").upload("mine.pt", mine.weights_file(), "application/octet-stream")
        at.file_uploader(key=f"own_card_{n}").upload("mine.json", mine.card.to_json().encode(), "application/json")
        next(b for b in at.get("form_submit_button") if b.label == "Load").click().run()
        assert not at.exception
        uploads.append(at)
        return [e.value for e in at.error]

    held = own.HELD.megabytes()  # what this process's sessions hold now (the fixture's)
    monkeypatch.setattr(own.HELD, "budget_mb", held + 1.5 * size)  # room for one more network, not two
    first = open_page("pages/build.py")
    assert load(first) == [] and "own_model" in first.session_state
    assert load(first) == []  # the same session again: it replaces its own, which is not counted
    second = open_page("pages/build.py")
    import models.own as models_own

    built, real = [], models_own.build
    monkeypatch.setattr(models_own, "build", lambda *a, **k: built.append(torch.empty(0).device.type) or real(*a, **k))
    (line,) = load(second)
    assert "This server already holds" in line and "Try again in a few minutes" in line, line
    assert "own_model" not in second.session_state
    assert built == ["meta"]  # refused from its shapes, before the network was built (a re-attack: +220 MB first)


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_every_bad_file_gets_its_line_on_the_page(name):
    make, message = BAD_FILES[name]
    at = open_page("pages/build.py")
    filename = "bad.safetensors" if "safetensors" in name else "bad.pt"
    at.file_uploader(key="own_weights_0").upload(filename, make() or b"", "application/octet-stream")
    next(b for b in at.get("form_submit_button") if b.label == "Load").click().run()
    assert not at.exception
    lines = [e.value for e in at.error]
    assert len(lines) == 1 and lines[0].startswith(f"{filename}: ") and message in lines[0], lines
    assert "own_model" not in at.session_state


def test_a_refused_files_name_is_shown_as_plain_text():
    """A loopback review: the refusal line showed the file's name as Markdown (a link and bold), where the README
    says a visitor's file names are shown with every Markdown character replaced."""
    at = open_page("pages/build.py")
    at.file_uploader(key="own_weights_0").upload("evil[click](http://x) **bold**.pt", b"", "application/octet-stream")
    next(b for b in at.get("form_submit_button") if b.label == "Load").click().run()
    (line,) = [e.value for e in at.error]
    assert line.startswith("evil-click-(http-//x) --bold--.pt: The file is empty."), line


def test_a_refusal_names_the_file_it_is_about(trained):
    """A walk uploaded good weights with a broken card, a card of another architecture and two class names for ten
    outputs: each line was headed by the weights file's name, and read as the weights being wrong."""
    _, mine = trained
    for card, classes, expected in (
        (b"{not json", None, "card.json: The model card is not JSON"),
        (b'{"architecture": "resnet18"}', None, "card.json: The card says resnet18 but the weights are"),
        (None, b"zero\none\n", "names.txt: There are 2 class names for a head of 10 outputs."),
    ):
        at = open_page("pages/build.py")
        at.file_uploader(key="own_weights_0").upload("mine.pt", mine.weights_file(), "application/octet-stream")
        if card is not None:
            at.file_uploader(key="own_card_0").upload("card.json", card, "application/json")
        if classes is not None:
            at.file_uploader(key="own_classes_0").upload("names.txt", classes, "text/plain")
        next(b for b in at.get("form_submit_button") if b.label == "Load").click().run()
        assert not at.exception
        (line,) = [e.value for e in at.error]
        assert line.startswith(expected), line


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
    # a copied link holds the picker's title, not its key (a review's real link fell back to ResNet-18 silently)
    for page, param in (("pages/attributions.py", "attr_model"), ("pages/build.py", "build_net")):
        copied = open_page()
        copied.query_params[param] = f"Yours: {mine.card.title}"
        copied.switch_page(page).run()
        assert not copied.exception and any("another browser session" in i.value for i in copied.info), page


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


def test_the_labelled_set_view_runs_over_its_own_test_images(trained):
    """Attributions' labelled set offers the network's own test images with their true classes: every one is judged
    and the count right equals a direct forward pass over them."""
    from explain.inputs.images import load_image

    at, mine = trained
    at.switch_page("pages/attributions.py").run()
    at.selectbox(key="attr_model").set_value("own").run()
    at.radio(key="attr_batch_source").set_value("own").run()
    next(b for b in at.button if b.label == f"Explain {len(mine.samples)} images").click().run()
    assert not at.exception
    device = next(mine.model.parameters()).device
    right = 0
    for name, data in mine.samples.items():
        x = prepare(load_image(data), mine.info.preprocess, device)
        with torch.no_grad():
            right += mine.card.classes[int(mine.model(x).argmax())] == mine.truth[name]
    n = len(mine.samples)
    expected = f"{right} of {n} predicted right ({right / n:.0%})"
    assert any(expected in m.value for m in [*at.markdown, *at.caption, *at.info, *at.success]), expected


def test_top9_scans_its_own_test_set(trained):
    """Features' top-9 offers the network's own test images (the set-up's test set, up to the scan's cap) and scans
    them without a word of error."""
    at, _ = trained
    at.switch_page("pages/features.py").run()
    at.selectbox(key="feat_model").set_value("own").run()
    # its own test images are chosen first (a walk's choice made before stayed on the bundled photos)
    assert at.radio(key="feat_set_own").value == "own"
    scan = at.button(key="feat_scan")
    assert scan.label == "Scan 200 images"  # the digits' 497 test images, up to the scan's 200
    scan.click().run()
    assert not at.exception and not at.error
    assert any(m.value.startswith("**Channel ") and "strongest in digit " in m.value for m in at.markdown)


def test_the_sanity_check_faithfulness_and_occlusion_run_on_it(trained):
    """The buttons' work (cascading randomisation, deletion/insertion, the occluding square) on the session's own
    network: each draws its result without an error."""
    at, _ = trained
    at.switch_page("pages/attributions.py").run()
    at.selectbox(key="attr_model").set_value("own").run()
    for label in ("Run the sanity check", "Measure faithfulness"):
        charts = len(at.get("plotly_chart"))
        next(b for b in at.button if b.label == label).click().run()
        assert not at.exception and not at.error, label
        assert len(at.get("plotly_chart")) > charts, f"{label}: no chart drawn"
    at.switch_page("pages/features.py").run()
    at.selectbox(key="feat_model").set_value("own").run()
    charts = len(at.get("plotly_chart"))
    next(b for b in at.button if b.label.startswith("Slide the grey square")).click().run()
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) > charts, "occlusion: no map drawn"


def test_the_course_digits_net_with_its_grey_input_draws_every_features_tab():
    """A walk kept the course's digits net (one grey input channel; the fixture's ResNet takes RGB) and Features
    crashed on its first-layer filters. On a colour photo, every tab draws, the filters as grey tiles."""
    from explain.inputs.samples import sample_bytes

    at = open_page("pages/build.py")
    at.selectbox(key="build_setup").set_value("digits")
    at.number_input(key="build_epochs").set_value(1)
    at.select_slider(key="build_batch").set_value(128)
    button(at, "Train").click().run()
    button(at, "Keep it to explain").click().run()
    at.switch_page("pages/features.py").run()
    at.selectbox(key="feat_model").set_value("own").run()
    at.file_uploader(key="feat_upload").upload("chelsea.png", sample_bytes("chelsea the cat (photo)"), "image/png")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("(11 x 11 x 1)" in c and "brighter or darker greys" in c for c in at.caption.values)
    next(b for b in at.button if b.label.startswith("Slide the grey square")).click().run()
    at.radio(key="feat_set_own").set_value("own").run()
    at.button(key="feat_scan").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
