"""The list of pages that exist: one place for app.py's navigation and the home page's guide."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageEntry:
    path: str
    title: str
    icon: str
    blurb: str


PAGES: tuple[PageEntry, ...] = (
    PageEntry(
        "pages/home.py",
        "Classify",
        ":material/image_search:",
        "Upload or pick an image and see a classifier's five most likely classes.",
    ),
    PageEntry(
        "pages/attributions.py",
        "Attributions",
        ":material/heat:",
        "Captum's attribution methods side by side, with a sanity check and faithfulness scores.",
    ),
    PageEntry(
        "pages/features.py",
        "Features",
        ":material/grid_view:",
        "Zeiler & Fergus: first-layer filters, feature maps, deconvnet projections, top-9 activations, occlusion.",
    ),
    PageEntry(
        "pages/build.py",
        "Build and train",
        ":material/account_tree:",
        "Inside ResNet-18 and others (shapes, parameters, receptive fields, residual block); the training loop live.",
    ),
    PageEntry(
        "pages/training.py",
        "Training tricks",
        ":material/model_training:",
        "BatchNorm and data augmentation, live: train with and without them and watch the difference.",
    ),
    PageEntry(
        "pages/transfer.py",
        "Transfer",
        ":material/swap_horiz:",
        "Linear probe vs fine-tuning vs training from scratch, with training curves and fitted learning curves.",
    ),
    PageEntry(
        "pages/unet.py",
        "U-Net",
        ":material/layers:",
        "An encoder-decoder with skip connections labels every pixel; the same net without skips does worse.",
    ),
    PageEntry(
        "pages/detection.py",
        "Detection",
        ":material/select_all:",
        "Mask R-CNN: boxes, instance masks, keypoints, the pipeline stage by stage, and one detection explained.",
    ),
)
