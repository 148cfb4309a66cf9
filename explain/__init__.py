"""Explanations of vision models, computed without Streamlit so that a notebook gets what a page shows.

    from explain import attribute, load_image, prepare, sample_bytes, top_k
    from models import load_classifier

    model, info = load_classifier("resnet18")
    x = prepare(load_image(sample_bytes("astronaut (photo)")), info.preprocess)  # or a file's path
    best = top_k(model, x, info.categories)[0]
    heat = attribute(model, x, "integrated_gradients", target=best.index)

Three sub-packages, each importing only the ones after it: `figures` (Plotly charts and pictures), `methods`
(the computation: attributions, deconvnet, occlusion, sanity checks, learning curves, ...) and `inputs` (images a
user hands in, the bundled samples, image sets).
"""

import importlib
from typing import Any

# Each public name and the module that defines it, imported on first use: `import explain.inputs.images` (a
# subprocess measuring one decode, the app's first frame) does not pay for PyTorch and Captum.
_FROM = {
    "AttributionView": "explain.figures.attribution_view",
    "attribution_views": "explain.figures.attribution_view",
    "seen_caption": "explain.figures.attribution_view",
    "padded_size": "explain.inputs.images",
    "input_image": "explain.figures.render",
    "top_k_bar": "explain.figures.charts",
    "top9_montages": "explain.figures.top9",
    "map_note": "explain.methods.maps",
    "Projection": "explain.methods.deconvnet",
    "project_strongest": "explain.methods.deconvnet",
    "bundled_set": "explain.inputs.image_sets",
    "folder_set": "explain.inputs.image_sets",
    "set_sha256": "explain.inputs.image_sets",
    "ImageLoadError": "explain.inputs.images",
    "image_sha256": "explain.inputs.images",
    "load_image": "explain.inputs.images",
    "SAMPLE_NAMES": "explain.inputs.samples",
    "sample_bytes": "explain.inputs.samples",
    "sample_truth": "explain.inputs.samples",
    "sample_scene": "explain.inputs.samples",
    "METHODS": "explain.methods.attributions",
    "attribute": "explain.methods.attributions",
    "defaults": "explain.methods.attributions",
    "gradient_magnitude": "explain.methods.attributions",
    "magnitude_methods": "explain.methods.attributions",
    "method_summary": "explain.methods.attributions",
    "panel_note": "explain.methods.attributions",
    "Prediction": "explain.methods.classify",
    "prepare": "explain.methods.classify",
    "prepare_set": "explain.methods.classify",
    "top_k": "explain.methods.classify",
    "training_data": "explain.methods.classify",
    "unlike_training": "explain.methods.classify",
    "feature_layers": "explain.methods.deconvnet",
    "outline_layers": "explain.methods.deconvnet",
    "reconstruct": "explain.methods.deconvnet",
    "top_activations": "explain.methods.deconvnet",
    "deletion_insertion": "explain.methods.faithfulness",
    "ranking_map": "explain.methods.faithfulness",
    "direction_methods": "explain.methods.attributions",
    "default_cam_layer": "explain.methods.layers",
    "explain_batch": "explain.methods.batch_view",
    "generated_shapes": "explain.methods.batch_view",
    "faithfulness_of_maps": "explain.methods.faithfulness",
    "attribution_record": "explain.figures.export",
    "attribution_snippet": "explain.figures.export",
    "feature_maps": "explain.methods.filters",
    "filter_images": "explain.methods.filters",
    "spatial_layers": "explain.methods.layers",
    "LearningCurve": "explain.methods.learning_curves",
    "crossover": "explain.methods.learning_curves",
    "fit": "explain.methods.learning_curves",
    "to_map": "explain.methods.maps",
    "occlusion_sensitivity": "explain.methods.occlusion",
    "explain_detection": "explain.methods.rcnn_stages",
    "detection_cams": "explain.methods.rcnn_stages",
    "run_stages": "explain.methods.rcnn_stages",
    "cascading_randomization": "explain.methods.sanity",
    "sanity_of_methods": "explain.methods.sanity",
}


def __getattr__(name: str) -> Any:
    if name not in _FROM:
        raise AttributeError(f"module 'explain' has no attribute {name!r}")
    value = getattr(importlib.import_module(_FROM[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_FROM))


__all__ = sorted(_FROM)
