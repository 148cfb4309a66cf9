"""Vision models and the data they are trained on, loaded the way torchvision does (weights API and its cache),
each with a bundled fallback this project trained itself.

    from models import load_classifier, load_detector, load_unet

    model, info = load_classifier("resnet18")  # info.is_fallback and info.reason say what runs and why

Sub-packages by role, each importing only those listed after it: `train` (commands that produce weights; nothing
imports them), `transfer` and `experiments` (the transfer lab and the live training tricks), the loaders
(`classifiers`, `detectors`, `segmenters`), `hub` (verified checkpoints, the bundled-weights records, torchvision's
cache), `nets` (architectures), `data` (generators, tasks, preprocessing) and the basics (`devices`, `files`,
`lock`, `params`).
"""

from models.classifiers import BUNDLED_CLASSIFIER, CLASSIFIERS, ModelInfo, load_classifier, weight_status
from models.detectors import (
    BUNDLED_DETECTOR,
    DETECTORS,
    DetectorInfo,
    Instance,
    detect,
    detect_batch,
    detector_input,
    load_detector,
    shown_detections,
)
from models.devices import best_device, model_device, on_model_device
from models.hub.bundled import BundledWeights, bundled
from models.hub.checkpoints import CheckpointError
from models.hub.weights_cache import WeightsUnavailable
from models.lock import lock_for
from models.segmenters import UNETS, load_unet, unet_input

__all__ = [
    "BUNDLED_CLASSIFIER",
    "BUNDLED_DETECTOR",
    "CLASSIFIERS",
    "DETECTORS",
    "UNETS",
    "BundledWeights",
    "CheckpointError",
    "DetectorInfo",
    "Instance",
    "ModelInfo",
    "WeightsUnavailable",
    "best_device",
    "bundled",
    "detect",
    "detect_batch",
    "detector_input",
    "load_classifier",
    "load_detector",
    "load_unet",
    "lock_for",
    "model_device",
    "on_model_device",
    "shown_detections",
    "unet_input",
    "weight_status",
]
