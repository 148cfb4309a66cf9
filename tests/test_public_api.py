"""The packages' public APIs: what a notebook imports exists, and the README's notebook example and the
Attributions page's snippet run as written (offline, so the bundled model stands in)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("package", ["explain", "models", "models.transfer"])
def test_every_public_name_exists(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__ and all(hasattr(module, name) for name in module.__all__)


def test_the_names_a_notebook_uses() -> None:
    from explain import attribute, fit, reconstruct  # noqa: F401
    from models import load_classifier, load_detector  # noqa: F401


def test_readme_notebook_example_runs(monkeypatch, capsys) -> None:
    monkeypatch.setenv("EXPLAINER_OFFLINE", "1")
    text = (ROOT / "README.md").read_text()
    code = re.search(r"From a notebook:\n\n```python\n(.*?)```", text, re.S).group(1)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert (
        scope["heatmap"].shape == tuple(scope["x"].shape[-2:])
        and 0 <= scope["heatmap"].min() <= scope["heatmap"].max() <= 1
    )
    assert "Prediction(" in capsys.readouterr().out


def test_attribution_snippet_runs(tmp_path) -> None:
    from explain import sample_bytes
    from explain.figures.export import attribution_snippet

    image = tmp_path / "astronaut.png"
    image.write_bytes(sample_bytes("astronaut (photo)"))
    scope: dict = {}
    code = attribution_snippet("shapes-resnet18", str(image), "saliency", 0, {})
    exec(code, scope)
    assert scope["heatmap"].shape == (64, 64)
    # it says where it runs (a walk ran it elsewhere: "No module named 'explain'") and how to see its map
    assert code.startswith("# Run in the project's folder (the one holding app.py)") and "plt.imshow(heatmap)" in code


def test_a_samples_snippet_runs_with_the_pages_display_settings() -> None:
    """#28: the snippet named a sample as a file ("generated star": no such file) and fixed the display at absolute
    values and the 99th percentile whatever the page showed."""
    from explain import attribution_snippet

    code = attribution_snippet(
        "shapes-resnet18", "generated star", "saliency", 1, {}, sample=True, mode="signed", percentile=95.0
    )
    scope: dict = {}
    exec(code, scope)
    assert "sample_bytes('generated star')" in code and "'signed', percentile=95.0" in code
    assert scope["heatmap"].min() < 0 and scope["heatmap"].shape == (64, 64)


def test_the_shell_draws_the_navigation_before_loading_the_libraries() -> None:
    """A fresh server's first run shows Streamlit's legacy `pages/` list until app.py reaches `st.navigation`;
    #31's upload guard once pulled `explain` (and PyTorch, 7 s) into that gap and a cold visit showed the legacy
    list. The shell's module imports stay light: what is heavy is imported inside `run_app`, after the nav."""
    import subprocess
    import sys

    probe = "import sys, ui.shell; print(sorted(m for m in ('torch', 'explain', 'models') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_legacy_pages_flag_the_shell_reads_still_exists(monkeypatch) -> None:
    """ui.shell.app_shell is the one place that reads Streamlit's private `PagesManager.uses_pages_directory`
    (no public API tells a page that Streamlit ran it as a legacy `pages/` file, and the folder must keep its
    name). This fails when a Streamlit upgrade moves or renames the flag, before a visitor meets the symptom."""
    from streamlit.runtime.pages_manager import PagesManager

    monkeypatch.setattr(PagesManager, "uses_pages_directory", None)
    PagesManager(str(ROOT / "app.py"))
    assert PagesManager.uses_pages_directory is True  # app.py has a pages/ folder beside it
