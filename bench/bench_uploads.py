"""What many uploaded files cost a hosted copy's memory, with the upload bounds and without them.

    python bench/bench_uploads.py [--counts 50,100] [--mb 24]

Starts the app headless and offline twice (bounds off: EXPLAINER_UPLOAD_* set past any use; bounds on: the
defaults of `explain.inputs.upload_limits`), opens the Features page's top-9 "my uploads" in Debian's Chromium
and puts N files of `--mb` MB (random bytes named .png: the loader refuses them at once, so what is measured is
what Streamlit holds) into the uploader at once. Prints the server's resident memory after the page is drawn
and its peak (Linux /proc), and how many files the server kept.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import chromium, dashboard, rss_mb, wait_idle  # noqa: E402

UNBOUNDED = {
    "EXPLAINER_UPLOAD_SESSION_FILES": "100000",
    "EXPLAINER_UPLOAD_SESSION_MB": "1000000",
    "EXPLAINER_UPLOAD_SERVER_MB": "1000000",
}


def settled(page, pid: int, timeout: float = 900) -> None:
    """Until the uploads are over: the script idle and neither the uploader's list nor the server's memory
    changing over three polls 2 s apart (the browser sends the files a few at a time, each batch a rerun)."""
    seen, deadline = [], time.time() + timeout
    while time.time() < deadline:
        wait_idle(page)
        seen.append((page.get_by_test_id("stFileUploader").last.inner_text(), round(rss_mb(pid)[0] / 10)))
        if len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]:
            return
        page.wait_for_timeout(2000)
    raise TimeoutError("the uploads did not settle")


def one_server(files: list[Path], bounded: bool, log: Path) -> dict[str, float]:
    """Resident memory of a fresh server before and after one session uploads `files` on the top-9 tab."""
    saved = {k: os.environ.pop(k, None) for k in UNBOUNDED}
    if not bounded:
        os.environ.update(UNBOUNDED)
    try:
        with dashboard(log) as (url, proc), chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.goto(f"{url}/features")
            wait_idle(page)
            page.get_by_role("tab", name="Top-9 activations").click()
            page.get_by_text("my uploads", exact=True).click()
            wait_idle(page)
            before = rss_mb(proc.pid)[0]
            page.get_by_test_id("stFileUploaderDropzoneInput").last.set_input_files([str(f) for f in files])
            settled(page, proc.pid)
            warning = page.locator("[data-testid='stAlertContentWarning']").all_inner_texts()
            now, peak = rss_mb(proc.pid)
            page.close()
    finally:
        for k in UNBOUNDED:
            os.environ.pop(k, None)
        os.environ.update({k: v for k, v in saved.items() if v is not None})
    return {
        "rss_before_mb": round(before),
        "rss_after_mb": round(now),
        "rss_peak_mb": round(peak),
        "warnings": " | ".join(w.strip().splitlines()[-1] for w in warning)[:160],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counts", default="50,100", help="how many files, comma-separated")
    ap.add_argument("--mb", type=int, default=24, help="size of each file in MB of 10**6 bytes (the cap is 25)")
    ap.add_argument("--json", action="store_true", help="also print the figures as one JSON line (for run_all.py)")
    args = ap.parse_args()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(c) for c in args.counts.split(",")):
            files = []
            for i in range(n):
                files.append(Path(tmp) / f"file{i:03d}.png")
                files[-1].write_bytes(os.urandom(args.mb * 10**6))
            for bounded in (False, True):
                name = f"{n}x{args.mb}MB_{'bounded' if bounded else 'unbounded'}"
                out[name] = one_server(files, bounded, Path(tmp) / f"{name}.log")
                print(name, out[name], flush=True)
            for f in files:
                f.unlink()
    if args.json:
        print("JSON " + json.dumps(out))


if __name__ == "__main__":
    main()
