"""Benchmark of the foundation: app cold start and top-5 inference per classifier.

    python bench/bench_home.py [--repeats 20] [--no-browser]

Prints, on the device it finds: seconds from `streamlit run` to a healthy server, seconds to the
first fully rendered home page (headless Chromium when Playwright and /usr/bin/chromium exist,
else a fresh-process AppTest run), and for each classifier the median / min / max time of one
top-5 prediction on a 224 x 224 image. Classifiers whose ImageNet weights are not cached are
timed with random weights of the same architecture (the cost is the same), and the table says so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import free_port, start_server, wait_healthy  # noqa: E402


def cold_start(browser: bool) -> tuple[float, float, str]:
    """(seconds to healthy, seconds to first rendered page, how the render was observed)."""
    port = free_port()
    folder = tempfile.TemporaryDirectory(prefix="bench-home-", ignore_cleanup_errors=True)
    log_path = Path(folder.name) / "server.log"
    log = open(log_path, "wb")  # noqa: SIM115 (closed in `finally`, after the server)
    t0 = time.perf_counter()
    proc = start_server(port, log)
    try:
        wait_healthy(proc, port, log_path)  # fails with the server's last output if it dies
        healthy = time.perf_counter() - t0
        if browser:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                b = p.chromium.launch(
                    executable_path="/usr/bin/chromium",
                    args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
                )
                page = b.new_page()
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_selector("[data-testid='stPlotlyChart']", timeout=180_000)
                b.close()
            return healthy, time.perf_counter() - t0, "headless Chromium, until the top-5 chart is drawn"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
        folder.cleanup()
    code = "from streamlit.testing.v1 import AppTest; AppTest.from_file('app.py', default_timeout=300).run()"
    t1 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return healthy, time.perf_counter() - t1, "AppTest in a fresh process (no browser found)"


def inference_times(repeats: int) -> list[tuple[str, str, list[float]]]:
    import torchvision
    from PIL import Image

    from bench.timing import timed
    from explain.methods.classify import prepare, top_k
    from models.classifiers import CLASSIFIERS, load_classifier
    from models.devices import best_device
    from models.hub import weights_cache

    device = best_device()
    image = Image.new("RGB", (224, 224), (120, 90, 60))
    rows = []
    for name, s in CLASSIFIERS.items():
        if s.weights is None or weights_cache.is_cached(s.weights):
            model, info = load_classifier(name, device=device, allow_download=False)
            weights, preprocess, categories = f"{info.source}", info.preprocess, info.categories
        else:
            model = torchvision.models.get_model(name, weights=None).eval().to(device)
            weights, preprocess = "random (not cached)", s.weights.transforms()
            categories = s.weights.meta["categories"]
        times = []
        for i in range(repeats + 3):
            t = timed(lambda m=model, p=preprocess, c=categories: top_k(m, prepare(image, p, device), c), device)
            if i >= 3:  # warm-up runs are not counted
                times.append(t)
        rows.append((name, weights, times))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=20, help="timings per classifier")
    ap.add_argument("--no-browser", action="store_true", help="time the first render with AppTest instead of Chromium")
    ap.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = ap.parse_args()

    import torch

    from models.devices import best_device, device_name

    browser = not args.no_browser and Path("/usr/bin/chromium").exists()
    if browser:
        try:
            import playwright  # noqa: F401
        except ImportError:
            browser = False
    print(f"device: {device_name(best_device())}; torch {torch.__version__}; {os.cpu_count()} CPU cores")
    healthy, rendered, how = cold_start(browser)
    print(f"cold start: healthy after {healthy:.1f} s; first page rendered after {rendered:.1f} s ({how})")
    figures = {"cold start to healthy server (s)": healthy, "cold start to first rendered page (s)": rendered}
    print("\n| classifier | weights | median ms | min ms | max ms |\n|---|---|---|---|---|")
    for name, weights, times in inference_times(args.repeats):
        ms = [t * 1000 for t in times]
        print(f"| {name} | {weights} | {statistics.median(ms):.1f} | {min(ms):.1f} | {max(ms):.1f} |")
        figures[f"top-5 {name}, {weights} weights (ms)"] = statistics.median(ms)
    if args.json:
        print("JSON " + json.dumps(figures))


if __name__ == "__main__":
    main()
