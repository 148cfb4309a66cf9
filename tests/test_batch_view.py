"""The batch view: one method over a labelled set, prediction against truth per image (library and page)."""

from __future__ import annotations

import pytest

from explain.methods.batch_view import (
    MAX_BATCH,
    LabelledImage,
    explain_batch,
    generated_shapes,
    settings_text,
    summary,
)
from explain.methods.classify import prepare
from explain.methods.layers import default_cam_layer, spatial_layers
from models.classifiers import load_classifier
from tests.app_helpers import image_captions, open_page


@pytest.fixture(scope="module")
def shapes_model():
    return load_classifier("shapes-resnet18")


def test_the_bundled_model_on_generated_shapes(shapes_model):
    model, info = shapes_model
    images = generated_shapes(6, seed=1)
    assert sorted(im.truth for im in images) == sorted(info.categories)  # every class once
    items = explain_batch(model, info.preprocess, info.categories, images, "saliency")
    assert [it.truth for it in items] == [im.truth for im in images]
    assert all(it.correct for it in items) and summary(items).startswith(
        "6 of 6 predicted right (100%). All right, so no wrong answer to compare"
    )
    assert "images of its classes it may get wrong" in summary(items)  # not "photos", which have no shape label
    assert all(it.map.ndim == 2 and it.map.min() >= 0 and it.map.max() <= 1 for it in items)  # at the input size
    assert all(it.explained == it.predicted for it in items)
    # a CAM method too (the tab offers every method, and these failed for want of a layer: a notebook review)
    cams = explain_batch(model, info.preprocess, info.categories, images[:2], "grad_cam")
    assert all(it.map.shape == items[0].map.shape and it.map.max() > 0 for it in cams)
    # the line above the maps names the layer the method took, the page's default, found once for the set
    assert all(it.layer == "layer2" for it in cams) and all(it.layer is None for it in items)
    assert default_cam_layer(spatial_layers(model, prepare(images[0].image, info.preprocess))) == "layer2"
    assert settings_text(cams, "grad_cam") == "Grad-CAM at `layer2`, default parameters, absolute values"
    assert settings_text(items, "saliency") == "Saliency, default parameters, absolute values"


def test_maps_for_the_true_class_and_labels_the_model_lacks(shapes_model):
    model, info = shapes_model
    star = generated_shapes(6, seed=1)[0]
    wrong = LabelledImage("mislabelled", star.image, next(c for c in info.categories if c != star.truth))
    unknown = LabelledImage("a cat?", star.image, "tabby cat")
    items = explain_batch(model, info.preprocess, info.categories, [wrong, unknown], "saliency", target="true")
    assert items[0].correct is False and items[0].explained == wrong.truth != items[0].predicted
    assert items[1].correct is None and items[1].explained == items[1].predicted
    assert summary(items) == "0 of 1 predicted right (0%); 1 without a true label the model knows"
    assert summary(items[1:]) == "1 image; none has a true label among the model's classes."
    unlabelled = explain_batch(
        model, info.preprocess, info.categories, [LabelledImage("mine", star.image, None)], "saliency"
    )
    assert summary(unlabelled) == "1 image, none given a true label: nothing to judge right or wrong."
    with pytest.raises(ValueError):
        explain_batch(model, info.preprocess, info.categories, [star] * (MAX_BATCH + 1), "saliency")


@pytest.mark.parametrize("method", ["saliency", "grad_cam"])  # a CAM method failed there for want of a layer
def test_the_attributions_page_explains_a_labelled_set(method):
    at = open_page("pages/attributions.py")
    at.slider(key="attr_batch_n").set_value(6).run()
    at.selectbox(key="attr_batch_method").set_value(method).run()
    next(b for b in at.button if b.label == "Explain 6 images").click().run()
    assert not at.exception and not at.error
    assert any("6 of 6 predicted right" in m.value for m in at.markdown)
    shown = [c for c in image_captions(at) if c.startswith("✓ shape #")]
    assert len(shown) == 6 and all("true " in c and "predicted " in c for c in shown)
    if method == "saliency":  # presenting, the set and the method fold into a panel, the button left in view
        at.session_state["view_compact"] = True
        at.run()
        (panel,) = [e for e in at.expander if e.label == "Images and method"]
        assert [s.key for s in panel.selectbox] == ["attr_batch_method"] and len(panel.slider) == 1
        assert not [b for b in panel.button if b.label == "Explain 6 images"] and not at.exception
        assert any(b.label == "Explain 6 images" for b in at.button)
        # the line above the tabs names the Maps tab's image and class; this tab says its maps are of its own images
        said = [c.value for c in at.caption if "its own images" in c.value]
        assert said == [
            ":material/visibility: This tab explains its own images, each for its predicted class (not the above)"
        ]


def test_a_refused_upload_leaves_no_gap_among_the_true_label_boxes():
    """A walk: with a text file uploaded first, the next image's "True label" box sat in the second column and the
    first stood empty (the column was counted over the uploads, not over the images kept)."""
    from tests.hostile_files import BAD, GOOD

    at = open_page("pages/attributions.py")
    at.radio(key="attr_batch_source").set_value("uploads").run()
    files = [("text.png", BAD["text.png"], "image/png"), ("a.png", GOOD["rgb.png"], "image/png")]
    at.file_uploader(key="attr_batch_files").set_value(files).run()
    assert not at.exception
    assert any("text.png" in w.value for w in at.warning)  # the refusal, in its one line
    columns = list(at.columns)
    i = next(i for i, c in enumerate(columns) if [b.label for b in c.selectbox] == ["True label of a.png"])
    row = columns[i].proto.weight  # the four columns of the labels' row weigh a quarter each
    assert row == 0.25 and not (columns[i - 1].proto.weight == row and not list(columns[i - 1].selectbox))


def test_the_same_image_uploaded_twice_is_in_the_set_once():
    """A review: two identical files gave two label boxes with one key, which Streamlit refuses with an exception."""
    from tests.hostile_files import GOOD

    at = open_page("pages/attributions.py")
    at.radio(key="attr_batch_source").set_value("uploads").run()
    files = [("a.png", GOOD["rgb.png"], "image/png"), ("copy.png", GOOD["rgb.png"], "image/png")]
    at.file_uploader(key="attr_batch_files").set_value(files).run()
    assert not at.exception
    assert any("copy.png: the same image as a.png, which is in the set already" in w.value for w in at.warning)
    assert [b.label for b in at.selectbox if b.label.startswith("True label of")] == ["True label of a.png"]


def test_uploads_to_the_shapes_model_get_the_out_of_distribution_note():
    """A walk: the Maps view warned that the shapes model meets a photo unlike its data; the labelled set of
    photos had no word. The same note, once, under the uploads."""
    from tests.hostile_files import GOOD

    at = open_page("pages/attributions.py")
    at.radio(key="attr_batch_source").set_value("uploads").run()
    assert not [c for c in at.caption if "Out of distribution" in c.value]  # nothing uploaded yet
    files = [("a.png", GOOD["rgb.png"], "image/png"), ("b.png", GOOD["grey.png"], "image/png")]
    at.file_uploader(key="attr_batch_files").set_value(files).run()
    assert not at.exception
    notes = [c.value for c in at.caption if c.value.startswith(":material/help: Out of distribution")]
    assert len(notes) == 1


def test_a_share_between_none_and_all_never_reads_as_either() -> None:
    """199 of 200 right read "(100%)", as a detection of score 0.998 read "star 100%" (a walk)."""
    from explain.methods.batch_view import share_text

    assert [share_text(*c) for c in ((0, 5), (5, 5), (199, 200), (1, 300), (3, 6))] == [
        "0%",
        "100%",
        ">99%",
        "<1%",
        "50%",
    ]
