"""The detection page through AppTest."""

from tests.app_helpers import image_captions, open_page, plotly_specs
from tests.hostile_files import BAD, GOOD

PAGE = "pages/detection.py"


def test_a_generated_scene_is_detected_and_filters_redraw():
    at = open_page(PAGE)
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert len(table) >= 2 and set(table["class"]) <= {"circle", "square", "triangle", "star", "hexagon", "cross"}
    at.slider(key="det_threshold").set_value(0.99).run()
    assert len(at.dataframe[0].value) <= len(table) and not at.exception
    assert any(c.startswith("generated scene 1:") for c in image_captions(at))
    import json

    widths = {k: v.get("width") for k, v in json.loads(at.dataframe[0].proto.columns).items()}
    assert widths["mask px"] and sum(w for w in widths.values() if isinstance(w, int)) <= 360  # no column cut off
    stage3 = next(m.value for m in at.markdown if m.value.startswith("**3. Detections.**"))
    assert f"The table above lists {len(at.dataframe[0].value)} of them" in stage3
    labels = [b.label for b in at.get("download_button")]
    assert "COCO JSON" in labels and "Overlay PNG" in labels


def test_offline_banner_for_a_coco_model():
    at = open_page(PAGE)
    at.selectbox(key="det_model").set_value("keypointrcnn_resnet50_fpn").run()
    assert not at.exception
    assert any("Offline fallback in use" in w.value for w in at.warning)
    coco = [c.value for c in at.caption if "keypoint AP 65.0 on COCO val2017" in c.value]
    assert coco and coco[0].startswith("Not running here") and "bundled model's" in coco[0]


def test_uploads_good_and_bad():
    at = open_page(PAGE)
    at.file_uploader(key="det_upload").upload("photo.png", GOOD["rgb.png"], "image/png").run()
    assert not at.exception and not at.error
    at.file_uploader(key="det_upload").upload("bad.png", BAD["text.png"], "image/png").run()
    assert not at.exception and len(at.error) == 1


def test_clicking_a_row_shows_its_mask_logits_and_explains_it():
    at = open_page(PAGE)
    at.session_state["det_table"] = {"selection": {"rows": [0], "columns": []}}  # what a click on row 0 sends
    at.run()
    assert not at.exception
    captions = image_captions(at)
    assert "the pasted full-resolution mask" in captions
    assert any("Grad-CAM at P2 (found again with IoU" in c for c in captions)
    titles = [s["layout"]["title"]["text"] for s in plotly_specs(at) if s["layout"].get("title")]
    assert "28 x 28 mask logits" in titles
    cam = [s for s in plotly_specs(at) if "the map alone" in (s["layout"].get("title") or {}).get("text", "")]
    assert cam and cam[0]["data"][0]["type"] == "heatmap"  # Grad-CAM alone, with Plotly's colour bar
    at.radio(key="det_cam_level").set_value("2").run()
    assert not at.exception and any("Grad-CAM at P4" in c for c in image_captions(at))
