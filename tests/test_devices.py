"""Every function that runs a model takes its input on any device and returns what it draws on the CPU. On the
CPU this runs the same code paths; with EXPLAINER_TEST_DEVICE=cuda the models are on the GPU and the inputs not."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from explain import (
    attribute,
    deletion_insertion,
    feature_maps,
    occlusion_sensitivity,
    reconstruct,
    spatial_layers,
    top_activations,
    top_k,
)
from explain.methods.deconvnet import forward_to
from explain.methods.segmentation import level_maps, predict
from models import load_classifier, load_unet, model_device
from tests.bounds import within
from tests.browser import free_port, wait_healthy
from tests.on_device import TEST_DEVICE


@pytest.fixture(scope="module")
def classifier():
    model, info = load_classifier("shapes-resnet18")
    return model, info, torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))  # on the CPU


def test_models_load_on_the_test_device(classifier) -> None:
    assert model_device(classifier[0]).type == torch.device(TEST_DEVICE).type


def test_classifier_explanations_take_a_cpu_input(classifier) -> None:
    model, info, x = classifier
    assert len(top_k(model, x, info.categories)) == 5
    assert attribute(model, x, "saliency", 0).device.type == "cpu"
    assert attribute(model, x, "grad_cam", 0, layer="layer3").device.type == "cpu"
    assert forward_to(model, x, "layer1")[0].shape[1] > 0
    assert reconstruct(model, x, "layer1", 0).device.type == "cpu"
    assert spatial_layers(model, x)
    fmap, order = feature_maps(model, x, "layer1")
    assert fmap.device.type == "cpu" and len(order) == fmap.shape[0]
    maps = occlusion_sensitivity(model, x, "layer1", 0, 0, window=32, stride=32)
    assert maps.probability.shape == (2, 2)
    curves = deletion_insertion(model, x, np.random.default_rng(0).random((64, 64)), 0, steps=4)
    assert len(curves.deletion) == 5
    tops = top_activations(model, torch.randn(4, 3, 64, 64), "layer1", [0], k=2, batch_size=2)
    assert tops[0][0].reconstruction.device.type == "cpu"


def test_unet_views_take_a_cpu_input() -> None:
    model, _ = load_unet("full")
    x = torch.randn(1, 3, 64, 64)
    assert predict(model, x).shape == (64, 64)
    assert all(m.device.type == "cpu" for m in level_maps(model, x).values())


def test_a_dead_server_is_not_waited_for(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", "print('boom: no app'); raise SystemExit(3)"], stdout=log)
        t0 = time.time()
        with pytest.raises(RuntimeError, match="boom: no app"):
            wait_healthy(proc, free_port(), log_path, timeout=60)
    assert time.time() - t0 < within(30)
