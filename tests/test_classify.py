import torch
from PIL import Image
from torch import nn

from explain.figures.charts import top_k_bar
from explain.methods.classify import Prediction, prepare, top_k


class Fixed(nn.Module):
    def forward(self, x):
        return torch.tensor([[0.0, 3.0, 1.0, 2.0]]).expand(len(x), 4)


def test_top_k_is_sorted_and_labelled():
    preds = top_k(Fixed(), torch.zeros(1, 3, 8, 8), ["a", "b", "c", "d"], k=3)
    assert [p.label for p in preds] == ["b", "d", "c"]
    assert preds[0].probability > preds[1].probability > preds[2].probability
    assert abs(sum(p.probability for p in top_k(Fixed(), torch.zeros(1, 3, 8, 8), "abcd", k=10)) - 1) < 1e-6


def test_prepare_pads_extreme_strips_before_the_transform():
    seen = []

    def preprocess(im):
        seen.append(im.size)
        return torch.zeros(3, 4, 4)

    batch = prepare(Image.new("RGB", (2000, 4)), preprocess, torch.device("cpu"))
    assert batch.shape == (1, 3, 4, 4) and seen == [(2000, 500)]


def test_bar_chart_puts_the_best_class_on_top():
    fig = top_k_bar(top_k(Fixed(), torch.zeros(1, 3, 8, 8), "abcd", k=4), "t")
    assert list(fig.data[0].y) == ["a", "c", "d", "b"]
    # ticks up to 100% and labels never on their side (a walk: ticks stopped at 80%, a thin bar's label turned)
    assert list(fig.layout.xaxis.tickvals)[-1] == 1.0 and fig.data[0].textangle == 0
    assert fig.layout.margin.r >= 25  # room for half the '100%' label: with 10 px it was cut off (a walk, in Chromium)
    # class names that look like numbers stay names, one bar each (a walk: a digits network's "5" drawn between ticks)
    digits = top_k_bar(top_k(Fixed(), torch.zeros(1, 3, 8, 8), ["0", "1", "2", "3"], k=4))
    assert digits.layout.yaxis.type == "category" and list(digits.data[0].y) == ["0", "2", "3", "1"]
    # every bar has its label, beside the bar when the bar is short (a walk: near-zero rows had none)
    tiny = top_k_bar([Prediction(0, "a", 0.9), Prediction(1, "b", 0.1), Prediction(2, "c", 1e-7)])
    assert list(tiny.data[0].text) == ["<0.1%", "10.0%", "90.0%"]
    assert list(tiny.data[0].textposition) == ["outside", "outside", "inside"]


def test_an_out_of_distribution_note_only_where_the_training_data_is_known_and_the_image_is_not_of_it():
    from models.classifiers import out_of_distribution

    note = out_of_distribution("My net", ["0", "1", "background"], "digit scans", from_training_data=False)
    assert note.startswith("Out of distribution: My net was trained only on digit scans;") and "(0, 1)" in note
    assert out_of_distribution("My net", ["0", "1"], "digit scans", from_training_data=True) == ""
    assert out_of_distribution("Uploaded", ["0", "1"], None, from_training_data=False) == ""  # data not known


def test_which_images_a_classifier_knows_is_decided_outside_the_pages():
    """The rule the pages apply (it lived in ui/, out of a notebook's reach): the bundled model knows the one-shape
    samples only; a network trained on the Build page knows its own test images, and the one-shape samples when it
    trained on generated shapes; an ImageNet model's or an uploaded network's data is not said."""
    from dataclasses import replace

    from explain.methods.classify import training_data, unlike_training
    from models.classifiers import load_classifier

    _, bundled = load_classifier("shapes-resnet18")
    assert training_data("bundled") == ("generated images of one shape each", True)
    assert unlike_training(bundled, "generated", "generated star") == ""
    for kind, name in (("generated", "generated scene 1"), ("own", "cat.png"), ("photo", "chelsea")):
        assert unlike_training(bundled, kind, name).startswith("Out of distribution:"), (kind, name)
    own = replace(bundled, source="own", title="My net")
    assert unlike_training(own, "model-data", "test image 3", "digits") == ""  # its own test images
    assert unlike_training(own, "generated", "generated star", "resnet-shapes") == ""
    assert "digit scans" in unlike_training(own, "generated", "generated star", "digits")
    assert training_data("own", None) is None and unlike_training(own, "own", "x.png") == ""  # uploaded: unknown
    assert training_data("cache") is None and unlike_training(replace(bundled, source="cache"), "own", "a") == ""
