"""Tests run offline, with a private torch hub cache, on the CPU unless EXPLAINER_TEST_DEVICE names another
device (`EXPLAINER_TEST_DEVICE=cuda python -m pytest` runs the whole suite on a GPU). Tests about the CPU pin it
themselves. When pytest-xdist runs workers, each gets its share of the cores: workers x torch threads never
exceed them (oversubscribed OpenMP crawls)."""

import atexit
import os
import shutil
import sys
import tempfile

from tests.on_device import TEST_DEVICE

os.environ["EXPLAINER_OFFLINE"] = "1"
os.environ["EXPLAINER_DEVICE"] = TEST_DEVICE
os.environ["TORCH_HOME"] = tempfile.mkdtemp(prefix="explainer-torch-home-")

import functools

import pytest
import torch

# removed when this process exits: every pytest process made one and left it (1,242 of them in this VM's /tmp)
atexit.register(shutil.rmtree, os.environ["TORCH_HOME"], ignore_errors=True)

# Compiled modules are kept (in __pycache__, which git ignores), for this process and every process the suite starts.
# This machine's image sets PYTHONDONTWRITEBYTECODE=1, so each process compiled the project's modules, and each
# pytest worker its rewritten test modules, afresh: collecting the suite took 17-19 s in each worker, 11 s once they
# were kept (2026-12-06), and the suite starts two workers, five dashboards and their worker processes.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // _WORKERS))


# Every AppTest scans the metadata of every installed package for Streamlit components when it first runs (0.6 s
# here, about 80 AppTests per run); the installed packages do not change during a test run, so each process scans once.
# (A Streamlit without this internal module scans as before.)
try:
    from streamlit.components.v2 import manifest_scanner

    manifest_scanner.scan_component_manifests = functools.cache(manifest_scanner.scan_component_manifests)
except ImportError:
    pass


def pytest_report_header(config) -> str:
    from models.devices import device_name

    return f"explainer test device: {device_name(torch.device(TEST_DEVICE))} (EXPLAINER_TEST_DEVICE={TEST_DEVICE})"


@pytest.fixture
def cpu_device(monkeypatch):
    """Pin the CPU for a test that is about the CPU (what the sidebar says, what a CPU server refuses)."""
    monkeypatch.setenv("EXPLAINER_DEVICE", "cpu")


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """A fresh, empty TORCH_HOME for one test."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture(autouse=True)
def main_module_kept():
    """Put back the process's `__main__` after each test: Streamlit's AppTest leaves the script it ran there (a temp
    file for `from_function`), and a later test's spawned worker processes re-run that file as their main module and
    die (`NameError: __args`) — found when test_app_build ran before the transfer worker tests in one process."""
    import sys

    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(autouse=True, scope="session")
def full_error_details():
    """Visitors never see tracebacks (.streamlit/config.toml); a failing test should."""
    from streamlit import config

    config.set_option("client.showErrorDetails", "full")


def pytest_collection_modifyitems(config, items) -> None:
    """The order modules start in under pytest-xdist (pyproject.toml keeps it: --no-loadscope-reorder): the
    eight-session module first (the longest), the Ray and training lane beside it, then the other browser module, so
    that the two workers finish together and, at the usual timings on 2 workers, the two browser modules (a server
    and Chromium each) do not run side by side: measured on 2 cores, that made both slower than one after the other.
    A module is placed by its first test. Every worker sorts the same collection the same way, as xdist requires."""
    rank = {"sessions": 0, "ray": 1, "training": 1, "browser": 2}
    items.sort(key=lambda item: min((rank[m.name] for m in item.iter_markers() if m.name in rank), default=3))


_TREE = pytest.StashKey["str | None"]()  # the project's files' digest when the run started


def _tree_digest() -> str | None:
    """A digest of the project's files as git lists them (tracked, and untracked but not ignored), or None outside a
    git checkout."""
    import hashlib
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    digest = hashlib.sha256()
    for name in sorted(n for n in listed.split(b"\0") if n):
        try:
            content = (root / name.decode()).read_bytes()
        except OSError:
            content = b"(gone)"
        digest.update(name + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()


def pytest_sessionstart(session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without workers), once
        session.config.stash[_TREE] = _tree_digest()


def pytest_sessionfinish(session, exitstatus) -> None:
    """A run during which the project's files changed checked no one version of them: AppTests re-read pages from disk
    at each run while the modules they import stay as first loaded, and some tests read the README or the results
    folder (a race review: the likeliest cause of a failure seen once in 921 tests, in a lane run while the README and
    a page were being edited). Such a run fails, saying why, whatever its tests did."""
    start = session.config.stash.get(_TREE, None)
    if start is None or hasattr(session.config, "workerinput"):
        return
    if _tree_digest() != start:
        session.shouldfail = (  # the terminal reporter writes it in red under the summary
            "the project's files changed while the tests ran: this run checked no one version of them (a failure "
            "above may be the edit's); run again on a tree left alone, or in a clone as CI runs .ci/run"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
