"""The bundled classifiers' training commands run end to end on a tiny budget (into a temporary folder,
never over the committed checkpoints), so a refactor cannot silently break reproducing them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from models.hub.checkpoints import MANIFEST
from models.train import classifier as train_classifier
from models.train import encoder as pretrain_encoder

pytestmark = pytest.mark.training  # trains networks for real (seconds each)


def test_train_classifier_command(tmp_path: Path) -> None:
    before = MANIFEST.read_bytes()
    acc = train_classifier.main(
        [
            "--epochs",
            "1",
            "--train-size",
            "64",
            "--test-size",
            "32",
            "--image-size",
            "32",
            "--batch-size",
            "32",
            "--out",
            str(tmp_path),
        ]
    )
    assert 0.0 <= acc <= 1.0
    state = torch.load(tmp_path / "shapes-resnet18.pt", weights_only=True)
    assert "fc.weight" in state
    assert MANIFEST.read_bytes() == before


@pytest.mark.parametrize("source", ["glyphs", "fractals"])
def test_pretrain_encoder_command(tmp_path: Path, source: str) -> None:
    before = MANIFEST.read_bytes()
    acc = pretrain_encoder.main(
        [
            "--source",
            source,
            "--categories",
            "4",
            "--per-category",
            "8",
            "--test-per-category",
            "2",
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--out",
            str(tmp_path),
        ]
    )
    assert 0.0 <= acc <= 1.0
    state = torch.load(tmp_path / f"{source}-resnet18.pt", weights_only=True)
    assert state["fc.weight"].shape[0] == 4
    assert MANIFEST.read_bytes() == before


def test_encoder_choice_is_made_on_validation(tmp_path: Path) -> None:
    from models.train import encoder_choice

    out = tmp_path / "choice.json"
    results = encoder_choice.main(
        [
            "--categories",
            "4",
            "--per-category",
            "8",
            "--epochs",
            "1",
            "--sizes",
            "1,2",
            "--seeds",
            "1",
            "--out",
            str(out),
        ]
    )
    scores = results["sources"]
    assert set(scores) == {"glyphs", "fractals"} and json.loads(out.read_text())["chosen"] == results["chosen"]
    assert results["chosen"] == min(scores, key=lambda s: scores[s]["mean_val_error"])
    assert all(len(s["runs"]) == 2 and 0 <= s["mean_val_error"] <= 100 for s in scores.values())


def test_every_command_line_flag_has_help():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    missing = []
    for path in [*root.glob("models/**/*.py"), *root.glob("bench/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            is_flag = isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument"
            if is_flag and not any(k.arg == "help" for k in node.keywords):
                missing.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not missing, missing


def test_train_unet_command(tmp_path: Path) -> None:
    from models.train import unet as train_unet

    before = MANIFEST.read_bytes()
    scores = train_unet.main(
        [
            "--variant",
            "noskip",
            "--epochs",
            "1",
            "--train-size",
            "16",
            "--test-size",
            "4",
            "--base",
            "4",
            "--depth",
            "2",
            "--batch-size",
            "8",
            "--out",
            str(tmp_path),
        ]
    )
    assert 0.0 <= scores["noskip"] <= 1.0
    assert (tmp_path / "shapes-unet-noskip.pt").is_file()
    assert MANIFEST.read_bytes() == before


def test_train_detector_command(tmp_path: Path) -> None:
    from models.train import detector as train_detector

    before = MANIFEST.read_bytes()
    train_detector.main(["--steps", "2", "--batch-size", "2", "--test-size", "2", "--out", str(tmp_path)])
    state = torch.load(tmp_path / "shapes-maskrcnn.pt", weights_only=True)
    assert any(k.startswith("roi_heads") for k in state)
    assert MANIFEST.read_bytes() == before


def test_every_command_names_itself_in_help(capsys) -> None:
    import importlib

    for module in [
        "models.train.classifier",
        "models.train.detector",
        "models.train.encoder",
        "models.train.unet",
        "models.train.encoder_choice",
        "models.experiments.batchnorm",
    ]:
        with pytest.raises(SystemExit):
            importlib.import_module(module).main(["--help"])
        assert f"usage: python -m {module}" in capsys.readouterr().out
