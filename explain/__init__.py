"""Explanations of vision models, computed without Streamlit so that a notebook gets what a page shows.

    from explain import attribute, reconstruct, fit, load_image, prepare, top_k
    from models import load_classifier

    model, info = load_classifier("resnet18")
    x = prepare(load_image("astronaut.png"), info.preprocess)  # on the CPU: each call moves it to the model
    best = top_k(model, x, info.categories)[0]
    heat = attribute(model, x, "integrated_gradients", target=best.index)

Three sub-packages, each importing only the ones after it: `figures` (Plotly charts and pictures), `methods`
(the computation: attributions, deconvnet, occlusion, sanity checks, learning curves, ...) and `inputs` (images a
user hands in, the bundled samples, image sets).
"""

from explain.inputs.image_sets import bundled_set, folder_set, set_sha256
from explain.inputs.images import ImageLoadError, image_sha256, load_image
from explain.inputs.samples import SAMPLE_NAMES, sample_bytes
from explain.methods.attributions import METHODS, attribute, defaults
from explain.methods.classify import Prediction, prepare, top_k
from explain.methods.deconvnet import feature_layers, reconstruct, top_activations
from explain.methods.faithfulness import deletion_insertion
from explain.methods.filters import feature_maps, filter_images
from explain.methods.layers import spatial_layers
from explain.methods.learning_curves import LearningCurve, crossover, fit
from explain.methods.maps import to_map
from explain.methods.occlusion import occlusion_sensitivity
from explain.methods.rcnn_stages import explain_detection, run_stages
from explain.methods.sanity import cascading_randomization

__all__ = [
    "METHODS", "SAMPLE_NAMES", "ImageLoadError", "LearningCurve", "Prediction", "attribute", "bundled_set",
    "cascading_randomization", "crossover", "defaults", "deletion_insertion", "explain_detection", "feature_layers",
    "feature_maps", "filter_images", "fit", "folder_set", "image_sha256", "load_image", "occlusion_sensitivity",
    "prepare", "reconstruct", "run_stages", "sample_bytes", "set_sha256", "spatial_layers", "to_map", "top_activations",
    "top_k",
]  # fmt: skip
