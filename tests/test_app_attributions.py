"""The attribution page through AppTest: defaults, method choices, failures, sanity and faithfulness."""

import dataclasses

import pytest

from explain.methods import attributions
from tests.app_helpers import image_captions, open_page, plotly_specs
from tests.hostile_files import BAD
from ui.admission import result_store
from ui.views import attributions as attribution_views

PAGE = "pages/attributions.py"


def open_star():
    at = open_page(PAGE)
    at.selectbox(key="attr_model").set_value("shapes-resnet18").run()
    at.selectbox(key="attr_sample").set_value("generated star").run()
    return at


@pytest.fixture
def page():
    return open_star()


def target_box(at):
    return next(b for b in at.selectbox if b.label == "Explain the class")


def panel_titles(at):
    return [m.value.strip("*") for m in at.markdown if m.value.startswith("**")]


def test_default_inputs_render_every_default_method():
    at = open_page(PAGE)
    assert not at.exception and not at.error
    titles = panel_titles(at)
    for title in ("Saliency", "Integrated Gradients", "Guided Backprop", "Grad-CAM"):
        assert title in titles
    assert len([c for c in image_captions(at) if "·" in c]) >= 4
    assert plotly_specs(at), "the shared colour bar is missing"
    assert "The image" in panel_titles(at)  # the original beside the maps


def test_maps_are_drawn_at_the_image_resolution_not_the_model_input():
    import numpy as np
    from PIL import Image

    from explain.figures.render import overlay
    from explain.methods.classify import model_view
    from models.classifiers import load_classifier

    _, info = load_classifier("shapes-resnet18")
    photo = Image.fromarray(np.full((300, 500, 3), 128, np.uint8))
    view = model_view(photo, info.preprocess)
    assert view.shape == (300, 300, 3)  # the centre square the 64-px model sees, at the photo's own resolution
    assert overlay(view, np.random.default_rng(0).random((64, 64))).shape == (300, 300, 3)
    imagenet = load_classifier("resnet18")[1]  # offline: the fallback, whose preprocessing keeps the whole side
    assert model_view(photo, imagenet.preprocess).shape[0] == 300
    from torchvision.models import ResNet18_Weights

    assert model_view(photo, ResNet18_Weights.IMAGENET1K_V1.transforms()).shape == (262, 262, 3)  # 300 * 224 / 256
    big = Image.fromarray(np.zeros((2000, 3000, 3), np.uint8))
    assert model_view(big, info.preprocess).shape == (768, 768, 3)  # at most 768 a side
    # at least the maps' size: a 1 x 1 upload's maps were drawn at 1 x 1, one colour each (a walk)
    from explain.figures.attribution_view import attribution_views

    dot = Image.fromarray(np.full((1, 1, 3), 200, np.uint8))
    seen, views = attribution_views({"saliency": np.random.default_rng(0).random((64, 64))}, dot, info.preprocess)
    assert seen.shape == (64, 64, 3) and (seen == 200).all()
    assert views["saliency"].overlay.shape == (64, 64, 3) and len(np.unique(views["saliency"].overlay)) > 10


def test_the_image_panel_says_the_size_it_is_shown_at_and_the_size_the_model_gets() -> None:
    """A 512-px photo's panel said "what the model sees, at 512 x 512 pixels" of a model whose input is 64 x 64."""
    from explain.figures.attribution_view import seen_caption

    assert seen_caption((512, 512), (64, 64)) == (
        "the crop the model sees, at a resolution of 512 x 512 pixels; the model gets it at 64 x 64"
    )
    assert seen_caption((64, 64), (64, 64)) == "what the model sees, 64 x 64 pixels"


def test_the_image_panel_says_a_long_thin_image_was_padded_with_grey(page) -> None:
    """A walk's 8000 x 8 upload, bounded to 1024 x 1, was said to reach the model as a 256 x 256 crop, mostly grey,
    with no word of the grey: the panel says the image was padded first."""
    import numpy as np

    from explain import padded_size
    from explain.figures.attribution_view import seen_caption
    from explain.figures.render import png_bytes

    assert padded_size((1024, 1)) == (1024, 256) and padded_size((300, 200)) is None
    assert seen_caption((256, 256), (64, 64), (1024, 256)) == (
        "the crop the model sees, at a resolution of 256 x 256 pixels, of the image padded with grey to 1024 x 256 "
        "(no side over 4 times the other); the model gets it at 64 x 64"
    )
    strip = png_bytes(np.full((8, 8000, 3), 200, np.uint8))
    page.file_uploader(key="attr_upload").upload("wide.png", strip, "image/png").run()
    assert not page.exception
    assert "of the image padded with grey to 1024 x 256" in " ".join(image_captions(page))


def test_the_chosen_methods_wrap_onto_rows(page):
    """In its column the Methods box kept its chips on one row that scrolled sideways: a walk with all 13 chosen saw
    three of them."""
    assert page.multiselect(key="attr_methods").proto.wrap


def test_two_methods_ticked(page):
    page.multiselect(key="attr_methods").set_value(["smoothgrad", "occlusion"]).run()
    assert not page.exception
    titles = panel_titles(page)
    assert "SmoothGrad" in titles and "Occlusion" in titles and "Saliency" not in titles
    assert len([c for c in image_captions(page) if c.startswith("star ·")]) == 2


def test_target_follows_the_top_prediction_and_can_be_any_class(page):
    box = target_box(page)
    assert box.options[0] == "star" and box.index == 0  # the top prediction comes first and is chosen
    assert any(c.startswith("star ·") for c in image_captions(page))  # the bundled model sees a star
    box.set_value(0).run()  # any class: 0 is the circle
    assert not page.exception
    assert any(c.startswith("circle ·") for c in image_captions(page))


def test_display_settings_never_recompute_and_new_maps_take_a_turn_of_the_queue(monkeypatch):
    """Maps not yet computed wait for a turn of the server's heavy-job queue, a turn each (a review: up to 13
    methods, Occlusion's 1,024 passes among them, had run beside every queued job; an attack then held the one slot
    for all 13 in one turn); a page whose maps are all stored (a display setting changed) neither computes nor
    waits."""
    from contextlib import contextmanager

    result_store.clear()  # the server's maps: an earlier test in this process may have computed the ones added below
    page = open_star()
    calls, turns = [], []
    original = attributions.attribute

    def counting(*args, **kwargs):
        calls.append(args[2])
        return original(*args, **kwargs)

    @contextmanager
    def turn(what, where=None):  # the view says the queue's place in its one place for notes (`where`)
        turns.append(what)
        yield

    monkeypatch.setattr(attribution_views, "attribute", counting)  # where the page's view calls it
    monkeypatch.setattr(attribution_views, "heavy_job", turn)
    page.radio(key="attr_mode").set_value("signed").run()
    page.slider(key="attr_alpha").set_value(0.3).run()
    page.slider(key="attr_pct").set_value(95.0).run()
    assert not page.exception and calls == [] and turns == []
    page.multiselect(key="attr_methods").set_value(["saliency", "input_x_gradient", "deconvolution"]).run()
    assert calls == ["input_x_gradient", "deconvolution"]  # only the new methods are computed, a turn each
    assert turns == ["Input x Gradient (1 of 2)", "Deconvolution (2 of 2)"]


def test_a_failing_method_explains_itself_and_the_others_still_render(page, monkeypatch):
    def boom(model, x, target):
        raise RuntimeError("this model cannot do that\nsecond line of a traceback")

    broken = dataclasses.replace(attributions.METHODS["input_x_gradient"], run=boom)
    monkeypatch.setitem(attributions.METHODS, "input_x_gradient", broken)
    result_store.clear()  # an earlier test may have stored this method's real map (the server's store of maps)
    page.multiselect(key="attr_methods").set_value(["saliency", "input_x_gradient"]).run()
    assert not page.exception
    warnings = [w.value for w in page.warning if "does not work" in w.value]
    assert warnings == ["Input x Gradient does not work on Shapes ResNet-18 (bundled): this model cannot do that"]
    assert any(c.startswith("star ·") for c in image_captions(page))
    # the failure is kept with the maps: a display change beside it neither queues nor tries it again (a review)
    monkeypatch.setattr(attribution_views, "heavy_job", lambda what, where=None: pytest.fail(f"queued for {what}"))
    page.slider(key="attr_alpha").set_value(0.3).run()
    assert not page.exception
    assert [w.value for w in page.warning if "does not work" in w.value] == warnings


def test_occlusion_settings_past_its_bound_are_said_to_be_the_settings(page):
    """A loopback review ran 3,969 occlusion positions from one link; the bound then read "Occlusion does not work on
    Shapes ResNet-18", blaming the model for the settings (a walk)."""
    page.multiselect(key="attr_methods").set_value(["saliency", "occlusion"]).run()
    page.number_input(key="attr_occlusion_window").set_value(2).run()
    page.number_input(key="attr_occlusion_stride").set_value(1).run()
    assert not page.exception
    (line,) = [w.value for w in page.warning if "Occlusion" in w.value]
    assert line.startswith("Occlusion cannot run with these settings: That is 3,969 positions of the square"), line


def test_sanity_check_and_faithfulness_run_from_their_buttons(page):
    page.multiselect(key="attr_methods").set_value(["saliency", "guided_backprop"]).run()
    page.button(key="attr_sanity_run").click().run()
    assert not page.exception
    sanity = [s for s in plotly_specs(page) if "SSIM" in str(s)]
    assert sanity and len(sanity[0]["data"]) == 4  # rank correlation and SSIM for each method
    # the grid of maps ends at the fully randomised model (a walk: it stopped a step before, under 'each block')
    last = sanity[0]["data"][0]["x"][-1]
    grid = [c for c in page.caption.values if c.startswith("Maps as the model is randomised, at ")]
    assert (
        grid
        and (grid[0].endswith("(absolute values):"))
        and any(c.split(" ✕")[0] == last for c in image_captions(page))
    )
    # what this run shows at its end, in numbers (a walk: the prose said Guided Backprop fails where a photo's run
    # showed it below Integrated Gradients); the prose no longer claims a result the chart may not show
    ended = [m.value for m in page.markdown if m.value.startswith("In this run, once every layer is randomised")]
    assert len(ended) == 1 and "Saliency " in ended[0] and "Guided Backprop " in ended[0]
    assert not any("known to fail" in m.value for m in page.markdown)
    page.button(key="attr_faith_run").click().run()
    assert not page.exception
    table = page.dataframe[0].value
    assert list(table["method"]) == ["Saliency", "Guided Backprop"]
    assert table.filter(like="AUC").apply(lambda col: col.between(0, 1)).all().all()
    assert not any("unlike the model's training data" in w.value for w in page.warning)  # a shape it knows
    # by default each map is ranked as its method means it: the gradients (Saliency, Guided Backprop) by absolute
    # value, and the caption says so, with no warning (a walk saw the default warned against for two of its methods)
    assert not any("the sign is the direction" in i.value for i in page.info)
    assert any(c.value.endswith("Here by absolute value: Saliency, Guided Backprop.") for c in page.caption)
    # ranked by signed value (the paper's), gradients' areas get their reading (a walk read Saliency's 0.83 as a
    # useless map); ranked by absolute value, no such line
    page.radio(key="attr_faith_rank").set_value("signed").run()
    page.button(key="attr_faith_run").click().run()
    (line,) = [i.value for i in page.info if "the sign is the direction" in i.value]
    assert (
        line.startswith("Saliency, Guided Backprop: the sign is the direction")
        and "as the method means it (the default)" in line
    )
    page.radio(key="attr_faith_rank").set_value("absolute").run()
    page.button(key="attr_faith_run").click().run()
    assert not page.exception and not any("the sign is the direction" in i.value for i in page.info)


def test_presenting_keeps_the_out_of_distribution_note_in_view():
    """A walk presented a coffee cup explained as "circle": the note that the answer is a guess was folded away with
    the settings. Presenting, it is shown under the line naming the image and the model."""
    at = open_page(PAGE)
    at.session_state["view_compact"] = True
    at.selectbox(key="attr_sample").set_value("chelsea the cat (photo)").run()
    assert not at.exception
    captions = [c.value for c in at.caption]
    seen = next(i for i, c in enumerate(captions) if c.startswith(":material/visibility: chelsea the cat (photo) · "))
    assert captions[seen + 1].startswith(":material/help: Out of distribution")
    at.selectbox(key="attr_sample").set_value("generated star").run()  # a shape it knows: nothing to warn of
    assert not any(c.startswith(":material/help: Out of distribution") for c in at.caption.values)
    # the class explained, named there too (a lecturer's walk found it only under the maps, below the screen)
    assert ":material/visibility: generated star · Shapes ResNet-18 (bundled) · explaining the class `star`" in (
        at.caption.values
    )


def test_faithfulness_on_an_image_unlike_the_training_data_says_the_scores_are_a_guess(page):
    """A walk read faithfulness areas on a photo under the shapes model, curves jumping, with the note that the
    answer is a guess only at the top of the page."""
    page.selectbox(key="attr_sample").set_value("chelsea the cat (photo)").run()
    page.multiselect(key="attr_methods").set_value(["saliency"]).run()
    page.radio(key="attr_faith_grid").set_value("20").run()
    page.button(key="attr_faith_run").click().run()
    assert not page.exception and page.dataframe
    assert len([w for w in page.warning if "the areas compare the maps on a guess" in w.value]) == 1


def test_zip_and_snippet_are_offered(page):
    assert any(b.label == "All maps and settings (zip)" for b in page.get("download_button"))
    assert any("attribute(model, x," in c.value for c in page.code)


def test_corrupt_upload_shows_one_error():
    at = open_page(PAGE)
    at.file_uploader(key="attr_upload").upload("broken.jpg", BAD["truncated.jpg"], "image/jpeg").run()
    assert not at.exception
    assert len(at.error) == 1 and "broken.jpg" in at.error[0].value


def test_the_pages_notebook_snippet_runs_as_shown_for_a_sample_and_an_upload(page, tmp_path, monkeypatch):
    """#28: the 'Recompute in a notebook' code is executed as the page shows it: for a sample (loaded by name from
    the bundled samples) and for an upload (a file of that name beside the notebook), with the page's display
    settings."""
    import numpy as np

    from explain import sample_bytes
    from explain.methods.maps import to_map

    page.radio(key="attr_mode").set_value("signed").run()
    page.slider(key="attr_pct").set_value(95.0).run()
    snippet = next(c.value for c in page.code if "attribute(" in c.value)
    assert any(
        c.value.startswith("The settings in the zip (model, image hash") for c in page.caption
    )  # not a bare {...}
    assert "sample_bytes('generated star')" in snippet and "'signed', percentile=95.0" in snippet
    scope: dict = {}
    exec(snippet, scope)
    assert scope["heatmap"].shape == (64, 64) and scope["heatmap"].min() < 0

    photo = sample_bytes("chelsea the cat (photo)")
    page.file_uploader(key="attr_upload").upload("my cat.png", photo, "image/png").run()
    assert not page.exception
    snippet = next(c.value for c in page.code if "attribute(" in c.value)
    assert "load_image('my cat.png')" in snippet and "sample_bytes" not in snippet  # imports only what it uses
    (tmp_path / "my cat.png").write_bytes(photo)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(snippet, scope)
    assert scope["heatmap"].shape == (64, 64)
    attribution = scope["attr"][0].numpy()
    np.testing.assert_allclose(scope["heatmap"], to_map(attribution, "signed", 95.0))


def test_presenting_folds_the_sanity_and_faithfulness_controls():
    """A walk presented the page: the sanity check's and faithfulness' radios and the variant's paragraph stayed
    open beside the results, where the README says presenter mode folds every control and hides explanations."""
    at = open_page(PAGE)
    at.session_state["view_compact"] = True
    at.run()
    assert not at.exception
    panels = {e.label: e for e in at.expander}
    assert panels["Sanity check settings"].radio(key="attr_sanity_variant").value == "paper"
    faith = panels["Faithfulness settings"]
    assert faith.radio(key="attr_faith_rank") is not None and faith.radio(key="attr_faith_grid") is not None
    assert not any(c.startswith("As published") for c in at.caption.values)


def test_the_tabs_keep_their_place_whether_the_maps_are_computed_or_stored() -> None:
    """A walk pressed Measure faithfulness on a first visit and the page opened on Maps again: that first run had
    computed the maps under a bar and a queue note per method, emptied but still there; the next, the maps stored,
    drew none, so the tabs moved up and the browser drew them anew, on their first tab. The elements before the
    tabs are now the same either way (one place for the bar and the notes)."""

    def before_tabs(at) -> list[str]:
        kinds = [getattr(kid, "type", "") for kid in at.main.children.values()]
        return kinds[: kinds.index("tab_container")]

    result_store.clear()  # the maps computed on the first run, not found stored
    page = open_page(PAGE)
    computed = before_tabs(page)
    page.run()  # the maps stored now
    assert not page.exception and before_tabs(page) == computed
