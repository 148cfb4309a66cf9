"""Links to a view: a page opened with query parameters shows the view they name; a value it cannot take is
dropped, never raised; the compact mode hides the explanatory text; an upload is named by its hash within its
session (AppTest, no browser)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from explain.inputs.images import image_sha256
from tests.app_helpers import click_row, open_link, open_page
from tests.hostile_files import GOOD


def intro_text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_a_link_restores_the_attributions_view():
    at = open_link(
        "pages/attributions.py",
        {
            "attr_sample": "generated circle",
            "attr_methods": ["Saliency", "Occlusion"],
            "attr_mode": "signed",
            "attr_pct": "95.5",
            "attr_alpha": "0.4",
        },
    )
    assert not at.exception
    assert at.selectbox(key="attr_sample").value == "generated circle"
    assert at.multiselect(key="attr_methods").value == ["saliency", "occlusion"]
    assert at.radio(key="attr_mode").value == "signed"
    assert at.slider(key="attr_pct").value == 95.5 and at.slider(key="attr_alpha").value == 0.4
    box = next(b for b in at.selectbox if b.label == "Explain the class")
    assert box.options[0] == "circle"  # the model's answer for the linked image


def test_the_copy_box_holds_the_views_link():
    # A widget's change reaches the URL through the browser (tests/test_browser.py follows one); here the link
    # a page was opened with is the one it offers to copy.
    at = open_link("pages/attributions.py", {"attr_mode": "signed", "attr_pct": "97.0"})
    link = at.sidebar.code[0].value
    assert "attr_mode=signed" in link and "attr_pct=97.0" in link
    # every value of a list (a review: to_dict() kept the last, so two methods chosen linked one)
    at = open_link("pages/attributions.py", {"attr_methods": ["Saliency", "Occlusion"]})
    link = at.sidebar.code[0].value
    assert "attr_methods=Saliency" in link and "attr_methods=Occlusion" in link


@pytest.mark.parametrize(
    "params",
    [
        {"attr_pct": "1e309", "attr_alpha": "nan", "attr_mode": "<script>alert(1)</script>"},
        {"attr_methods": ["Nope"] * 50, "attr_sample": "../../etc/passwd", "view_compact": "maybe"},
        {"attr_pct": "9" * 5000, "unknown": "x", "attr_model": "not-a-model"},
    ],
)
def test_a_hostile_link_opens_the_defaults_without_an_error(params):
    at = open_link("pages/attributions.py", params)
    assert not at.exception
    assert at.slider(key="attr_pct").value == 99.0 and at.radio(key="attr_mode").value == "absolute"
    assert at.selectbox(key="attr_model").value == "shapes-resnet18"


@pytest.mark.parametrize(
    ("page", "params", "key", "default"),
    [
        ("pages/training.py", {"bn_steps": "inf", "bn_seed": "-inf", "aug_n": "8"}, "bn_steps", 3000),
        ("pages/build.py", {"build_epochs": "Infinity", "build_seed": "1e999"}, "build_epochs", None),
        ("pages/transfer.py", {"tf_seeds": "-1e999", "tf_epochs": "+inf"}, "tf_seeds", None),
    ],
)
def test_an_infinite_number_in_a_link_is_dropped_not_raised(page, params, key, default):
    """A review over loopback: Streamlit 1.67 raised OverflowError on the page for `?bn_steps=inf` (any whole-number
    input bound to the URL), and the parameter stayed in the link, so every reload failed again."""
    at = open_link(page, params)
    assert not at.exception
    assert not [k for k in at.query_params if params.get(k, "").lstrip("+-").lower() in ("inf", "infinity", "1e999")]
    value = at.number_input(key=key).value
    assert value == default if default is not None else isinstance(value, int)
    if page == "pages/training.py":
        assert at.slider(key="aug_n").value == 8  # the link's other values stay


def test_links_restore_the_other_pages_main_settings():
    at = open_link("pages/detection.py", {"det_threshold": "0.3", "det_sample": "generated scene 2"})
    assert not at.exception and at.slider(key="det_threshold").value == 0.3
    assert at.selectbox(key="det_sample").value == "generated scene 2"
    at = open_link("pages/training.py", {"bn_act": "relu", "bn_lr": "0.1", "aug_n": "8"})
    assert not at.exception and at.selectbox(key="bn_act").value == "relu"
    assert at.select_slider(key="bn_lr").value == 0.1 and at.slider(key="aug_n").value == 8
    at = open_link(
        "pages/transfer.py", {"transfer_axis": "n^-1/2 (as in the paper)", "transfer_metric": "loss"}
    )  # labels travel
    assert not at.exception and at.radio(key="transfer_axis").value == "inv_sqrt"
    assert at.radio(key="transfer_metric").value == "loss"


def test_a_link_opens_the_detection_it_was_copied_on() -> None:
    """The walk: the clicked detection was not in the URL. It is named by its place among all the model found, so
    a link copied with some classes filtered out (their filter is not in the URL) still opens it; a click puts it
    into the URL, and another image takes it out."""
    first = open_page("pages/detection.py")
    everything = list(first.dataframe[0].value.itertuples(index=False))
    assert len(everything) >= 3
    at = open_link("pages/detection.py", {"det_row": "3"})
    assert not at.exception and at.query_params["det_row"] == "3" and not link_notes(at)  # taken: nothing to say
    assert "Click a row of the detections table" not in " ".join(i.value for i in at.info)  # one detection in focus
    focused = at.session_state[at.dataframe[0].key]["selection"]["rows"]
    assert focused == [2] and at.dataframe[0].value.iloc[2]["class"] == everything[2][0]
    click_row(at, 0)  # a click on the first row
    assert at.query_params["det_row"] == "1"
    # filtering out another class keeps the clicked detection in focus, on its new row; filtering out its own
    # leaves none, and nothing comes back when something else changes (a walk: the browser kept the old row number
    # ticked on the shorter list and sent it with the next change, focusing a detection nobody clicked)
    (classes,) = [m for m in at.multiselect if m.label == "Classes"]
    other = next(row[0] for row in everything if row[0] != everything[0][0])
    classes.set_value([c for c in classes.value if c != other]).run()
    assert at.query_params["det_row"] == "1" and at.session_state[at.dataframe[0].key]["selection"]["rows"] == [0]
    (classes,) = [m for m in at.multiselect if m.label == "Classes"]
    classes.set_value([c for c in classes.value if c != everything[0][0]]).run()
    assert "det_row" not in at.query_params and not at.session_state[at.dataframe[0].key]["selection"]["rows"]
    assert any(i.value.startswith("Detection 1 of ") and "is hidden by the score threshold" in i.value for i in at.info)
    at.slider(key="det_threshold").set_value(0.45).run()
    assert "det_row" not in at.query_params
    # with two classes filtered out, the first row is another detection, named by its own place among all
    click_row(at, 0)
    first_left = next(n for n, row in enumerate(everything) if row[0] not in (everything[0][0], other))
    assert at.query_params["det_row"] == str(first_left + 1)
    at.selectbox(key="det_sample").set_value("generated scene 2").run()
    assert not at.exception and "det_row" not in at.query_params
    for stale in ("0", "99", "two"):  # a link to no detection opens none, and says so (a walk: dropped silently)
        at = open_link("pages/detection.py", {"det_row": stale})
        assert not at.exception and not at.error and "det_row" not in at.query_params
        (note,) = link_notes(at)
        assert note.startswith(f"This link's `det_row`=`{stale}` is not a value this page can show")
        at.run()
        assert not link_notes(at)  # said once
    # 5,000 digits read as an infinite number and are dropped before the page draws: named too (a loopback review)
    at = open_link("pages/detection.py", {"det_row": "1" * 5000})
    assert not at.exception and "det_row" not in at.query_params
    (note,) = link_notes(at)
    assert note.startswith(f"This link's `det_row`=`{'1' * 40}…` is not a value this page can show")
    # several rows: the last is taken and all are named, as a one-value widget's (a review: the first went unsaid)
    at = open_link("pages/detection.py", {"det_row": ["99", "2"]})
    assert at.session_state[at.dataframe[0].key]["selection"]["rows"] == [1]
    (note,) = link_notes(at)
    assert note.startswith("This link's `det_row`=`99,2` is not a value")
    # a link to another browser's upload: the sample is shown instead (said), and the link's row, which is of the
    # upload, focuses none of the sample's detections (a review: an unrelated detection was focused without a word)
    at = open_link("pages/detection.py", {"upload": "ab" * 32, "det_row": "2"})
    assert not at.exception and "det_row" not in at.query_params and not link_notes(at)
    assert any("another browser," in i.value for i in at.info)
    assert not at.session_state[at.dataframe[0].key]["selection"]["rows"]


def test_compact_mode_hides_the_explanatory_text():
    full = open_link("pages/attributions.py", {})
    compact = open_link("pages/attributions.py", {"view_compact": "true"})
    assert not compact.exception and compact.sidebar.toggle(key="view_compact").value
    assert "Pick an image, a classifier and a class" in intro_text(full)
    assert "Pick an image, a classifier and a class" not in intro_text(compact)
    assert compact.title[0].value == full.title[0].value  # the title and the results stay


def test_an_upload_is_named_by_its_hash_and_found_again_in_its_session():
    at = open_link("pages/home.py", {})
    data = GOOD["rgb.png"]
    at.file_uploader(key="home_upload").upload("photo.png", data, "image/png").run()
    sha = image_sha256(data)
    assert at.query_params["upload"] == sha
    at.file_uploader(key="home_upload").clear().run()  # the uploader is emptied (as after leaving the page)
    at.query_params["upload"] = sha  # the link still names it
    at.run()
    assert not at.exception and at.get("image")[0].captions == ["photo.png · 64 x 48"]
    at.selectbox(key="home_sample").set_value("generated circle").run()  # picking a sample drops it
    assert "upload" not in at.query_params and at.get("image")[0].captions[0].startswith("generated circle")


def test_an_upload_named_by_a_link_is_found_only_in_the_session_that_uploaded_it():
    mine = open_link("pages/home.py", {})
    data = GOOD["rgb.png"]
    mine.file_uploader(key="home_upload").upload("photo.png", data, "image/png").run()
    other = open_link("pages/home.py", {"upload": image_sha256(data)})  # the link, opened in another session
    assert not other.exception and len(other.info) == 1 and "another browser," in other.info[0].value
    assert other.get("image")[0].captions[0].startswith("generated star")


def test_an_upload_from_another_session_is_explained_in_one_line():
    at = open_link("pages/home.py", {"upload": "ab" * 32})
    assert not at.exception and len(at.info) == 1 and "another browser," in at.info[0].value
    assert at.get("image")[0].captions[0].startswith("generated star")


def test_a_link_sets_a_methods_layer_and_parameters():
    first = open_link("pages/attributions.py", {"attr_methods": ["Grad-CAM"]})
    layer = next(b for b in first.selectbox if b.key.startswith("attr_grad_cam_layer_"))
    other = next(o for o in layer.options if o != layer.value)
    at = open_link("pages/attributions.py", {"attr_methods": ["Grad-CAM"], layer.key: other})
    assert not at.exception and at.selectbox(key=layer.key).value == other


def test_links_saved_before_options_became_keys_still_restore_their_view():
    """#26: the U-Net source and the labelled-set source were captions used as logic, now keys with captions; a
    link carries the caption (Streamlit's bind writes the formatted option), so a link saved before still works."""
    at = open_link("pages/unet.py", {"unet_source": "any image (upload or sample)"})
    assert not at.exception and at.radio(key="unet_source").value == "any"
    assert at.file_uploader(key="unet_upload")  # the "any image" view: its uploader is on the page
    at = open_link("pages/attributions.py", {"attr_batch_source": "my uploads, labelled here"})
    assert not at.exception and at.radio(key="attr_batch_source").value == "uploads"


def chart_specs(at: AppTest) -> list[dict]:
    """The Plotly figures a run drew, as the JSON the browser gets."""
    import json

    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_presenter_mode_folds_the_controls_and_enlarges_the_figures():
    """#28.8: for a projector, the controls fold into one Settings panel (closed) above the results, a line names
    the image and the model in use, and figures are drawn with text 1.5 times larger."""
    normal = open_link("pages/attributions.py", {})
    shown = open_link("pages/attributions.py", {"view_compact": "true"})
    assert not shown.exception and not normal.exception
    panel = next(e for e in shown.expander if e.label == "Settings")
    assert not panel.proto.expanded
    assert panel.multiselect(key="attr_methods") and panel.selectbox(key="attr_model")  # the controls are in it
    assert not any(e.label == "Settings" for e in normal.expander)  # and in place when not presenting
    assert any("generated star · Shapes ResNet-18 (bundled)" in c.value for c in shown.caption)
    assert not any("generated star · Shapes" in c.value for c in normal.caption)
    big, small = chart_specs(shown)[0]["layout"], chart_specs(normal)[0]["layout"]  # the colour bar
    assert big["font"]["size"] == 18 and "size" not in small.get("font", {})
    assert big["xaxis"]["tickfont"]["size"] > 12 and big["height"] > small["height"]


def test_presenter_mode_folds_the_transfer_charts_and_the_augmentation_controls_and_says_where_train_is():
    """A second walk at 1280 x 720: Transfer's chart options, the augmentation editor and its image stood above the
    results, pushing them below the fold; Build's hint said "Press Train" with Train folded away."""
    transfer = open_link("pages/transfer.py", {"view_compact": "true"})
    assert not transfer.exception
    panel = next(e for e in transfer.expander if e.label == "Chart settings")
    assert not panel.proto.expanded and panel.radio(key="transfer_axis") and panel.multiselect(key="transfer_compare")
    assert not any(e.label == "Chart settings" for e in open_link("pages/transfer.py", {}).expander)
    training = open_link("pages/training.py", {"view_compact": "true"})
    assert not training.exception
    folded = [e for e in training.expander if e.label == "Settings"]
    assert any(
        {"aug_preset"} <= {w.key for w in e.selectbox} and {"aug_upload"} <= {w.key for w in e.get("file_uploader")}
        for e in folded
    )
    build = open_link("pages/build.py", {"view_compact": "true"})
    assert any(i.value.startswith("Open **Settings** above and press **Train**") for i in build.info)
    assert any(i.value.startswith("Press **Train**") for i in open_link("pages/build.py", {}).info)


def test_the_map_alone_shows_each_map_without_the_image():
    """#28.8: "the map alone" colours each map in full, without the image under it; the colour bar then shows the
    plain colour scale (no opacity), and the download's settings say which picture the PNGs are."""
    at = open_link("pages/attributions.py", {"attr_alone": "true"})
    assert not at.exception and at.toggle(key="attr_alone").value
    title = chart_specs(at)[0]["layout"]["title"]["text"]
    assert "opacity" not in title
    assert '"map alone"' in " ".join(j.value for j in at.json)


def test_presenter_mode_on_detection_folds_every_stage_control_and_hides_the_explanations():
    """#28 follow-up: on Detection the stages' controls stayed in place and their explanations were shown when
    presenting; now each control folds into its own closed panel and a stage keeps only its title."""
    shown = open_link("pages/detection.py", {"view_compact": "true"})
    normal = open_link("pages/detection.py", {})
    assert not shown.exception and not normal.exception
    # every label of the default scene on the projector too: its 1.5x labels left 2 of 6 off (a walk), so the
    # picture falls back to the normal size there
    from tests.app_helpers import image_captions

    assert "generated scene 1: Shapes Mask R-CNN (bundled)" in image_captions(shown)
    explanation = "The RPN scores every anchor box"
    assert any(explanation in m.value for m in normal.markdown)
    assert not any(explanation in m.value for m in shown.markdown)
    assert any(m.value == "**2. Region proposals.**" for m in shown.markdown)
    panels = {e.label: e for e in shown.expander}
    for label, kind, key in (
        ("Feature level", "radio", "det_level"),
        ("Proposals drawn", "slider", "det_n_props"),
        ("RoIAlign variant", "toggle", "det_roi_aligned"),
        ("IoU to be right", "slider", "det_truth_iou"),
    ):
        assert not panels[label].proto.expanded and getattr(panels[label], kind)(key=key), label
        assert label not in {e.label for e in normal.expander} and getattr(normal, kind)(key=key), label


def test_an_upload_follows_the_visitor_to_the_next_page_until_they_pick_a_sample():
    """A walk uploaded a photo on Classify, opened Attributions, and met the sample there: each of seven pages asked
    for the same photo again. Now the visitor's last upload is shown on every page, saying so, with a button back to
    the sample; picking a sample (or that button) drops it everywhere."""
    at = open_link("pages/home.py", {})
    data = GOOD["rgb.png"]
    at.file_uploader(key="home_upload").upload("photo.png", data, "image/png").run()
    for page, keeps_url in (("pages/attributions.py", True), ("pages/detection.py", False), ("pages/build.py", False)):
        if not keeps_url:  # the sidebar's links open a page with no query parameters (AppTest keeps them)
            at.query_params.clear()
        at.switch_page(page).run()
        assert not at.exception, page
        assert at.query_params["upload"] == image_sha256(data), page
        assert any(c.value.startswith("Showing your photo.png from earlier") for c in at.caption), page
    at.query_params.clear()
    at.switch_page("pages/unet.py").run()  # its default is a generated scene: it says where the photo is
    assert "Your photo.png from earlier is under **any image (upload or sample)**." in [c.value for c in at.caption]
    at.switch_page("pages/home.py").run()  # back where it was uploaded: its box is empty now, the photo still shown
    assert not at.exception and at.get("image")[0].captions == ["photo.png · 64 x 48"]
    at.switch_page("pages/build.py").run()
    at.button(key="build_use_sample").click().run()
    assert "upload" not in at.query_params
    assert not any(c.value.startswith("Showing photo.png") for c in at.caption)
    at.switch_page("pages/home.py").run()  # dropped on every page, not only this one
    assert not at.exception and at.get("image")[0].captions[0].startswith("generated star")


def test_removing_the_upload_from_its_box_shows_the_sample_again():
    """The caption said "remove it to use the samples", but the upload stayed: the URL still named it, and the page
    showed it from there."""
    at = open_link("pages/home.py", {})
    at.file_uploader(key="home_upload").upload("photo.png", GOOD["rgb.png"], "image/png").run()
    assert at.get("image")[0].captions == ["photo.png · 64 x 48"]
    at.file_uploader(key="home_upload").clear().run()
    assert not at.exception and "upload" not in at.query_params
    assert at.get("image")[0].captions[0].startswith("generated star")
    at.switch_page("pages/attributions.py").run()  # and no other page carries it
    assert not any(c.value.startswith("Showing photo.png") for c in at.caption)


def test_which_image_a_page_shows():
    """The rule behind every page's chooser (explain.inputs.image_choice): the page's own widgets first, then the
    link's upload, then the one the visitor gave another page, then the sample."""
    from explain.inputs.image_choice import image_source

    assert image_source(camera=True, upload=True, linked=True, carried=True) == "camera"
    assert image_source(camera=False, upload=True, linked=True, carried=True) == "upload"
    assert image_source(camera=False, upload=False, linked=True, carried=True) == "linked"
    assert image_source(camera=False, upload=False, linked=False, carried=True) == "carried"
    assert image_source(camera=False, upload=False, linked=False, carried=False) == "sample"


def test_an_upload_the_server_no_longer_holds_is_said_once_and_let_go():
    """A review: the kept uploads are bounded for the whole server, and a carried upload evicted by other visitors'
    vanished without a word. Now the page says so in one line and shows the sample; a link naming a missing upload
    says which image is shown instead (it said "the sample" while the carried upload was shown)."""
    from ui.view_link import kept_uploads

    at = open_link("pages/home.py", {})
    at.file_uploader(key="home_upload").upload("photo.png", GOOD["rgb.png"], "image/png").run()
    at.query_params.clear()
    at.switch_page("pages/attributions.py").run()
    at.query_params["upload"] = "ab" * 32  # a link naming an upload this session does not have
    at.run()
    (said,) = [i.value for i in at.info if "another browser," in i.value]
    assert said.endswith("(Your latest upload is shown meanwhile.)")
    assert any(c.value.startswith("Showing your photo.png from earlier") for c in at.caption)
    kept_uploads.clear()  # the server's store, as if other visitors' uploads had pushed this one out
    at.query_params.clear()
    at.switch_page("pages/detection.py").run()
    assert not at.exception
    gone = [i.value for i in at.info if "no longer held by this server" in i.value]
    assert gone == ["Your photo.png from earlier is no longer held by this server: upload it again."]
    assert at.query_params.get("upload") is None and not any(c.value.startswith("Showing your") for c in at.caption)
    at.run()  # said once: the upload is let go
    assert not any("no longer held" in i.value for i in at.info)


def test_a_browser_is_named_by_its_xsrf_token_the_same_in_every_tab_and_after_a_reload():
    """Kept uploads are found by the browser, not the session (a walk reloaded mid-lecture and lost the photo): the
    token inside Streamlit's XSRF cookie, unmasked, is the same whatever mask a load gave it, and no other browser's."""
    from explain.inputs.upload_limits import browser_key

    def cookie(token: bytes, mask: bytes) -> str:  # as Tornado writes it: a 4-byte mask repeated over the token
        return f"2|{mask.hex()}|{bytes(b ^ mask[i % 4] for i, b in enumerate(token)).hex()}|1733370000"

    token, other = bytes(range(16)), bytes(range(1, 17))
    first, reloaded = cookie(token, b"\x01\x02\x03\x04"), cookie(token, b"\xee\x09\x0a\x48")
    assert first != reloaded and browser_key(first) == browser_key(reloaded)
    assert browser_key(cookie(other, b"\x01\x02\x03\x04")) != browser_key(first)
    assert len(browser_key(first)) == 64  # a SHA-256, never the token itself
    for bad in (None, "", "1|abc", "2|zz|zz|1", "2|01020304|01|1", "2|01|" + "00" * 16 + "|1"):
        assert browser_key(bad) is None, bad


def link_notes(at: AppTest) -> list[str]:
    return [i.value for i in at.info if i.value.startswith("This link's ")]


def test_a_links_value_the_page_cannot_take_is_named_once_not_dropped_silently():
    """Streamlit drops a bound widget's URL value it cannot take (or corrects it) without a word: a link typed with
    a widget's key (`?unet_source=any`; the URL holds its label) silently showed another view. The first whole run
    names what was not taken; a value that is the widget's default, which Streamlit also clears, is not named, nor a
    parameter no widget is bound to that the page does not read (a page reading one names what it refuses: a
    detection's row, in the test above), nor anything on a later run."""
    at = open_link("pages/unet.py", {"unet_source": "any", "unet_seed": "7", "det_row": "x"})
    assert not at.exception
    (note,) = link_notes(at)
    assert note.startswith("This link's `unet_source`=`any` is not a value this page can show: it shows what")
    assert at.number_input(key="unet_seed").value == 7  # the link's other value is taken
    at.run()
    assert not link_notes(at)  # said once
    at = open_link("pages/unet.py", {"unet_source": "a generated scene (with its true labels)"})  # the default
    assert not at.exception and not link_notes(at)
    at = open_link("pages/training.py", {"bn_steps": "inf", "bn_act": "relu", "aug_n": "99"})
    (note,) = link_notes(at)  # an infinite number, dropped before any widget reads it; a slider's value past its end
    assert "`bn_steps`=`inf`" in note and "`aug_n`=`99`" in note and "bn_act" not in note
    assert "are not values this page can show" in note
    at = open_link("pages/training.py", {"bn_steps": ["500", "700"], "bn_act": "relu"})
    (note,) = link_notes(at)  # a one-value widget given two takes the last: the other is named with it
    assert "`bn_steps`=`500,700`" in note and at.number_input(key="bn_steps").value == 700
    at = open_link("pages/attributions.py", {"attr_methods": ["Saliency", "Nope"], "attr_mode": "signed"})
    # a list partly taken names the values it dropped (it named the whole list: a review read a taken one there)
    (note,) = link_notes(at)
    assert "`attr_methods`=`Nope` is not a value" in note and "Saliency" not in note and "attr_mode" not in note
    assert not link_notes(open_link("pages/attributions.py", {"attr_mode": "signed", "attr_pct": "95.5"}))
    # a link to another session's own network: the page's own line says why, and the notice adds no other reason
    (note,) = link_notes(open_link("pages/home.py", {"home_model": ""}))  # an empty value: not two backticks alone
    assert note.startswith("This link's `home_model`=*(empty)* is not a value this page can show")
    at = open_link("pages/home.py", {"home_model": "Yours: my net"})
    assert any("another" in i.value for i in at.info if not i.value.startswith("This link's ")) and not link_notes(at)


def test_a_links_number_is_taken_however_it_is_written():
    """Streamlit takes only a select slider's exact label: `?bn_lr=1` (the label is "1.0") was dropped for the default
    0.5 and named as not taken, and `bn_lr=0.50` was named though the page showed 0.5. The URL then holds the label."""
    at = open_link("pages/training.py", {"bn_lr": "1", "bn_bs": "060"})
    assert not at.exception and not link_notes(at)
    assert at.select_slider(key="bn_lr").value == 1.0 and at.select_slider(key="bn_bs").value == 60
    assert at.query_params["bn_lr"] == "1.0"
    at = open_link("pages/training.py", {"bn_lr": "0.50"})  # the default, written otherwise
    assert not at.exception and not link_notes(at) and at.select_slider(key="bn_lr").value == 0.5
    at = open_link("pages/build.py", {"build_lr": "3e-3", "build_gamma": "1"})  # labels "0.003" (format_func), "1.0"
    assert at.select_slider(key="build_lr").value == 0.003 and at.select_slider(key="build_gamma").value == 1.0
    at = open_link("pages/training.py", {"bn_lr": "0.3"})  # no such option: still named
    (note,) = link_notes(at)
    assert "`bn_lr`=`0.3`" in note and at.select_slider(key="bn_lr").value == 0.5


def test_a_link_keeps_the_transfer_comparison_and_says_when_it_names_another_browsers_sweep():
    """A walk: the "Compare with" choice was not in the link; and a copied link naming the visitor's own sweep,
    opened in another browser, said only that its value was not one the page can show."""
    from ui.views.transfer import NOT_YOURS

    published = "Published: Hoiem et al. 2021, ResNet-18, ImageNet -> CIFAR-100 (their measurements)"
    at = open_link("pages/transfer.py", {"transfer_compare": published})
    assert not at.exception and not link_notes(at)
    assert at.multiselect(key="transfer_compare").value == [published]
    theirs = "Yours: digits, 3 regimes, 1 image per class, 1 seed, 1 epoch"
    at = open_link("pages/transfer.py", {"transfer_source": theirs, "transfer_compare": [theirs, published]})
    assert not at.exception and not link_notes(at)  # said by the page, not as a value it cannot take
    infos = [i.value for i in at.info]
    assert NOT_YOURS.format(instead="shows the shipped sweep instead") in infos
    assert NOT_YOURS.format(instead="compares with the others the link names") in infos
    assert at.selectbox(key="transfer_source").value.startswith("Shipped: ")
    assert at.multiselect(key="transfer_compare").value == [published]
    at.run()  # said once: a later run judges the widgets' URL, not the link (a review: a sweep chosen to show and
    assert not any(i.value.startswith("This link names a sweep") for i in at.info)  # to compare read as foreign)
    # another value of the link dropped too: the link's notice still names the key (a review: it went unsaid)
    at = open_link("pages/transfer.py", {"transfer_compare": [theirs, "Terminal: gone", published]})
    (note,) = link_notes(at)
    assert "`transfer_compare`=" in note and NOT_YOURS.format(instead="compares with the others the link names") in [
        i.value for i in at.info
    ]
    assert "Terminal: gone" in note and "Published" not in note  # the values dropped, not the one taken
    # a sweep given twice is one sweep, taken: not named (a review)
    shipped = "Shipped: digits, bundled glyphs encoder (3 seeds)"
    at = open_link("pages/transfer.py", {"transfer_source": published, "transfer_compare": [shipped] * 2})
    assert not link_notes(at) and at.multiselect(key="transfer_compare").value == [shipped]
