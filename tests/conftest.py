"""Tests run offline, on the CPU, with a private torch hub cache, whatever the machine has."""

import os
import tempfile

os.environ["EXPLAINER_OFFLINE"] = "1"
os.environ["EXPLAINER_DEVICE"] = "cpu"
os.environ["TORCH_HOME"] = tempfile.mkdtemp(prefix="explainer-torch-home-")

import pytest


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """A fresh, empty TORCH_HOME for one test."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture(autouse=True, scope="session")
def full_error_details():
    """Visitors never see tracebacks (.streamlit/config.toml); a failing test should."""
    from streamlit import config

    config.set_option("client.showErrorDetails", "full")
