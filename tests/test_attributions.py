import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
import torchvision
from captum.attr import (
    Deconvolution,
    GradientShap,
    GuidedBackprop,
    GuidedGradCam,
    InputXGradient,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from torch import nn

from explain.methods.attributions import (
    METHODS,
    attribute,
    baseline,
    defaults,
    panel_note,
    params_for,
    positive_only,
)
from explain.methods.layers import default_cam_layer, parametric_units, spatial_layers
from explain.methods.maps import to_map
from explain.methods.sanity import cascading_randomization
from models.classifiers import BUNDLED_CLASSIFIER, CLASSIFIERS, load_classifier


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 5),
    ).eval()


@pytest.fixture(scope="module")
def cnn():
    return small_cnn()


@pytest.fixture(scope="module")
def x():
    return torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def seeded(seed, fn):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        np.random.seed(seed)
        return fn()


def direct_calls(model, x, target):
    """What a person gets by calling Captum directly with the arguments our registry documents."""
    layer = model[3]
    zeros = torch.zeros_like(x)
    refs = torch.cat([zeros, baseline(x, "blurred")])
    stdev = 0.15 * float(x.max() - x.min())
    return {
        "saliency": Saliency(model).attribute(x, target=target, abs=False),
        "integrated_gradients": IntegratedGradients(model).attribute(
            x, baselines=zeros, target=target, n_steps=32, internal_batch_size=16
        ),
        "smoothgrad": seeded(
            0,
            lambda: NoiseTunnel(Saliency(model)).attribute(
                x, nt_type="smoothgrad", nt_samples=16, nt_samples_batch_size=16, stdevs=stdev, target=target, abs=False
            ),
        ),
        "input_x_gradient": InputXGradient(model).attribute(x, target=target),
        "gradient_shap": seeded(
            0, lambda: GradientShap(model).attribute(x, baselines=refs, n_samples=16, stdevs=0.1, target=target)
        ),
        "guided_backprop": GuidedBackprop(model).attribute(x, target=target),
        "deconvolution": Deconvolution(model).attribute(x, target=target),
        "grad_cam": LayerAttribution.interpolate(
            LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True), (16, 16), "bilinear"
        ),
        "guided_grad_cam": GuidedGradCam(model, layer).attribute(x, target=target, interpolate_mode="bilinear"),
        "occlusion": Occlusion(model).attribute(
            x, sliding_window_shapes=(3, 4, 4), strides=(3, 2, 2), baselines=0, target=target, perturbations_per_eval=32
        ),
        "grad_cam_pp": reference_grad_cam_pp(model, "3", x, target),
        "score_cam": torchcam_call("ScoreCAM", model, x, target, batch_size=32),
        "layer_cam": torchcam_call("LayerCAM", model, x, target),
    }


def reference_grad_cam_pp(model, layer, x, target):
    """Grad-CAM++ written out as the authors' code does it (adityac94/Grad_CAM_plus_plus, misc/utils.py,
    grad_CAM_plus: numpy, channels last, one image at a time, exp(score) included), upsampled as Captum's Grad-CAM is.
    torchcam 0.5.0's GradCAMpp is not used: its in-place division of the alphas acts on a copy (a fidelity review)."""
    maps, kept = [], []
    hook = model.get_submodule(layer).register_forward_hook(lambda m, i, out: kept.append(out))
    for image in x:
        score = model(image[None].clone().requires_grad_(True))[0, target]
        (grad,) = torch.autograd.grad(score, kept[-1])
        conv_output = kept[-1][0].detach().permute(1, 2, 0).double().numpy()  # h, w, channels
        g = grad[0].permute(1, 2, 0).double().numpy()
        e = float(torch.exp(score.detach()))
        first, second, third = e * g, e * g * g, e * g * g * g
        global_sum = conv_output.reshape(-1, g.shape[2]).sum(axis=0)
        alpha_denom = second * 2.0 + third * global_sum.reshape(1, 1, -1)
        alpha_denom = np.where(alpha_denom != 0.0, alpha_denom, np.ones(alpha_denom.shape))
        alphas = second / alpha_denom
        constant = alphas.sum(axis=0).sum(axis=0)
        alphas /= np.where(constant != 0, constant, 1.0).reshape(1, 1, -1)  # their code divides by 0 here: NaN
        weights = (np.maximum(first, 0.0) * alphas).reshape(-1, g.shape[2]).sum(axis=0)
        cam = np.maximum((weights * conv_output).sum(axis=2), 0) / e  # exp(score) scales the whole map: taken out
        maps.append(torch.from_numpy(cam).float()[None])
    hook.remove()
    return torch.nn.functional.interpolate(torch.stack(maps), size=x.shape[2:], mode="bilinear", align_corners=False)


def test_grad_cam_pp_is_the_papers_where_gradients_vary_over_the_map(cnn, x):
    """At layer "3" (before global pooling) every location's gradient is the same; at "1" (before max-pooling and a
    convolution) they vary, where Eq. 19's alphas matter. torchcam 0.5.0 gives another map there: its weights are the
    sum of ReLU(gradient) cubed, the alphas' division lost on a copy."""
    expected = reference_grad_cam_pp(cnn, "1", x, 2)
    got = attribute(cnn, x, "grad_cam_pp", 2, layer="1")
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)
    torchcam = torchcam_call("GradCAMpp", cnn, x, 2, layer="1")
    assert not torch.allclose(torchcam / torchcam.amax(), got / got.amax(), atol=1e-2)


def in_place_cnn(inplace: bool) -> nn.Module:
    """A network whose layer "1" (BatchNorm) is followed by a ReLU that, in place, overwrites its output, as in
    torchvision's ResNets, VGG and AlexNet; the same weights either way."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(inplace=inplace),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 5),
    ).eval()


@pytest.mark.parametrize("method", ["grad_cam_pp", "layer_cam", "score_cam"])
def test_a_cam_is_of_the_layers_own_output_when_the_next_step_overwrites_it(method, x):
    """A fidelity review: Grad-CAM++, LayerCAM and Score-CAM kept the chosen layer's output by reference, so a layer
    followed by an in-place ReLU (ResNet-18's `layer4.1.bn2`, AlexNet's conv5) got its ReLU's map. The map with the
    in-place ReLU equals the map without one (the layer's true output); Captum's Grad-CAM was right all along."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        x = x + 0.5 * torch.randn_like(x)  # negative BatchNorm outputs, for the ReLU to change
    got = attribute(in_place_cnn(True), x, method, 2, layer="1")
    expected = attribute(in_place_cnn(False), x, method, 2, layer="1")
    torch.testing.assert_close(got, expected)
    if method != "layer_cam":  # LayerCAM's ReLU(g) x A is the same before a ReLU and after it, by construction
        after_relu = attribute(in_place_cnn(False), x, method, 2, layer="2")
        assert not torch.allclose(got / got.amax(), after_relu / after_relu.amax(), atol=1e-2)  # not its ReLU's map


def test_score_cam_scales_each_map_before_upsampling_as_its_summary_says(cnn, x):
    """Score-CAM's panel and the README say torchcam scales each activation map to [0, 1] before upsampling it into a
    mask, where Wang et al.'s code upsamples first (a fidelity review found it unsaid). The images torchcam feeds the
    network are the input times the maps scaled at 8 x 8, then upsampled; not the maps upsampled, then scaled."""
    from torchcam import methods

    kept, fed = [], []
    hook = cnn[3].register_forward_hook(lambda m, i, out: kept.append(out.detach().clone()))
    with methods.ScoreCAM(cnn, "3", input_shape=tuple(x.shape[1:]), batch_size=256) as cam:
        scores = cnn(x)
        hook.remove()
        feeding = cnn.register_forward_pre_hook(lambda m, args: fed.append(args[0].detach().clone()))
        cam(class_idx=2, scores=scores)
        feeding.remove()
    activation = kept[0]  # (2, 16, 8, 8)
    assert "before" in METHODS["score_cam"].summary and activation.shape[-1] < x.shape[-1]

    def scaled(t):
        flat = t.flatten(-2)
        low, high = flat.amin(-1, keepdim=True), flat.amax(-1, keepdim=True)
        return ((flat - low) / (high - low).clamp_min(1e-7)).view_as(t)

    def up(t):
        return torch.nn.functional.interpolate(t, size=x.shape[2:], mode="bilinear", align_corners=False)

    inputs = x.repeat_interleave(activation.shape[1], 0)
    masks = torch.cat(fed)[-len(inputs) :]  # after the baseline's pass
    torch.testing.assert_close(masks, inputs * up(scaled(activation)).flatten(0, 1)[:, None])
    assert not torch.allclose(masks, inputs * scaled(up(activation)).flatten(0, 1)[:, None], atol=1e-3)


def torchcam_call(name, model, x, target, layer="3", **options):
    """torchcam used directly, as its README shows, on layer "3", the map upsampled as Captum's Grad-CAM is."""
    from torchcam import methods

    x = x.clone().requires_grad_(True)
    with getattr(methods, name)(model, layer, input_shape=tuple(x.shape[1:]), **options) as extractor:
        maps = extractor(class_idx=target, scores=model(x), normalized=False)[0]
    return torch.nn.functional.interpolate(maps[:, None], size=x.shape[2:], mode="bilinear", align_corners=False)


def test_registry_covers_the_issue():
    assert set(METHODS) == {
        "saliency",
        "integrated_gradients",
        "smoothgrad",
        "input_x_gradient",
        "gradient_shap",
        "guided_backprop",
        "deconvolution",
        "grad_cam",
        "guided_grad_cam",
        "occlusion",
        "grad_cam_pp",
        "score_cam",
        "layer_cam",  # class activation map variants (torchcam)
    }


@pytest.mark.parametrize("method", sorted(METHODS))
def test_attribute_equals_a_direct_captum_call(cnn, x, method):
    expected = direct_calls(cnn, x, 2)[method]
    params = {"layer": "3"} if "layer" in defaults(method) else {}
    if method == "occlusion":
        params = {"window": 4, "stride": 2}
    got = attribute(cnn, x, method, 2, **params)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected.detach(), rtol=1e-5, atol=1e-6)


FAST = {
    "integrated_gradients": {"n_steps": 4, "internal_batch_size": 4},
    "smoothgrad": {"nt_samples": 2},
    "gradient_shap": {"n_samples": 2},
    "occlusion": {"window": 48, "stride": 48},
    "score_cam": {"batch_size": 128},
}


@pytest.fixture(scope="module")
def zoo_models():
    models = {n: torchvision.models.get_model(n, weights=None).eval() for n, s in CLASSIFIERS.items() if s.weights}
    models[BUNDLED_CLASSIFIER] = load_classifier(BUNDLED_CLASSIFIER)[0]
    return models


@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_every_method_gives_a_finite_map_for_every_zoo_model(zoo_models, name):
    model = zoo_models[name]
    inp = torch.randn(1, 3, 96, 96)
    layer = default_cam_layer(spatial_layers(model, inp))
    for method in METHODS:
        if method == "score_cam" and name in ("vgg16", "resnet50"):
            continue  # one forward pass per channel of a 512- or 2048-channel layer; the other models cover it
        params = dict(FAST.get(method, {}))
        if "layer" in defaults(method):
            params["layer"] = layer
        out = attribute(model, inp, method, 1, **params)
        channels = 1 if method in ("grad_cam", "grad_cam_pp", "score_cam", "layer_cam") else 3
        assert out.shape == (1, channels, 96, 96), method
        assert torch.isfinite(out).all(), method


def test_default_cam_layer_is_at_least_7_by_7_at_the_input_size():
    from models.classifiers import BUNDLED_CLASSIFIER, load_classifier

    model, _ = load_classifier(BUNDLED_CLASSIFIER)
    layers = spatial_layers(model, torch.zeros(1, 3, 64, 64))
    chosen = next(la for la in layers if la.name == default_cam_layer(layers))
    assert min(chosen.shape[1:]) >= 7 and chosen.name == "layer2"  # layer4 is 2 x 2 at 64 px


def test_empty_flat_and_coarse_maps_say_why():
    from explain.methods.maps import map_note

    assert map_note(np.zeros((3, 8, 8))).startswith("All zero")
    assert map_note(np.full((8, 8), 0.3)).startswith("Constant")
    assert "2-pixel-wide layer" in map_note(np.random.default_rng(0).random((8, 8)), layer_side=2)
    assert map_note(np.random.default_rng(0).random((8, 8)), layer_side=7) == ""


def test_a_signed_map_that_cannot_be_negative_says_so(cnn, x) -> None:
    """The walk read Grad-CAM's all-red signed map as "nothing counts against the class": the methods said to be
    positive only are never negative (Grad-CAM unticked is), and only their signed panels say why."""
    for method in METHODS:
        params = {"layer": "3"} if "layer" in defaults(method) else {}
        if method == "occlusion":
            params = {"window": 4, "stride": 2}
        params |= FAST.get(method, {})
        if positive_only(method, params):
            assert attribute(cnn, x, method, 2, **params).min() >= 0, method
            assert "No blue by construction" in panel_note(method, params, np.ones((4, 4)) * np.arange(4), "signed")
        assert "No blue" not in panel_note(method, params, np.ones((4, 4)) * np.arange(4), "absolute")
    unticked = {"layer": "3", "relu": False}
    assert not positive_only("grad_cam", unticked) and attribute(cnn, x, "grad_cam", 2, **unticked).min() < 0
    assert sorted(m for m in METHODS if positive_only(m)) == ["grad_cam", "grad_cam_pp", "layer_cam", "score_cam"]
    # a square as wide as the input has one position, so its map is constant: the note says why (a walk)
    whole = panel_note("occlusion", {"window": 4, "stride": 4}, np.full((3, 4, 4), 0.2), "absolute")
    assert whole.startswith("Constant") and whole.endswith("covers the whole 4-pixel input: one position.")
    assert panel_note("grad_cam", {}, np.zeros((4, 4)), "signed").startswith("All zero") and "untick" in panel_note(
        "grad_cam", {}, np.zeros((4, 4)), "signed"
    )


def test_default_cam_layer_is_the_last_feature_map():
    x = torch.randn(1, 3, 224, 224)
    assert default_cam_layer(spatial_layers(torchvision.models.resnet18(), x)) == "layer4"
    # Grad-CAM's layer is the last convolution's rectified maps: VGG-16's relu5_3 (14 x 14); `features`, which this
    # test named before a review, ends in pool5 (7 x 7) and is a pooling of relu5_3
    assert default_cam_layer(spatial_layers(torchvision.models.vgg16(), x)) == "features.29"
    assert default_cam_layer(spatial_layers(torchvision.models.alexnet(), x)) == "features.11"


def test_parametric_units_run_from_the_output_down():
    units = parametric_units(torchvision.models.resnet18())
    assert units[0] == "fc" and units[-1] == "conv1" and "layer4.1" in units and "layer1.0" in units


def test_guided_methods_refuse_models_without_relu_modules(x):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Tanh(), nn.Flatten(), nn.LazyLinear(3)).eval()
    model(x)
    with pytest.raises(ValueError, match="ReLU"):
        attribute(model, x, "guided_backprop", 0)
    assert attribute(model, x, "saliency", 0).shape == x.shape


def test_bad_arguments_are_explained(cnn, x):
    with pytest.raises(ValueError, match="unknown method"):
        attribute(cnn, x, "lime", 0)
    with pytest.raises(ValueError, match="no parameter"):
        attribute(cnn, x, "saliency", 0, n_steps=3)
    flat = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 3)).eval()
    with pytest.raises(ValueError, match="no layer with a spatial output"):
        attribute(flat, x, "grad_cam", 0)


def test_a_cam_method_given_no_layer_takes_the_pages_default(cnn, x):
    """It refused ("needs a layer"), so the labelled-set tab, which passes no parameters, failed for every CAM method
    (a notebook review); now it takes the layer the page offers first."""
    layer = default_cam_layer(spatial_layers(cnn, x))
    for method in ("grad_cam", "guided_grad_cam"):
        assert torch.equal(attribute(cnn, x, method, 0), attribute(cnn, x, method, 0, layer=layer))


def test_occlusion_defaults_scale_with_the_input():
    assert defaults("occlusion", 224)["window"] == 32 and defaults("occlusion", 64)["window"] == 9


def test_a_form_offers_no_window_wider_than_the_input() -> None:
    """The walk found a 224-pixel window offered on a 64-pixel input (the run then refused it): lengths in pixels
    range up to the input's side, and other parameters keep their range."""
    sized = {p.name: p for p in params_for("occlusion", 64)}
    assert (sized["window"].high, sized["stride"].high, sized["window"].default) == (64, 64, 9)
    assert sized["window"].help == "In pixels of the model's 64 x 64 input, not of the picture shown."  # (a walk)
    assert sized["batch_size"] == {p.name: p for p in params_for("occlusion", 224)}["batch_size"]
    assert {p.name: p.high for p in params_for("occlusion", 512)}["window"] == 224
    assert params_for("occlusion", 2)[0].default == 2  # never below the field's own minimum


def fingerprint(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for k, v in model.state_dict().items():
        digest.update(k.encode())
        digest.update(v.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def test_sanity_check_never_touches_the_shared_model():
    model, _ = load_classifier(BUNDLED_CLASSIFIER)
    before = fingerprint(model)
    inp = torch.randn(1, 3, 64, 64)
    steps = cascading_randomization(model, inp, "saliency", 3)
    assert fingerprint(model) == before
    assert steps[0].layer == "original" and len(steps) == 1 + len(parametric_units(model))
    assert steps[-1].spearman < 0.9  # a fully random network gives a different saliency map


def test_guided_backprop_is_insensitive_to_the_top_layer_while_saliency_is_not():
    """Adebayo et al.'s finding, reproduced on the bundled model."""
    from explain.inputs.images import load_image
    from explain.inputs.samples import sample_bytes
    from explain.methods.classify import prepare

    model, info = load_classifier(BUNDLED_CLASSIFIER)
    inp = prepare(load_image(sample_bytes("generated star")), info.preprocess, torch.device("cpu"))
    gbp = cascading_randomization(model, inp, "guided_backprop", 3)
    sal = cascading_randomization(model, inp, "saliency", 3)
    top_block = 2  # original, fc, layer4.1
    assert gbp[top_block].spearman > sal[top_block].spearman


def test_concurrent_callers_on_a_shared_model_get_their_solo_results():
    model = torchvision.models.resnet18().eval()
    inp = torch.randn(1, 3, 64, 64)
    jobs = [("saliency", 1, {}), ("guided_backprop", 2, {}), ("grad_cam", 3, {"layer": "layer3"})] * 4
    alone = [attribute(model, inp, m, t, **p) for m, t, p in jobs]
    barrier = threading.Barrier(len(jobs))

    def run(job):
        barrier.wait()
        m, t, p = job
        return attribute(model, inp, m, t, **p)

    with ThreadPoolExecutor(len(jobs)) as pool:
        together = list(pool.map(run, jobs))
    for a, b in zip(alone, together, strict=True):
        torch.testing.assert_close(a, b)


def test_deletion_ranks_by_the_signed_value_unless_asked_for_the_absolute() -> None:
    from explain.methods.faithfulness import ranking_map

    a = torch.zeros(3, 4, 4)
    a[:, 0, 0], a[:, 1, 1] = -5.0, 2.0  # strong evidence against the class, weaker evidence for it
    signed, absolute = ranking_map(a, "signed"), ranking_map(a, "absolute")
    assert np.argmax(signed) == 5 and np.argmin(signed) == 0  # the pixel against the class goes last
    assert np.argmax(absolute) == 0
    with pytest.raises(ValueError):
        ranking_map(a, "both")


def test_sanity_check_reports_the_papers_four_similarities(cnn, x) -> None:
    from explain.methods.sanity import hog_similarity

    steps = cascading_randomization(cnn, x, "saliency", 2)
    assert steps[0].spearman == steps[0].spearman_signed == steps[0].ssim == steps[0].hog == 1.0
    for s in steps[1:]:
        assert all(-1.0 <= v <= 1.0 for v in (s.spearman, s.spearman_signed, s.ssim, s.hog))
    m = np.random.default_rng(0).random((32, 32))
    assert hog_similarity(m, m) == pytest.approx(1.0) and hog_similarity(m, np.zeros((32, 32))) == 0.0


def test_the_end_of_a_sanity_run_is_said_most_similar_first_constant_maps_apart() -> None:
    from explain.methods.sanity import SanityStep, fully_randomised_text

    varied, flat = np.random.default_rng(0).random((8, 8)), np.zeros((8, 8))
    results = {
        "A": [SanityStep("original", 1.0, 1.0, varied), SanityStep("conv1", 0.2, 0.3, varied)],
        "B": [SanityStep("original", 1.0, 1.0, varied), SanityStep("conv1", 0.6, 0.1, varied)],
        "C": [SanityStep("original", 1.0, 1.0, varied), SanityStep("conv1", 0.9, 0.9, flat)],
    }
    assert fully_randomised_text(results) == (
        "In this run, once every layer is randomised, the Spearman rank correlation (absolute maps) with the original "
        "map is B 0.60, "
        "A 0.20 (1 = unchanged; the highest explains the model least); C became constant, which says nothing."
    )
    assert fully_randomised_text(results, "ssim").split(" map is ")[1].startswith("A 0.30, B 0.10")
    assert fully_randomised_text({"C": results["C"]}) == ""


def test_a_sanity_run_also_ranks_the_methods_over_every_randomised_step() -> None:
    """A map that stays similar longest ranks first on the way, even if it ends below another (the walk: the
    summary ranked by the last step while Guided Backprop's curve stayed highest longest); constant steps are left
    out, and a run with one randomised step says nothing more."""
    from explain.methods.sanity import SanityStep, fully_randomised_text

    varied, flat = np.random.default_rng(0).random((8, 8)), np.zeros((8, 8))

    def run(*values: float, last_flat: bool = False) -> list:
        maps = [varied] * len(values) + [flat if last_flat else varied]
        return [SanityStep(f"l{i}", v, v, maps[i]) for i, v in enumerate((1.0, *values))]

    said = fully_randomised_text(
        {"GB": run(0.9, 0.8, 0.1), "IG": run(0.3, 0.2, 0.2), "C": run(0.5, 0.5, last_flat=True)}
    )
    assert said.split(" with the original map is ")[1].startswith("IG 0.20, GB 0.10 (")
    assert said.endswith(
        "Averaged over every randomised step (higher: it stayed similar for longer, so it explains the model less): "
        "GB 0.60, C 0.50, IG 0.23. The two orders differ: GB stayed similar the longest, IG was the most similar at "
        "the end; either counts against a method."
    )
    below = fully_randomised_text({"GB": run(0.9, -0.2, 0.1), "IG": run(0.3, 0.2, 0.2)})
    assert below.endswith(
        "Below 0, a map ranks the pixels roughly opposite to its original: unlike it, not closer to it."
    )


def test_sanity_chart_shows_the_whole_range_and_leaves_constant_maps_out() -> None:
    from explain.figures.charts import sanity_chart
    from explain.methods.sanity import SanityStep

    flat, varied = np.zeros((8, 8)), np.random.default_rng(0).random((8, 8))
    steps = [
        SanityStep("original", 1.0, 1.0, varied),
        SanityStep("fc", -0.7, 0.1, varied),
        SanityStep("conv1", 0.9, 0.9, flat),
    ]
    fig = sanity_chart({"Grad-CAM": steps})
    assert fig.layout.yaxis.range[0] <= -0.7
    # a constant map's similarity is not drawn (at its 0 it was the lowest line, read as the best; a walk), and the
    # legend says where the map went constant
    assert (
        list(fig.data[0].y) == [1.0, -0.7, None] and fig.data[0].name == "Grad-CAM (map constant at conv1: not drawn)"
    )
    # the steps named, not "from" the first: a map can be constant at one step and vary again after it (seen on
    # the default sample: Grad-CAM flat at layer2.1 only)
    again = [*steps, SanityStep("conv0", 0.5, 0.5, varied), *(SanityStep(f"b{i}", 0, 0, flat) for i in range(3))]
    assert sanity_chart({"G": again}).data[0].name == "G (map constant at conv1, b0, b1 and 1 more: not drawn)"
    # a panel per metric, each method named once in the legend (a walk met 26 lines and a scrolled legend for 13)
    many = sanity_chart({f"method {i}": steps for i in range(13)}, ["spearman", "ssim", "hog"])
    assert [a.text for a in many.layout.annotations] == [
        "Spearman rank correlation (absolute maps)",
        "SSIM (absolute maps)",
        "HOG similarity (absolute maps)",
    ]
    assert len(many.data) == 39 and sum(bool(t.showlegend) for t in many.data) == 13
    assert len({t.line.color for t in many.data}) == 13  # a colour per method, the same in every panel
    assert [t.y[1] for t in many.data[:3]] == [-0.7, 0.1, steps[1].hog]
    assert len(list(many.select_xaxes())) == 3  # two a row, and no empty fourth panel (a review)
    # in presenter mode the bottom margin that holds the slanted layer names and the legend grows with the text
    from explain.figures.charts import for_projector

    assert for_projector(many).layout.margin.b == round(1.5 * many.layout.margin.b)
    with pytest.raises(ValueError, match="at least one"):
        sanity_chart({"Grad-CAM": steps}, [])


def test_method_texts_name_the_baselines_as_the_readme_does():
    # zeros after normalisation are the mean colour for a normalised model, black only for one given plain [0, 1]
    # pixels (an uploaded model may be): the texts say both (they said only "mean colour", and before that "black")
    from explain.methods.attributions import ZERO_BASELINE

    texts = " ".join(m.summary for m in METHODS.values())
    assert ZERO_BASELINE in texts and "mean colour" in ZERO_BASELINE and "[0, 1]" in ZERO_BASELINE


def test_seeded_methods_on_different_models_get_their_solo_results_while_others_draw():
    """The global RNGs are one per process and a model's lock does not cover another model: SmoothGrad and Gradient
    SHAP on two models, an augmentation preview and a run's private stream, all at once, each get what they get
    alone (`models.lock.seeded_rngs`; before it, their draws interleaved)."""
    from models.experiments.augmentation import augment_image, build_pipeline
    from models.lock import PrivateRng

    models = [small_cnn(), small_cnn()]
    inp = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    image = torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    pipeline = build_pipeline([{"name": "resized crop", "params": {"size": 24, "scale": (0.35, 1.0)}}])

    def private_draws():
        stream, out = PrivateRng(5), []
        for _ in range(20):
            with stream.active():
                out.append(torch.rand(100))
        return torch.stack(out)

    jobs = [
        lambda: attribute(models[0], inp, "smoothgrad", 1, nt_samples=8, seed=4),
        lambda: attribute(models[1], inp, "gradient_shap", 2, n_samples=8, seed=4),
        lambda: torch.stack(augment_image(pipeline, image, 8, 7)),
        private_draws,
    ] * 3
    alone = [job() for job in jobs[:4]] * 3
    barrier = threading.Barrier(len(jobs))

    def run(job):
        barrier.wait()
        return job()

    with ThreadPoolExecutor(len(jobs)) as pool:
        together = list(pool.map(run, jobs))
    for a, b in zip(alone, together, strict=True):
        torch.testing.assert_close(a, b)


def test_attribution_views_give_the_page_its_maps_and_overlays_in_one_call():
    """#26: one call gives what the Attributions page shows per method, the same as the steps it replaces."""
    from PIL import Image

    from explain import attribution_views
    from explain.figures.render import overlay
    from explain.methods.classify import model_view
    from explain.methods.maps import to_map
    from models.classifiers import BUNDLED_CLASSIFIER, load_classifier

    _, info = load_classifier(BUNDLED_CLASSIFIER)
    image = Image.new("RGB", (90, 60), (200, 40, 40))
    maps = {m: torch.randn(3, 64, 64, generator=torch.Generator().manual_seed(i)) for i, m in enumerate("ab")}
    seen, views = attribution_views(maps, image, info.preprocess, "signed", 95.0, 0.5)
    # the 60-px crop is shown at the maps' 64 px at least (so a 1 x 1 upload's maps keep their detail)
    assert np.array_equal(seen, model_view(image, info.preprocess, min_side=64)) and seen.shape == (64, 64, 3)
    for m, a in maps.items():
        heat = to_map(a, "signed", 95.0)
        assert np.array_equal(views[m].heat, heat)
        # over the image in grey, as Captum's blended heat map draws it (red over a green image read as olive)
        assert np.array_equal(views[m].overlay, overlay(seen, heat, "signed", 0.5, grey_under=True))
        grey = np.repeat(seen.astype(np.float64).mean(-1, keepdims=True), 3, -1).round().astype(np.uint8)
        assert np.abs(overlay(grey, heat, "signed", 0.5).astype(int) - views[m].overlay).max() <= 1


def test_sanity_and_faithfulness_over_several_methods_are_each_methods_own_run(cnn, x) -> None:
    """#26: the page's per-method loops live in explain, so a notebook gets the page's numbers in one call."""
    from explain.methods.faithfulness import deletion_insertion, faithfulness_of_maps, ranking_map
    from explain.methods.sanity import sanity_of_methods

    one = x[:1]
    seen = []
    sanity = sanity_of_methods(
        cnn, one, 2, {"saliency": {}, "input_x_gradient": {}}, progress=lambda i, n: seen.append((i, n))
    )
    assert list(sanity) == ["saliency", "input_x_gradient"] and seen == [(0, 2), (1, 2)]
    assert [s.spearman for s in sanity["saliency"]] == [
        s.spearman for s in cascading_randomization(cnn, one, "saliency", 2)
    ]

    maps = {m: attribute(cnn, one, m, 2)[0].numpy() for m in ("saliency", "input_x_gradient")}
    curves = faithfulness_of_maps(cnn, one, maps, 2, "signed")
    for m, a in maps.items():  # every channel ranks the pixels, not the first one alone
        alone = deletion_insertion(cnn, one, ranking_map(a, "signed"), 2)
        np.testing.assert_array_equal(curves[m].deletion, alone.deletion)
        np.testing.assert_array_equal(curves[m].insertion, alone.insertion)
    # "meaning", the default: a map whose sign is a direction (Saliency's) is ranked by absolute value, its
    # gradient's magnitude as the page shows it, any other by signed value. (The method's parameters now tell which
    # maps are directions and magnitudes, where the caller passed the two sets; the check is of the page's ranking.)
    meant = faithfulness_of_maps(cnn, one, maps, 2)
    by_absolute = deletion_insertion(cnn, one, ranking_map(maps["saliency"], "absolute", magnitude=True), 2)
    np.testing.assert_array_equal(meant["saliency"].deletion, by_absolute.deletion)
    np.testing.assert_array_equal(meant["input_x_gradient"].deletion, curves["input_x_gradient"].deletion)
    # SmoothGrad over Integrated Gradients is evidence, not a direction: ranked by signed value as given
    over_ig = {"smoothgrad": maps["input_x_gradient"]}
    by_params = faithfulness_of_maps(cnn, one, over_ig, 2, params={"smoothgrad": {"base": "integrated_gradients"}})
    np.testing.assert_array_equal(by_params["smoothgrad"].deletion, curves["input_x_gradient"].deletion)
    with pytest.raises(ValueError, match="ranking by meaning needs METHODS' keys, not 'mine'"):  # (a review)
        faithfulness_of_maps(cnn, one, {"mine": maps["saliency"]}, 2)


def test_the_sanity_check_follows_the_papers_code_by_default(cnn, x) -> None:
    """#27: maps as Adebayo et al.'s code makes them (PAIR saliency's VisualizeImageGrayscale: |a| per channel summed,
    scaled from the minimum to the 99th percentile) and each layer re-initialised by its own initialiser; checked
    against the formula and scipy/scikit-image written out here."""
    from scipy.stats import spearmanr
    from skimage.metrics import structural_similarity

    from explain.methods.sanity import VARIANTS, paper_map, reinitialize_

    a = np.random.default_rng(0).normal(size=(3, 12, 10))
    grey = np.abs(a).sum(axis=0)
    expected = np.clip((grey - grey.min()) / (np.percentile(grey, 99) - grey.min()), 0, 1)
    np.testing.assert_allclose(paper_map(a), expected)
    assert not np.allclose(paper_map(a), np.abs(a.sum(axis=0)) / np.percentile(np.abs(a.sum(axis=0)), 99))
    # signed: VisualizeImageDiverging (span from the signed sum's percentile; a review found the magnitude's used)
    summed = a.sum(axis=0)
    span = abs(np.percentile(summed, 99))
    np.testing.assert_allclose(paper_map(a, "signed"), np.clip((summed + span) / (2 * span), -1, 1))

    steps = cascading_randomization(cnn, x[:1], "saliency", 2)
    for s in steps[1:]:
        assert s.spearman == pytest.approx(spearmanr(steps[0].heatmap.ravel(), s.heatmap.ravel()).statistic)
        assert s.ssim == pytest.approx(structural_similarity(steps[0].heatmap, s.heatmap, data_range=1.0))
    assert set(VARIANTS) == {"paper", "rescaled"}
    old = cascading_randomization(cnn, x[:1], "saliency", 2, variant="rescaled")
    assert [s.layer for s in old] == [s.layer for s in steps] and old[1].spearman != steps[1].spearman

    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    with torch.no_grad():
        net[1].weight.fill_(3.0)
        net[1].running_mean.fill_(0.5)
    trained = net[0].weight.clone()
    reinitialize_(net, seed=5)
    assert torch.all(net[1].weight == 1) and torch.all(net[1].bias == 0) and torch.all(net[1].running_mean == 0.5)
    assert not torch.equal(net[0].weight, trained)
    again = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    reinitialize_(again, seed=5)
    assert torch.equal(again[0].weight, net[0].weight)  # the same seed, the same initial weights


def test_deletion_and_insertion_follow_rises_evaluation_code(cnn, x) -> None:
    """#27: RISE's CausalMetric written out here (one pixel row per step, the mean-colour substrate for deletion, its
    11 x 11, sigma-5 Gaussian blur for insertion, scores after a softmax, auc = (sum - ends / 2) / n), step by step
    in NumPy and SciPy; the project's batched curves equal it."""
    from scipy.ndimage import convolve, gaussian_filter

    from explain.methods.faithfulness import deletion_insertion

    img = x[:1]
    _, c, h, w = img.shape
    heat = np.random.default_rng(3).random((h, w))
    impulse = np.zeros((11, 11))
    impulse[5, 5] = 1.0
    kern = gaussian_filter(impulse, 5)
    blurred = np.stack([convolve(img[0, k].numpy().astype(np.float64), kern, mode="constant") for k in range(c)])

    def probability(arr: np.ndarray) -> float:
        with torch.no_grad():
            return float(torch.softmax(cnn(torch.from_numpy(arr[None]).float()), 1)[0, 2])

    order = np.argsort(-heat.reshape(-1), kind="stable")  # most salient first
    n_steps = (h * w + w - 1) // w
    expected = {}
    for mode, start, finish in (("del", img[0].numpy().copy(), np.zeros((c, h, w))), ("ins", blurred, img[0].numpy())):
        start = start.reshape(c, h * w).copy()
        scores = []
        for i in range(n_steps + 1):
            scores.append(probability(start.reshape(c, h, w)))
            coords = order[w * i : w * (i + 1)]
            start[:, coords] = finish.reshape(c, h * w)[:, coords]
        expected[mode] = np.array(scores)
    curves = deletion_insertion(cnn, img, heat, 2)
    np.testing.assert_allclose(curves.deletion, expected["del"], atol=1e-5)
    np.testing.assert_allclose(curves.insertion, expected["ins"], atol=1e-5)
    rise_auc = (expected["del"].sum() - expected["del"][0] / 2 - expected["del"][-1] / 2) / n_steps
    assert curves.deletion_auc == pytest.approx(rise_auc, abs=1e-5) and len(curves.fractions) == h + 1


class Counting(torch.nn.Module):
    """A model that counts the images it is given."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model, self.seen = model, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen += len(x)
        return self.model(x)


def test_tied_pixels_go_in_drawn_orders_not_top_rows_first(cnn, x) -> None:
    """A fidelity review: ranking a map with argsort puts its tied pixels (a ReLU's zeros) top rows first, so a
    Grad-CAM map's deletion area followed where the object sat (0.28 top rows first, 0.67 bottom rows first). Tied
    pixels now go in random orders drawn from fixed seeds: each order keeps the map's ranking and its ties together,
    the curves are the mean over TIE_ORDERS of them (each the RISE curve of that order), and the areas' range over
    the orders is kept and said. An untied map is ranked as argsort ranks it, once."""
    from explain.methods.faithfulness import TIE_ORDERS, deletion_insertion, removal_order, tie_note

    img = x[:1]
    h, w = img.shape[-2:]
    heat = np.zeros((h, w))
    heat[6:10, 6:10] = np.arange(1, 17).reshape(4, 4)  # 16 ranked pixels; the other 240 tie at zero
    orders = [removal_order(heat, draw) for draw in range(TIE_ORDERS)]
    for order, tied in orders:
        assert tied == pytest.approx(240 / 256)
        assert list(order[:16]) == list(np.argsort(-heat.ravel(), kind="stable")[:16])  # the ranked pixels first
        assert sorted(order[16:]) == sorted(np.flatnonzero(heat.ravel() == 0))  # then the tie, in some order
    assert len({tuple(o[16:40]) for o, _ in orders}) == TIE_ORDERS  # each draw its own order
    assert not all(np.diff(orders[0][0][16:]) > 0)  # not in index order (top rows first)
    untied = np.random.default_rng(3).random((h, w))
    assert list(removal_order(untied)[0]) == list(np.argsort(-untied.ravel(), kind="stable"))
    assert removal_order(untied)[1] == 0.0

    counting = Counting(cnn)
    curves = deletion_insertion(counting, img, heat, 0)
    # 17 steps of 16 pixels; the 14 that end inside the tie (32 to 240 pixels moved) are run again for each other
    # order, the rest are the same images in every order
    assert counting.seen == 2 * 17 + (TIE_ORDERS - 1) * 2 * 14
    alone = []
    for order, _ in orders:  # each drawn order as an untied map that ranks the pixels in that order
        ranked = np.empty(h * w)
        ranked[order] = np.arange(h * w, 0, -1)
        alone.append(deletion_insertion(cnn, img, ranked.reshape(h, w), 0))
    assert all(a.orders == 1 and a.deletion_range is None for a in alone)
    np.testing.assert_allclose(curves.deletion, np.mean([a.deletion for a in alone], 0), atol=1e-6)
    np.testing.assert_allclose(curves.insertion, np.mean([a.insertion for a in alone], 0), atol=1e-6)
    areas = [a.deletion_auc for a in alone]
    assert curves.orders == TIE_ORDERS and curves.deletion_range == pytest.approx((min(areas), max(areas)))
    assert curves.deletion_auc == pytest.approx(np.mean(areas))
    note = tie_note({"Grad-CAM": curves, "Saliency": alone[0]})
    assert f"mean over {TIE_ORDERS} random orders" in note and "Grad-CAM: 94% of its pixels tie" in note
    assert f"deletion area {min(areas):.3f} to {max(areas):.3f}" in note
    assert "Saliency" not in note and tie_note({"Saliency": alone[0]}) == ""


def test_flat_faithfulness_curves_say_why() -> None:
    from explain.methods.faithfulness import Curves, flat_note

    f = np.linspace(0, 1, 5)
    flat = {"saliency": Curves(f, np.array([0.99, 0.9, 0.5, 0.3, 0.2]), np.array([0.95, 0.97, 0.99, 0.99, 0.99]))}
    assert "the blurred copy alone scores 95%" in flat_note(flat, 64)
    moving = {"saliency": Curves(f, np.array([0.99, 0.5, 0.2, 0.1, 0.05]), np.array([0.1, 0.5, 0.9, 0.99, 0.99]))}
    assert flat_note(moving, 64) == ""


def test_the_colour_bar_blends_as_the_overlays_do() -> None:
    """#28: the overlays blend each value's colour at an opacity that grows with |value| (0 shows the image), while
    the colour bar drew 0 as black; with the overlay's opacity it now draws each value as the overlay does."""
    from explain.figures.charts import colorbar
    from explain.figures.render import overlay

    fig = colorbar("absolute", 99.0, alpha=0.7)
    strip = np.asarray(fig.data[0].z, dtype=np.uint8)
    assert tuple(strip[0, 0]) == (128, 128, 128)  # zero: the image (mid grey here) shows through
    grey = np.full((1, 256, 3), 128, np.uint8)
    np.testing.assert_array_equal(strip[:1], overlay(grey, np.linspace(0, 1, 256)[None, :], "absolute", 0.7))
    # the bar's grey is the image's stand-in (a walk read it as a colour of the map)
    assert "the grey here stands for the image, which shows through where the value is 0" in fig.layout.title.text
    # presenter mode hides explanations: the line goes, and its room (the first maps began 523 px down at 1280 x 720)
    short = colorbar("absolute", 99.0, alpha=0.7, explained=False)
    assert "grey" not in short.layout.title.text and short.layout.height < fig.layout.height
    np.testing.assert_array_equal(np.asarray(short.data[0].z, dtype=np.uint8), strip)  # the same colours


def test_faithfulness_areas_too_close_to_rank_the_methods_say_so() -> None:
    """#28: insertion curves that all reach 1 within 5% of the pixels (areas 0.970-0.983) came with no word."""
    import re

    from explain.methods.faithfulness import Curves, flat_note

    f = np.linspace(0, 1, 5)
    falling = np.array([0.99, 0.5, 0.2, 0.1, 0.05])
    close = {
        m: Curves(f, falling * k, np.array([0.1, 0.98, 0.99, 0.99, 0.99]))
        for m, k in (("saliency", 1.0), ("grad_cam", 0.5))
    }
    assert "the insertion test cannot tell the methods apart" in flat_note(close, 64)
    assert "maps are all 0." in flat_note(close, 64)  # identical areas: no "within 0.000 of each other" (a walk)
    nearly = {**close, "grad_cam": Curves(f, falling * 0.5, np.array([0.1, 0.98, 0.99, 0.99, 0.9912]))}
    assert re.search(r"lie within 0\.000\d of each other \(0\.\d{4} to 0\.\d{4}\)", flat_note(nearly, 64))
    apart = {"a": Curves(f, falling, np.array([0.1, 0.2, 0.5, 0.9, 0.99])), "b": close["grad_cam"]}
    assert flat_note(apart, 64) == ""


def test_every_method_has_its_own_colour_with_all_thirteen_chosen() -> None:
    """A walk chose every method: Saliency and LayerCAM, Integrated Gradients and Guided Grad-CAM, Guided Backprop and
    Occlusion shared colours in the faithfulness and sanity charts (a 10-colour palette cycled)."""
    from types import SimpleNamespace

    from explain.figures.charts import deletion_insertion_chart, series_colours

    assert len(set(series_colours(13))) == 13 and len(set(series_colours(24))) == 24
    curves = {f"method {i}": SimpleNamespace(fractions=[0, 1], deletion=[1, 0], insertion=[0, 1]) for i in range(13)}
    fig = deletion_insertion_chart(curves)
    assert len({t.line.color for t in fig.data if t.showlegend is not False}) == 13


def test_the_faithfulness_charts_mark_the_one_start_every_curve_shares() -> None:
    """A walk read the insertion curves as starting at 1.0, 0.8 and 0.08: every curve starts from the blurred copy
    (7.7% there), but the first step, 1/64 of the axis, rose so steeply that it looked like the start."""
    from types import SimpleNamespace

    from explain.figures.charts import deletion_insertion_chart

    curves = {
        m: SimpleNamespace(fractions=[0, 0.5, 1], deletion=[0.62, 0.1, 0.03], insertion=[0.077, y, 0.62])
        for m, y in (("a", 1.0), ("b", 0.8))
    }
    fig = deletion_insertion_chart(curves)
    marks = [(t.x, t.y) for t in fig.data if t.mode == "markers"]
    assert marks == [((0,), (0.62,)), ((0,), (0.077,))]
    said = [a.text.split("<br>", 1)[1] for a in fig.layout.annotations if "<br>" in a.text]  # under the titles
    assert [s[s.index("●") :].split("</span>")[0] for s in said] == [
        "● every curve starts at the image, 62%",
        "● every curve starts at its blurred copy, 8%",
    ]


def test_a_choice_shows_its_caption_and_the_sanity_grid_keeps_the_first_and_last_steps() -> None:
    from explain.methods.attributions import METHODS
    from explain.methods.sanity import shown_steps

    (baseline,) = [p for p in METHODS["integrated_gradients"].params if p.name == "baseline_kind"]
    assert baseline.caption("zeros") == "zeros after normalisation" and "black for a model given plain" in baseline.help
    with pytest.raises(ValueError, match="2 captions for 3 choices"):
        type(baseline)("b", "B", "zeros", "choice", choices=("x", "y", "z"), shown=("a", "b"))
    steps = list(range(11))
    assert shown_steps(steps) == [0, 2, 4, 6, 8, 10] and shown_steps(steps[:4]) == steps[:4]
    assert shown_steps(list(range(13)))[-1] == 12 and len(shown_steps(list(range(13)))) == 6


def test_a_gradients_absolute_map_is_its_magnitude_per_channel_summed(cnn, x) -> None:
    """A fidelity review: Saliency's absolute map was |sum over R, G, B of the gradient|, where opposite signs cancel
    (on the course's photos only a third of pixels have one sign in all three channels); Captum's Saliency
    (abs=True by default) and SmoothGrad's reference code show sum over channels of |gradient|. Other methods keep
    Captum's visualisation, |sum over channels|. The page, the snippet and the faithfulness ranking agree."""
    from explain.figures.export import attribution_snippet
    from explain.methods.attributions import gradient_magnitude, magnitude_methods
    from explain.methods.faithfulness import ranking_map

    g = attribute(cnn, x[:1], "saliency", 0)[0].detach().numpy().astype(np.float64)
    assert np.any(np.sign(g) != np.sign(g[:1]))  # channels disagree somewhere: the two rules differ here
    by_size = np.abs(g).sum(axis=0)
    np.testing.assert_allclose(to_map(g, "absolute", 100.0, magnitude=True), by_size / by_size.max())
    np.testing.assert_allclose(to_map(g, "signed", 100.0, magnitude=True), to_map(g, "signed", 100.0))
    assert not np.allclose(to_map(g, "absolute", 100.0, magnitude=True), to_map(g, "absolute", 100.0))
    np.testing.assert_allclose(ranking_map(g, "absolute", magnitude=True), by_size / by_size.max())

    assert gradient_magnitude("saliency") and gradient_magnitude("smoothgrad")
    assert not gradient_magnitude("smoothgrad", {"base": "integrated_gradients"})
    assert not gradient_magnitude("integrated_gradients") and not gradient_magnitude("grad_cam")
    params = {"saliency": {}, "integrated_gradients": {}, "smoothgrad": {"base": "integrated_gradients"}}
    assert magnitude_methods(params) == {"saliency"}

    assert "'absolute', percentile=99.0, magnitude=True)" in attribution_snippet("m", "a.png", "saliency", 0, {})
    assert "magnitude" not in attribution_snippet("m", "a.png", "saliency", 0, {}, mode="signed")
    assert "magnitude" not in attribution_snippet("m", "a.png", "integrated_gradients", 0, {})


def test_a_batch_is_capped_by_memory_and_occlusion_by_positions(monkeypatch) -> None:
    """A loopback review: Integrated Gradients' batch of 64 on ResNet-50 took the server to 4.9 GB (256 allowed: about
    21 GB), and Attributions' Occlusion ran 3,969 positions (49,729 on ResNet-50 at 224 px) where the README bounds
    occlusion at 1,024. A batch field is lowered to what fits in ATTRIBUTION_MB (the map is the same), and occlusion
    is bounded as on the Features tab."""
    import torchvision

    from explain.methods import attributions as attr
    from explain.methods.occlusion import MAX_POSITIONS

    net, x = torchvision.models.resnet18().eval(), torch.zeros(1, 3, 224, 224)
    per_image = attr.activation_bytes(net, x)
    assert 20 * 2**20 < per_image < 40 * 2**20  # 28.5 MB of leaf outputs per 224-px image
    assert attr.batch_cap(net, x) == attr.ATTRIBUTION_MB * 2**20 // (2 * per_image)
    seen = {}
    real = attr._integrated_gradients
    monkeypatch.setitem(
        attr.METHODS,
        "integrated_gradients",
        attr.METHODS["integrated_gradients"].__class__(
            **{**attr.METHODS["integrated_gradients"].__dict__, "run": lambda *a, **k: seen.update(k) or real(*a, **k)}
        ),
    )
    small, image = small_cnn().eval(), torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with monkeypatch.context() as one:
        one.setattr(attr, "batch_cap", lambda model, inputs: 1)  # one image at a time
        capped = attr.attribute(small, image, "integrated_gradients", 0, internal_batch_size=64)
    assert seen["internal_batch_size"] == 1
    whole = attr.attribute(small, image, "integrated_gradients", 0, internal_batch_size=64)
    assert seen["internal_batch_size"] == 64
    torch.testing.assert_close(capped, whole)  # the same map in smaller batches

    with pytest.raises(ValueError, match=f"at most {MAX_POSITIONS:,} are allowed"):
        attr.attribute(small, torch.randn(1, 3, 64, 64), "occlusion", 0, window=2, stride=1)


def test_gradient_shap_is_captums_in_batches(cnn, x) -> None:
    """A loopback review: Gradient SHAP ran all its samples in one batch (128 samples of ResNet-50: 13 GB). It runs
    Captum's own computation (NoiseTunnel over InputBaselineXGradient) in batches of the capped batch size; with the
    batch at least the samples it is exactly Captum's GradientShap, seed for seed."""
    from captum.attr import GradientShap

    from explain.methods.attributions import run_seeded

    refs = torch.cat([baseline(x[:1], "zeros"), baseline(x[:1], "blurred")])
    theirs = run_seeded(
        lambda: GradientShap(cnn).attribute(x[:1], baselines=refs, n_samples=8, stdevs=0.1, target=0), 3, x.device
    )
    ours = attribute(cnn, x[:1], "gradient_shap", 0, n_samples=8, stdevs=0.1, seed=3, batch_size=8)
    torch.testing.assert_close(ours, theirs.detach())
    chunked = attribute(cnn, x[:1], "gradient_shap", 0, n_samples=8, stdevs=0.1, seed=3, batch_size=2)
    again = attribute(cnn, x[:1], "gradient_shap", 0, n_samples=8, stdevs=0.1, seed=3, batch_size=2)
    assert chunked.shape == ours.shape and torch.isfinite(chunked).all() and torch.equal(chunked, again)


def test_a_network_too_large_for_one_images_attribution_is_refused_in_one_line(monkeypatch) -> None:
    """A re-attack: a card asking 1,024 px for an uploaded ResNet-50 made its attributions 2.5 GB an image, and the
    batch cap stops at one image. Where one image does not fit, every method refuses in one line."""
    from explain.methods import attributions as attr

    small, image = small_cnn().eval(), torch.randn(1, 3, 16, 16)
    monkeypatch.setattr(attr, "ATTRIBUTION_MB", 0)
    with pytest.raises(ValueError, match=r"This network at 16 px needs about \d+ MB for one image's attribution"):
        attr.attribute(small, image, "saliency", 0)


def test_the_summary_says_how_channels_are_summed_only_where_the_map_shown_does_so() -> None:
    """A walk read "its absolute map adds up |gradient| over R, G and B" under a grey-scale model's map, and under a
    signed map: the clause is said for a colour model's absolute gradient map only."""
    from explain.methods.attributions import method_summary

    clause = "its absolute map adds up |gradient| over R, G and B"
    assert clause in method_summary("saliency", "absolute", 3)
    assert clause in method_summary("smoothgrad", "absolute", 3, {"base": "saliency"})
    assert clause not in method_summary("smoothgrad", "absolute", 3, {"base": "integrated_gradients"})
    assert method_summary("saliency", "absolute", 1) == "The gradient of the class score with respect to each pixel."
    # signed, how the channels are summed is said too (a second walk: the signed caption said nothing of R, G and B)
    signed = method_summary("saliency", "signed", 3)
    assert signed.endswith("; its signed map adds up the gradient over R, G and B, signs and all.")
    assert clause not in signed
    assert method_summary("occlusion", "absolute", 3) == METHODS["occlusion"].summary


@pytest.mark.parametrize("side", [224, 64])
def test_the_blurred_baseline_spreads_as_its_docstring_and_the_readme_say(side: int) -> None:
    """A fidelity review: the blur was said to have sigma a twelfth of the side, but its kernel is cut at 1.5 sigma,
    so an impulse spreads about a sixteenth of the side; the texts now say so, and this holds them to it."""
    x = torch.zeros(1, 1, side, side)
    x[..., side // 2, side // 2] = 1
    blurred = baseline(x, "blurred")[0, 0]
    offsets = (torch.arange(side) - side // 2).float()
    spread = float((blurred.sum(0) / blurred.sum() * offsets**2).sum().sqrt())
    assert spread == pytest.approx(side / 16, rel=0.1)
