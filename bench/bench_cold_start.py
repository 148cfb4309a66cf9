"""Benchmark of a cold start: a server just started, one visitor arriving at `/` or straight at a page.

    python bench/bench_cold_start.py [--pages "" detection] [--json]

For each URL, a fresh `streamlit run app.py` (offline, headless) and a fresh Chromium page that records every
change to the page from its first frame (a MutationObserver): seconds from the server's start to its health check,
to the app's own navigation in the sidebar, to a loading line or spinner, and to the page's title (the page drawn).
Then where the time goes: the seconds each heavy library takes to import in a fresh interpreter, one at a time.
Needs Chromium and Playwright (`bash .ci/ensure-chromium`), as the browser tests do.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import CHROMIUM, LAUNCH_ARGS, free_port  # noqa: E402  (the tests' browser set-up, reused)

TITLES = {"": "What does the network see?", "detection": "Mask R-CNN: what is where"}
LIBRARIES = ("streamlit", "numpy", "PIL", "plotly", "torch", "torchvision", "captum", "skimage", "scipy")

WATCH = """([title]) => {
  const seen = window.__cold = {navAt: null, busyAt: null, titleAt: null};
  const look = () => {
    const now = performance.timeOrigin + performance.now();
    if (seen.navAt === null && document.querySelector("[data-testid='stSidebarNav']")) seen.navAt = now;
    const text = document.body ? document.body.innerText || "" : "";
    const spinner = document.querySelector("[data-testid='stSpinner']");
    if (seen.busyAt === null && (text.includes("Starting: loading") || spinner)) seen.busyAt = now;
    if (seen.titleAt === null && [...document.querySelectorAll("h1")].some(h => h.innerText.includes(title)))
      seen.titleAt = now;
  };
  new MutationObserver(look).observe(document, {subtree: true, childList: true, characterData: true});
}"""


def healthy(port: int, deadline: float) -> float:
    """Wall-clock time at which the server's health check first answered."""
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return time.time()
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("the server did not answer its health check")


def cold_visit(path: str, browser) -> dict[str, float]:
    """Seconds from starting a fresh server to each milestone of a first visit to `path`."""
    port = free_port()
    torch_home = tempfile.TemporaryDirectory(prefix="bench-cold-", ignore_cleanup_errors=True)
    env = {**os.environ, "EXPLAINER_OFFLINE": "1", "TORCH_HOME": torch_home.name}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true", f"--server.port={port}"]
    t0 = time.time()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ready = healthy(port, t0 + 120)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.add_init_script(f"({WATCH})({json.dumps([TITLES[path]])})")
        page.goto(f"http://127.0.0.1:{port}/{path}")
        page.wait_for_function("() => window.__cold && window.__cold.titleAt !== null", timeout=180_000)
        seen = page.evaluate("() => window.__cold")
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        torch_home.cleanup()
    to_s = {k: (v / 1000 - t0 if v is not None else float("nan")) for k, v in seen.items()}
    return {"health": ready - t0, "nav": to_s["navAt"], "busy": to_s["busyAt"], "title": to_s["titleAt"]}


def import_seconds(module: str) -> float:
    """Seconds a fresh interpreter takes to import `module` (the interpreter's own start subtracted)."""

    def run(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
        return time.perf_counter() - t0

    return run(f"import {module}") - run("pass")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", nargs="*", default=["", "detection"], help="URL paths to visit first ('' is home)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    figures: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            for path in args.pages:
                for name, seconds in cold_visit(path, browser).items():
                    figures[f"{path or 'home'}_{name}_s"] = seconds
        finally:
            browser.close()
    for module in LIBRARIES:
        figures[f"import_{module}_s"] = import_seconds(module)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"Cold start, {os.cpu_count()} CPUs; seconds from `streamlit run` to each milestone of the first visit")
    print("| first URL | health check | app's navigation | loading shown | page drawn |")
    print("|---|---|---|---|---|")
    for path in args.pages:
        k = path or "home"
        row = [figures[f"{k}_{m}_s"] for m in ("health", "nav", "busy", "title")]
        print(f"| /{path} | " + " | ".join(f"{v:.1f}" for v in row) + " |")
    print("\nImport time of each library in a fresh interpreter (s):")
    print(", ".join(f"{m} {figures[f'import_{m}_s']:.2f}" for m in LIBRARIES))


if __name__ == "__main__":
    main()
