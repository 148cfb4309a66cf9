"""The feature inspector through AppTest: every tab with defaults, a scan, occlusion, bad input."""

import re

import pytest

from tests.app_helpers import image_captions, open_page, plotly_specs
from tests.hostile_files import BAD, GOOD
from ui.views.features import listed_folders

PAGE = "pages/features.py"


@pytest.fixture
def page():
    at = open_page(PAGE)
    at.selectbox(key="feat_model").set_value("shapes-resnet18").run()
    return at


def test_defaults_show_filters_maps_and_a_projection(page):
    assert not page.exception and not page.error
    captions = image_captions(page)
    assert any("filters of `layer0.0`" in c and "Neighbouring weights correlate" in c for c in page.caption.values)
    # the bundled network's data named (a walk read "learned from other images" as vague)
    assert any("this network learned from generated images of one shape each (" in c for c in page.caption.values)
    assert any(
        c.startswith("layer1.0 (32 channels of 16 x 16, each map scaled on its own): the 32 channels") for c in captions
    )
    assert "deconvnet projection of its strongest activation, over the same patch (mid-grey = 0)" in captions
    # coordinates in words (a walk could not tell the box's (x0, y0, x1, y1) from the unit's (row, column))
    assert any(
        re.fullmatch(
            r"the strongest unit's receptive field, 27 x 27 pixels(: |, on the image )"  # layer1.0's field
            r"x \d+–\d+, y \d+–\d+ of the 64 x 64 input(, mid-grey past its edge)?",
            c,
        )
        for c in captions
    )
    assert any(
        re.search(r"strongest activation [\d.]+ at row \d+, column \d+ of its 16 x 16 map$", c) for c in captions
    )


def test_choosing_a_layer_and_channel_reprojects(page):
    page.selectbox(key="feat_layer_shapes-resnet18").set_value("layer2").run()
    page.number_input(key="feat_channel_shapes-resnet18_layer2").set_value(7).run()
    assert (
        not page.exception
        and "deconvnet projection of its strongest activation, over the same patch (mid-grey = 0)"
        in image_captions(page)
    )
    # the field's whole side, not its patch's cut to the image (a walk read "64 x 64 pixels" for layer2's 99)
    assert any(
        c.startswith("the strongest unit's receptive field, 99 x 99 pixels (more than the whole input), ")
        for c in image_captions(page)
    )
    page.toggle(key="feat_whole").set_value(True).run()
    assert not page.exception
    assert any(c.startswith("channel 7: strongest activation") for c in image_captions(page))
    # the whole channel is said to be projected (a walk: the captions still described one unit)
    assert "deconvnet projection of channel 7's whole map (mid-grey = 0)" in image_captions(page)
    said = " ".join(page.caption.values)
    assert "keeps every activation of channel 7, zeroes the other channels" in said and "strongest unit only" in said


def test_the_maps_can_share_one_scale_so_tiles_compare(page):
    """A walk at layer4 (2 x 2 maps): each map on its own scale drew every tile as black and white squares alike.
    On one scale, the tiles are the maps as the grid's largest value scales them all, said in the caption."""
    import numpy as np

    from explain.figures.render import grey_maps

    maps = np.array([[[0, 2], [1, 0]], [[0, 8], [4, -1]]], np.float32)
    assert np.array_equal(grey_maps(maps)[0], grey_maps(maps)[1])  # on their own scales: the same picture
    assert grey_maps(maps, shared=True).tolist() == [[[0, 64], [32, 0]], [[0, 255], [128, 0]]]
    page.selectbox(key="feat_layer_shapes-resnet18").set_value("layer4").run()
    page.toggle(key="feat_shared_scale").set_value(True).run()
    assert not page.exception
    (caption,) = [c for c in image_captions(page) if c.startswith("layer4 (")]
    assert re.match(
        r"layer4 \(256 channels of 2 x 2, all maps on one scale, from 0 to the largest value among "
        r"them, [\d.]+\): the 32 channels",
        caption,
    ), caption


def test_the_layer_lists_show_blocks_and_stages_until_asked_for_the_layers_inside(page):
    """A walk found 79 entries in each tab's layer list, most of them a block's BatchNorm and ReLU."""
    keys = ("feat_layer_shapes-resnet18", "feat_top_layer_shapes-resnet18", "feat_occ_layer_shapes-resnet18")
    for key in keys:
        options = page.selectbox(key=key).options
        assert len(options) == 17 and "layer1.0" in options and "layer2" in options
        assert not any(o.count(".") > 1 for o in options)
    page.toggle(key="feat_inside").set_value(True).run()
    assert not page.exception
    for key in keys:
        options = page.selectbox(key=key).options
        assert len(options) == 79 and "layer1.0.bn1" in options
    page.selectbox(key=keys[0]).set_value("layer1.0.conv2").run()
    assert not page.exception and any(c.startswith("layer1.0.conv2 (") for c in image_captions(page))
    page.toggle(key="feat_inside").set_value(False).run()  # the choice goes to its block (a walk: to the default)
    assert not page.exception and page.selectbox(key=keys[0]).value == "layer1.0"
    page.selectbox(key=keys[0]).set_value("layer2").run()
    page.toggle(key="feat_inside").set_value(True).run()
    page.selectbox(key=keys[0]).set_value("layer2.1.bn2").run()
    page.toggle(key="feat_inside").set_value(False).run()
    assert not page.exception and page.selectbox(key=keys[0]).value == "layer2.1"


def test_top9_starts_at_the_images_four_strongest_channels_and_keeps_a_choice(page):
    """A walk: Feature maps opened on the image's strongest channel while the top-9 scan started at channels 0-3."""
    caption = next(c for c in image_captions(page) if c.startswith("layer1.0 ("))
    strongest = [int(c) for c in caption.split("strongest first: ")[1].split(",")[:4]]
    channels = page.multiselect(key="feat_top_ch_shapes-resnet18_layer1.0")
    assert channels.value == strongest and strongest != [0, 1, 2, 3]
    channels.set_value([1, 2]).run()
    page.selectbox(key="feat_sample").set_value("generated circle").run()
    assert not page.exception and page.multiselect(key="feat_top_ch_shapes-resnet18_layer1.0").value == [1, 2]


def test_top9_scan_over_the_bundled_set(page):
    page.multiselect(key="feat_top_ch_shapes-resnet18_layer1.0").set_value([0, 3]).run()
    page.button(key="feat_scan").click().run()
    assert not page.exception
    assert [m.value.split(":")[0] for m in page.markdown if m.value.startswith("**Channel")] == [
        "**Channel 0**",
        "**Channel 3**",
    ]
    assert image_captions(page).count("projections") == 2
    # the channels change: the last scan is no longer shown as theirs (a review saw channel 0's montage kept)
    page.multiselect(key="feat_top_ch_shapes-resnet18_layer1.0").set_value([3]).run()
    assert not page.exception and not [m for m in page.markdown if m.value.startswith("**Channel")]
    assert (
        "The last scan was of other images, channels or another layer: scan again to see these." in page.caption.values
    )


def test_presenting_folds_the_top9_choices_and_leaves_the_scan_button_in_view(page):
    """A lecturer's walk: presenting, the Top-9 tab's whole first screen was its radio, layer and channel controls."""
    page.session_state["view_compact"] = True
    page.run()
    assert not page.exception
    (panel,) = [e for e in page.expander if e.label == "Images, layer and channels"]
    assert [r.key for r in panel.radio] == ["feat_set"] and len(panel.multiselect) == 1
    assert not [b for b in panel.button if b.key == "feat_scan"] and page.button(key="feat_scan")
    page.session_state["view_compact"] = False
    page.run()


def test_top9_over_uploads_reports_bad_files(page):
    from ui.views.features import NO_UPLOADS_YET

    page.radio(key="feat_set").set_value("uploads").run()
    # no Scan button without images, and a word on why (a walk: the button vanished without one)
    assert NO_UPLOADS_YET in [i.value for i in page.info] and not [b for b in page.button if b.key == "feat_scan"]
    uploader = page.file_uploader(key="feat_many")
    assert uploader.label == "Your images to scan"  # not a second "Images" under the choice of images (a review)
    uploader.set_value([("a.png", GOOD["rgb.png"], "image/png"), ("bad.png", BAD["text.png"], "image/png")]).run()
    assert not page.exception
    assert any("bad.png" in w.value for w in page.warning)
    assert page.button(key="feat_scan").label == "Scan 1 image"
    (channels,) = [m for m in page.multiselect if (m.key or "").startswith("feat_top_ch_")]
    channels.set_value([]).run()  # no channel: no button, and the line says what is missing
    assert "Choose at least one channel to scan." in [i.value for i in page.info]
    assert not [b for b in page.button if b.key == "feat_scan"]
    channels.set_value([0]).run()
    page.button(key="feat_scan").click().run()  # one image, one activation each: said (a walk counted 4 of 'nine')
    assert not page.exception and "1 image scanned, one activation each: 1 of the nine." in page.caption.values


def test_the_folders_offered_are_the_image_roots_alone(page, tmp_path, monkeypatch):
    """The folder was a text box labelled "Folder under the image folder ($EXPLAINER_IMAGE_ROOT)", with nothing to
    say what it could name (a walk); a name leading outside was refused when typed. Now the page lists the folders
    under the root, and no link leads out of it (refusing a path that does stays `folder_files`' job, tested in
    test_feature_helpers); a server without an image folder says so and offers none."""
    monkeypatch.setenv("EXPLAINER_IMAGE_ROOT", str(tmp_path / "root"))
    page.radio(key="feat_set").set_value("folder").run()
    assert not page.exception and page.selectbox(key="feat_folder").disabled
    assert any("offers no folders of images" in i.value for i in page.info)
    (tmp_path / "root" / "cats" / "tabby").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "root" / "escape").symlink_to(tmp_path / "outside")
    listed_folders.clear()  # the page lists the folders at most every 30 s
    page.run()
    box = page.selectbox(key="feat_folder")
    assert not box.disabled and box.options == ["choose a folder", "all of the image folder", "cats", "cats/tabby"]


def test_a_folder_whose_files_cannot_be_scanned_gets_one_line(page, tmp_path, monkeypatch):
    """A review: a listed folder whose files all failed to decode raised on the page (an empty batch); one gone
    between its listing and the scan gets its line the same way (`folder_set` raises ValueError for both)."""
    monkeypatch.setenv("EXPLAINER_IMAGE_ROOT", str(tmp_path))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "broken.png").write_bytes(BAD["truncated.png"])
    page.radio(key="feat_set").set_value("folder").run()
    assert "Choose a folder to scan: the Scan button appears once one is chosen." in page.caption.values
    page.selectbox(key="feat_folder").set_value("junk").run()
    page.button(key="feat_scan").click().run()
    assert not page.exception and len(page.error) == 1
    assert page.error[0].value.startswith("Cannot scan that folder: None of the 1 image files there could be read")
    assert not page.error[0].value.endswith(".).")  # one full stop (a walk read "...TIFF).).")
    (tmp_path / "empty").mkdir()  # a folder without images says so (a walk met no button and no word)
    listed_folders.clear()  # the page lists the folders at most every 30 s
    page.run()
    page.selectbox(key="feat_folder").set_value("empty").run()
    assert not page.exception and any("That folder holds no image files (.png" in i.value for i in page.info)


def test_a_folder_is_decoded_within_its_queued_scan_once(page, tmp_path, monkeypatch):
    """A loopback attack: each Scan press decoded the folder before the queue and before the stored result was looked
    up (5.6 s for 200 12-MP photos, every press). The scan is keyed on the files' names, sizes and times, and decodes
    them inside its queued job."""
    import ui.views.features as view

    monkeypatch.setenv("EXPLAINER_IMAGE_ROOT", str(tmp_path))
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "a.png").write_bytes(GOOD["rgb.png"])
    listed_folders.clear()
    decoded, real = [], view.folder_set
    monkeypatch.setattr(view, "folder_set", lambda *a: decoded.append(a) or real(*a))
    page.radio(key="feat_set").set_value("folder").run()
    page.selectbox(key="feat_folder").set_value("pics").run()
    page.button(key="feat_scan").click().run()
    page.button(key="feat_scan").click().run()  # the same files: the stored scan, nothing decoded
    assert not page.exception and not page.error and len(decoded) == 1
    assert any(m.value.startswith("**Channel ") for m in page.markdown)


def test_occlusion_draws_the_three_maps(page):
    page.button(key="feat_occ_run").click().run()
    assert not page.exception
    titles = [s["layout"]["title"]["text"] for s in plotly_specs(page)]
    # lettered as Zeiler & Fergus' Figure 7: (b) activation, (d) probability, (e) label (they were (a)-(c): a review)
    # readable (explain.figures.charts.subtitle: 13 px, not bold, since the colour bar's subtitle shares it)
    assert any(t.startswith("(b) total activation<br><span style='font-size:13px;font-weight:normal'>") for t in titles)
    assert any("the **Feature maps & deconvnet** tab draws" in n for n in page.markdown.values + page.caption.values)
    assert any(t.startswith("(d) p(") for t in titles) and "(e) most probable class" in titles
    legend = next(s for s in plotly_specs(page) if s["layout"]["title"]["text"] == "(e) most probable class")
    names = legend["layout"]["coloraxis"]["colorbar"]["ticktext"]
    assert names and set(names) <= {"circle", "square", "triangle", "star", "hexagon", "cross"}  # a legend for (e)
    # the bundled model still finds the star with any 12-pixel square hidden: the page says so and names no square
    assert any("wherever the 12-pixel square goes" in i.value for i in page.info)
    assert "(a) the input" in image_captions(page)  # lettered as the paper's Figure 7, as the maps are (a walk)
    page.slider(key="feat_occ_win_64").set_value(32).run()
    page.button(key="feat_occ_run").click().run()
    assert not page.exception
    assert any(c.startswith("(a) the input; the square where") for c in image_captions(page))


def test_corrupt_upload_shows_one_error():
    at = open_page(PAGE)
    at.file_uploader(key="feat_upload").upload("x.png", BAD["empty.png"], "image/png").run()
    assert not at.exception and len(at.error) == 1 and "empty" in at.error[0].value


@pytest.mark.parametrize("model", ["resnet50", "vgg16"])
def test_other_classifiers_render(model):
    at = open_page(PAGE)
    at.selectbox(key="feat_model").set_value(model).run()
    assert not at.exception


def test_a_new_image_starts_from_its_own_strongest_channel():
    """#28: the channel box kept the last image's channel (8) while the caption named the new image's strongest (5)."""
    at = open_page(PAGE)
    at.number_input(key="feat_channel_shapes-resnet18_layer1.0").set_value(7).run()
    assert any(c.startswith("channel 7: strongest activation") for c in image_captions(at))
    at.selectbox(key="feat_sample").set_value("generated circle").run()
    assert not at.exception
    strongest = next(c for c in image_captions(at) if c.startswith("layer1.0 (")).split("strongest first: ")[1]
    first = int(strongest.split(",")[0])
    assert at.number_input(key="feat_channel_shapes-resnet18_layer1.0").value == first
    assert any(c.startswith(f"channel {first}: strongest activation") for c in image_captions(at))
    # the Occlusion tab's channel too (a walk: it stayed on the last image's strongest while this tab moved on)
    assert at.number_input(key="feat_occ_ch_shapes-resnet18_layer1.0").value == first


def test_a_chosen_channel_outside_the_strongest_and_silent_on_the_image_is_said_to_be_both(page):
    """A walk chose layer4's channel 5 on chelsea: the caption listed it among "the 32 strongest", then said it was
    not among them; and its flat grey projection, every activation 0, came with no word."""
    page.selectbox(key="feat_sample").set_value("chelsea the cat (photo)").run()
    page.selectbox(key="feat_layer_shapes-resnet18").set_value("layer4").run()
    page.number_input(key="feat_channel_shapes-resnet18_layer4").set_value(5).run()
    assert not page.exception
    caption = next(c for c in image_captions(page) if c.startswith("layer4 ("))
    assert "the 31 channels with the strongest activations" in caption and caption.endswith(
        "; then the chosen channel, 5, which is not among the 32 strongest, in the last tile, framed in magenta."
    )
    assert any(i.value.startswith("Channel 5 does not fire on this image") for i in page.info)


def test_presenting_folds_each_tabs_controls_into_its_own_panel(page):
    """A walk presented the page: the layer toggle, the maps tab's layer and channel and the occlusion tab's
    controls stayed open beside the results, where the README says presenter mode folds every control."""
    page.session_state["view_compact"] = True
    page.run()
    assert not page.exception
    panels = {e.label: e for e in page.expander}
    assert panels["Settings"].toggle(key="feat_inside") is not None
    layer = panels["Layer and channel"]
    assert layer.selectbox(key="feat_layer_shapes-resnet18").value == "layer1.0"
    assert layer.number_input(key="feat_channel_shapes-resnet18_layer1.0") is not None
    assert len(panels["Occlusion settings"].slider) == 2


def test_a_photo_on_the_shapes_network_is_said_to_be_out_of_its_training(page):
    """A review slid occlusion over the cat for "triangle" on the shapes network, with no word that its classes are
    a guess for a photo (Home and Attributions say so)."""
    page.selectbox(key="feat_sample").set_value("chelsea the cat (photo)").run()
    assert not page.exception
    assert any(c.value.startswith(":material/help: Out of distribution") for c in page.caption)


def test_a_layer_with_negative_activations_says_they_are_drawn_black(page):
    """A review saw a convolution's maps (before its ReLU) with their negatives drawn black, unexplained."""
    page.selectbox(key="feat_layer_shapes-resnet18").set_value("layer0.0").run()
    assert not page.exception
    assert any(c.startswith("layer0.0 (") and "from 0 (black, negative values too)" in c for c in image_captions(page))
    page.selectbox(key="feat_layer_shapes-resnet18").set_value("layer1.0").run()  # after a ReLU: nothing negative
    assert not any("negative values too" in c for c in image_captions(page))
