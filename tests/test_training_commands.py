"""The bundled classifiers' training commands run end to end on a tiny budget (into a temporary folder,
never over the committed checkpoints), so a refactor cannot silently break reproducing them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models.hub.checkpoints import MANIFEST
from models.train import classifier as train_classifier
from models.train import encoder as pretrain_encoder


def test_train_classifier_command(tmp_path: Path) -> None:
    before = MANIFEST.read_bytes()
    acc = train_classifier.main(["--epochs", "1", "--train-size", "64", "--test-size", "32", "--image-size", "32",
                                 "--batch-size", "32", "--out", str(tmp_path)])  # fmt: skip
    assert 0.0 <= acc <= 1.0
    state = torch.load(tmp_path / "shapes-resnet18.pt", weights_only=True)
    assert "fc.weight" in state
    assert MANIFEST.read_bytes() == before


@pytest.mark.parametrize("source", ["glyphs", "fractals"])
def test_pretrain_encoder_command(tmp_path: Path, source: str) -> None:
    before = MANIFEST.read_bytes()
    acc = pretrain_encoder.main(["--source", source, "--categories", "4", "--per-category", "8",
                                 "--test-per-category", "2", "--epochs", "1", "--batch-size", "16",
                                 "--out", str(tmp_path)])  # fmt: skip
    assert 0.0 <= acc <= 1.0
    state = torch.load(tmp_path / f"{source}-resnet18.pt", weights_only=True)
    assert state["fc.weight"].shape[0] == 4
    assert MANIFEST.read_bytes() == before


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
