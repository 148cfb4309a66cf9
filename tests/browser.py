"""A real dashboard and a real browser for tests: `streamlit run` on a free port, Debian's
Chromium driven by Playwright (no browser download), and waiting until Streamlit is idle."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def require_browser() -> None:
    """Skip when Playwright or Chromium is missing, except under CI, where that is a failure."""
    missing = []
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("the playwright package")
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        missing.append("Debian's chromium (bash .ci/ensure-chromium installs it)")
    if missing:
        why = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, log, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`streamlit run app.py` headless on `port`, its output into the open file `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_healthy(proc: subprocess.Popen, port: int, log_path: Path, timeout: float = 120) -> None:
    """Wait until the server answers its health check. Fails at once, with the server's last output, when the
    process has exited, and after `timeout` seconds otherwise: a dead server is never waited for."""
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            if time.time() > deadline:
                raise RuntimeError(f"streamlit did not become healthy in {timeout:.0f} s: "
                                   f"{log_path.read_text()[-2000:]}") from None  # fmt: skip
            time.sleep(0.05)


@contextmanager
def dashboard(log_path: Path):
    """Start the app headless and offline on the test device; yield (base URL, process); stop it afterwards."""
    port = free_port()
    env = {**os.environ, "EXPLAINER_OFFLINE": "1", "TORCH_HOME": tempfile.mkdtemp(prefix="explainer-browser-"),
           "EXPLAINER_RESULTS": tempfile.mkdtemp(prefix="explainer-results-")}  # fmt: skip
    with open(log_path, "wb") as log:
        proc = start_server(port, log, env)
        try:
            wait_healthy(proc, port, log_path)
            yield f"http://127.0.0.1:{port}", proc
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                                    args=LAUNCH_ARGS)  # fmt: skip
        try:
            yield browser
        finally:
            browser.close()


def wait_idle(page, timeout_ms: int = 300_000) -> None:
    """Until the app is connected and its script has finished running."""
    page.wait_for_timeout(400)
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout_ms)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout_ms)
    page.wait_for_timeout(600)


def problems(page) -> list[str]:
    """Texts of exception blocks and error alerts on the page."""
    return page.locator("[data-testid='stException'], [data-testid='stAlertContentError']").all_inner_texts()


def upload(page, path: Path) -> None:
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(path))
    wait_idle(page)


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process in MB, from /proc (Linux)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
