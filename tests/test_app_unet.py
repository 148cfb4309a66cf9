"""The U-Net page through AppTest."""

from streamlit.testing.v1 import AppTest

from tests.app_helpers import APP, TIMEOUT, image_captions, open_page, plotly_specs
from tests.hostile_files import BAD, GOOD

PAGE = "pages/unet.py"


def test_default_shows_the_u_the_ablation_and_a_scored_prediction():
    at = open_page(PAGE)
    assert not at.exception
    titles = [s["layout"]["title"]["text"] for s in plotly_specs(at) if s["layout"].get("title")]
    assert "U-Net" in titles and "U-Net without skip connections" in titles
    captions = image_captions(at)
    assert "true labels" in captions
    assert any(c.startswith("with skips: mean IoU") for c in captions)
    assert any(c.startswith("without skips: mean IoU") for c in captions)
    assert sum(c.startswith(("encoder", "decoder")) for c in captions) == 7
    # an error map per network; cyan, not red, which is the circle's colour in the label maps beside them
    assert sum("wrongly labelled pixels, in cyan" in c for c in captions) == 2
    assert any("classes in the true labels" in m.value and "pixels right" in m.value for m in at.markdown)
    # the class colours' legend right under the label pictures, before the scores and the error maps (a walk found it
    # under the error maps, a screen away from the pictures it explains)
    texts = [m.value for m in at.markdown]
    legend = next(i for i, t in enumerate(texts) if "■" in t)
    assert legend < next(i for i, t in enumerate(texts) if "classes in the true labels" in t)


def test_the_page_says_where_its_u_net_departs_from_the_papers():
    """A fidelity review: the page cited Ronneberger et al. without its departures; a walk then missed the input size,
    the loss weighting and the elastic deformations. A table, shown when presenting too, sets the paper beside the
    shipped network, its sizes read from the manifest (both shipped networks have the same)."""
    import json

    from models.hub.checkpoints import MANIFEST

    shipped = json.loads(MANIFEST.read_text())
    for compact in (False, True):
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.query_params["view_compact"] = str(compact).lower()  # presenting: the prose is hidden, the table is not
        at.switch_page(PAGE).run()
        assert not at.exception
        # the prose names the folded panel the table is in ("the table below" was not to be seen: a walk)
        said = "The panel **The paper's U-Net and this one** below says where"
        assert any(said in m.value for m in at.markdown) is not compact
        assert any(e.label == "The paper's U-Net and this one" for e in at.expander)
        (table,) = at.table
        rows = {r[0]: (r[1], r[2]) for r in table.value.itertuples(index=False)}
        assert rows["task"][1].startswith(f"generated RGB scenes, {len(shipped['shapes-unet']['classes'])} classes")
        assert set(rows) == {
            "task",
            "input and output",
            "depth and width",
            "normalisation",
            "loss",
            "augmentation",
            "optimiser",
        }
        for name in ("shapes-unet", "shapes-unet-noskip"):
            config, trained = shipped[name]["config"], shipped[name]["trained"]
            size, base, depth = config["image_size"], config["base"], config["depth"]
            assert rows["input and output"][1].startswith(f"{size} x {size} generated scene in")
            assert rows["depth and width"] == (
                "4 poolings, 64 to 1,024 channels",
                f"{depth} poolings, {base} to {base * 2**depth} channels",
            )
            assert f"{trained['train_size']:,} generated scenes" in rows["augmentation"][1]
            assert f"{trained['epochs']} epochs" in rows["optimiser"][1]
        assert "572 x 572" in rows["input and output"][0] and "elastic deformations" in rows["augmentation"][0]
        assert "w0 = 10" in rows["loss"][0] and rows["loss"][1] == "per-pixel cross-entropy, unweighted"


def test_another_scene_and_an_uploaded_image():
    at = open_page(PAGE)
    at.number_input(key="unet_seed").set_value(42).run()
    assert not at.exception
    at.radio(key="unet_source").set_value("any").run()
    assert not at.exception and "true labels" in image_captions(at)  # its default, a generated sample, has them
    at.file_uploader(key="unet_upload").upload("photo.png", GOOD["rgb.png"], "image/png").run()
    assert not at.exception and "true labels" not in image_captions(at)  # an upload's labels are not known
    at.file_uploader(key="unet_upload").upload("bad.png", BAD["truncated.png"], "image/png").run()
    assert not at.exception and len(at.error) == 1


def test_a_tiny_upload_is_said_to_hold_almost_nothing():
    """A walk's 1 x 1 upload came back all background under 'on a photo they find shapes where there are none'."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 30, 30)).save(buffer, "PNG")
    at = open_page(PAGE)
    at.radio(key="unet_source").set_value("any").run()
    at.file_uploader(key="unet_upload").upload("tiny.png", buffer.getvalue(), "image/png").run()
    assert not at.exception
    captions = at.caption.values
    assert any("on a photo they may find shapes where there are none" in c for c in captions)
    assert any("This image is only 1 x 1 pixels" in c for c in captions)


def test_a_generated_sample_is_scored_against_the_generators_labels():
    """A walk: under "any image" the default "generated scene 1" lost a small circle, with no truth, no score and a
    caption about photos, though the generator knows every pixel's label. Its labels, cropped and shrunk as the
    image is, are shown and score both networks; a caption says how such samples differ from the training scenes."""
    from explain.methods.segmentation import sample_note

    at = open_page(PAGE)
    at.radio(key="unet_source").set_value("any").run()
    assert not at.exception
    captions = image_captions(at)
    assert "true labels" in captions
    assert any(c.startswith("with skips: mean IoU ") for c in captions)
    assert any(c.startswith("without skips: mean IoU ") for c in captions)
    assert any(sample_note("generated scene 1") in c for c in at.caption.values)
    assert "scenes of 2 to 4 shapes of radius 12% to 25%" in sample_note("generated scene 1")
    assert not any("on a photo they may find shapes" in c for c in at.caption.values)


def test_presenting_names_the_scene_and_the_networks_and_the_bars_wear_the_skips_colour():
    """A walk presented the page: the "Predict" heading was folded into Settings and nothing named the scene shown;
    and orange meant the skips in the U but "without skips" in the bars beneath it."""
    from explain.figures.unet import NO_SKIP_COLOUR, SKIP_COLOUR

    at = open_page(PAGE)
    at.session_state["view_compact"] = True
    at.number_input(key="unet_seed").set_value(42).run()
    assert not at.exception and "Predict" in [h.value for h in at.subheader]
    assert ":material/visibility: example scene 42 · the bundled U-Nets, with and without skip connections" in " ".join(
        at.caption.values
    )
    caveat = ":material/help: They were trained on generated shapes only: on a photo they may find shapes"
    assert not any(c.startswith(caveat) for c in at.caption.values)  # a scene with its labels: none to say
    at.radio(key="unet_source").set_value("any").run()
    at.file_uploader(key="unet_upload").upload("photo.png", GOOD["rgb.png"], "image/png").run()
    # a photo: said under the folded settings (a lecturer's walk projected a cat segmented into triangles, unsaid)
    assert any(c.startswith(caveat) for c in at.caption.values)
    at.radio(key="unet_source").set_value("scene").run()
    specs = plotly_specs(at)
    bars = next(s for s in specs if s["data"] and s["data"][0]["type"] == "bar")
    assert [(t["name"], t["marker"]["color"]) for t in bars["data"]] == [
        ("with skips", SKIP_COLOUR),
        ("without skips", NO_SKIP_COLOUR),
    ]
    u = next(s for s in specs if s["layout"].get("title", {}).get("text") == "U-Net")
    assert SKIP_COLOUR in {a.get("arrowcolor") for a in u["layout"]["annotations"]}
