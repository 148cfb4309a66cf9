"""Benchmark of a hosted copy under a hostile or busy class: memory and another visitor's wait.

    python bench/bench_public_server.py [--sessions 12]

Starts the app headless and offline and drives Debian's Chromium (one browser session per tab):

1. Worst accepted uploads: four sessions upload, at the same moment, the four costliest images the
   loader accepts (40-megapixel 16-bit PNG, 32-bit TIFF and float TIFF, and a 40-megapixel RGBA PNG)
   on the home page. Prints the server's resident memory after start-up and its peak (Linux /proc).
   Target: peak under 2.2 GB including the baseline.
2. Heavy jobs queued: `--sessions` sessions press "Train both networks" (the default BatchNorm run)
   at once; they wait in the admission queue. Meanwhile another visitor opens the home page three
   times. Prints that page's median load time idle (the trainers' tabs open but not training, since
   the browser shares this machine's cores) and under the queue. Target: within 2x of idle.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from tests.browser import chromium, dashboard, rss_mb, wait_idle  # noqa: E402
from tests.hostile_files import HEAVY_GOOD  # noqa: E402

CHART = "[data-testid='stPlotlyChart']"


def worst_files(folder: Path) -> list[Path]:
    """The four costliest accepted images, written to `folder`."""
    rgba = np.zeros((5000, 8000, 4), np.uint8)
    rgba[..., 0] = np.arange(8000, dtype=np.uint8)  # a cheap pattern; PNG keeps it small
    rgba[..., 3] = 200
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    files = {**{k: HEAVY_GOOD[k] for k in HEAVY_GOOD if "40mp" in k}, "rgba_40mp.png": buf.getvalue()}
    paths = []
    for name, data in files.items():
        paths.append(folder / name)
        paths[-1].write_bytes(data)
    return paths


def home_load_seconds(context, url: str) -> float:
    """Seconds from opening the home page to its top-5 chart being drawn and the script idle."""
    page = context.new_page()
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(CHART, timeout=600_000)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=600_000)
    seconds = time.perf_counter() - t0
    page.close()
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=12, help="sessions that queue a heavy job at once")
    ap.add_argument("--json", action="store_true", help="also print the figures as one JSON line (for run_all.py)")
    args = ap.parse_args()
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, dashboard(Path(tmp) / "server.log") as (url, proc), chromium() as b:
        files = worst_files(Path(tmp))
        context = b.new_context()
        home_load_seconds(context, url)  # the model is loaded and cached once, as on a server in use
        out["baseline_rss_mb"] = rss_mb(proc.pid)[0]

        pages = []
        for _ in files:
            pages.append(context.new_page())
            pages[-1].goto(url)
        for page in pages:
            wait_idle(page)
        t0 = time.perf_counter()
        for page, path in zip(pages, files, strict=True):  # no waiting between them: all four at once
            page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(path))
        for page in pages:
            wait_idle(page)
        out["four_uploads_seconds"] = time.perf_counter() - t0
        out["peak_rss_mb"] = rss_mb(proc.pid)[1]
        for page in pages:
            page.close()

        trainers = []
        for _ in range(args.sessions):
            trainers.append(context.new_page())
            trainers[-1].goto(f"{url}/training")
        for page in trainers:
            wait_idle(page)
        # The browser runs on this machine too: "idle" is measured with the trainers' tabs already open,
        # so the comparison counts what the server does for the queue, not Chromium drawing 12 more tabs.
        idle = [home_load_seconds(context, url) for _ in range(3)]
        for page in trainers:
            page.get_by_role("button", name="Train both networks").click()
        time.sleep(5)
        queued = [home_load_seconds(context, url) for _ in range(3)]
        places = [t for t in trainers if t.get_by_text("in the queue").count()]
        out.update(
            home_idle_seconds=statistics.median(idle),
            home_while_queued_seconds=statistics.median(queued),
            sessions_waiting_with_their_place=len(places),
        )
        out["slowdown"] = out["home_while_queued_seconds"] / out["home_idle_seconds"]
        for page in trainers:
            page.close()
    print(
        f"baseline {out['baseline_rss_mb']:.0f} MB; four worst uploads at once: peak {out['peak_rss_mb']:.0f} MB "
        f"(target < 2200), {out['four_uploads_seconds']:.1f} s"
    )
    print(
        f"home page: {out['home_idle_seconds']:.2f} s idle, {out['home_while_queued_seconds']:.2f} s while "
        f"{args.sessions} sessions queue BatchNorm training (x{out['slowdown']:.2f}, target <= 2); "
        f"{out['sessions_waiting_with_their_place']} sessions showed their place in the queue"
    )
    if args.json:
        figures = {
            "server memory after start-up (MB)": out["baseline_rss_mb"],
            "peak memory, four worst uploads at once (MB)": out["peak_rss_mb"],
            "home page load, idle (s)": out["home_idle_seconds"],
            f"home page load, {args.sessions} heavy jobs queued (s)": out["home_while_queued_seconds"],
        }
        print("JSON " + json.dumps(figures))


if __name__ == "__main__":
    main()
