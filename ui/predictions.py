"""Cached model outputs that several pages show: the top-5 and the model's input tensor."""

from __future__ import annotations

import streamlit as st
import torch

from explain.methods.classify import Prediction, prepare, top_k
from models.classifiers import ModelInfo
from models.devices import model_device
from ui.image_input import ChosenImage


def model_input(model: torch.nn.Module, info: ModelInfo, chosen: ChosenImage) -> torch.Tensor:
    """The 1 x 3 x H x W tensor the model sees, on the model's device."""
    return prepare(chosen.image, info.preprocess, model_device(model))


@st.cache_data(max_entries=256, show_spinner=False)
def _top5(key: str, image_sha: str, _model, _batch, _categories) -> list[Prediction]:
    return top_k(_model, _batch, _categories, k=5)


def top5(model: torch.nn.Module, info: ModelInfo, chosen: ChosenImage) -> list[Prediction]:
    """Top-5 for (weights, image), computed once per pair."""
    return _top5(info.cache_key, chosen.sha256, model, model_input(model, info, chosen), info.categories)
