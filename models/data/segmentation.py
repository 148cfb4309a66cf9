"""The U-Nets' task: per-pixel labels of generated shapes scenes, the classes, the scenes they are trained
and judged on, and IoU from a confusion matrix (what the training command scores with)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models.data.preprocess import to_tensor
from models.data.shapes import SHAPE_CLASSES, Scene, make_scene
from models.devices import model_device

CLASSES = ("background", *SHAPE_CLASSES)
TEST_SEED = 20_000
SIZE = 64
SCENE = {"n_objects": (2, 4), "radius": (0.12, 0.25)}  # objects per scene and their radius, as fractions
EXAMPLE_SEEDS = 50_000  # example scene k is drawn from seed EXAMPLE_SEEDS + k, clear of the training and test seeds


def task_scene(rng: np.random.Generator, size: int = SIZE) -> Scene:
    """One scene of the task, with its per-pixel labels."""
    return make_scene(rng, size, **SCENE)


def example_scene(number: int, size: int = SIZE) -> Scene:
    """Example scene `number`, the one a page shows with its true labels."""
    return task_scene(np.random.default_rng(EXAMPLE_SEEDS + number), size)


def scene_set(n: int, seed: int, size: int = SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` scenes as normalised images N x 3 x H x W and label maps N x H x W."""
    rng = np.random.default_rng(seed)
    scenes = [task_scene(rng, size) for _ in range(n)]
    images = to_tensor(np.stack([s.image for s in scenes]))
    return images, torch.from_numpy(np.stack([s.label_map for s in scenes]))


def confusion(pred: torch.Tensor, target: torch.Tensor, k: int = len(CLASSES)) -> torch.Tensor:
    """k x k counts: rows are true classes, columns predicted ones."""
    return torch.bincount(target.flatten() * k + pred.flatten(), minlength=k * k).view(k, k)


def iou_per_class(conf: torch.Tensor) -> torch.Tensor:
    """IoU of each class from a confusion matrix: TP / (TP + FP + FN)."""
    tp = conf.diag().double()
    return tp / (conf.sum(0) + conf.sum(1) - conf.diag()).double().clamp_min(1)


@torch.no_grad()
def iou_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 64) -> tuple[float, list[float]]:
    """(mean IoU over the classes, per-class IoU) of `model` in eval mode."""
    model.eval()
    device = model_device(model)
    conf = torch.zeros(len(CLASSES), len(CLASSES), dtype=torch.long)
    for i in range(0, len(x), batch_size):
        pred = model(x[i : i + batch_size].to(device)).argmax(1).cpu()
        conf += confusion(pred, y[i : i + batch_size])
    ious = iou_per_class(conf)
    return float(ious.mean()), [round(float(v), 4) for v in ious]
