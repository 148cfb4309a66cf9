"""Peak memory of the dashboard while one visitor goes through every page.

    python bench/memory_tour.py

Starts the app headless and offline, and in Chromium opens every page, uploads a photo, and
presses each page's main buttons (sanity check, faithfulness, top-9 scan, occlusion, a short
BatchNorm run), then uploads a network of its own three times (45 MB each; a session holds one) and explains it.
Prints the server's resident memory after start-up and its peak (Linux /proc).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explain.inputs.samples import sample_bytes  # noqa: E402
from tests.browser import chromium, dashboard, rerun, rss_mb, upload, wait_idle  # noqa: E402

STEPS = [
    # URL path, tab to open first, buttons to press after the upload
    ("", None, []),
    ("attributions", None, []),
    ("attributions", "Sanity check", ["Run the sanity check"]),
    ("attributions", "Faithfulness", ["Measure faithfulness"]),
    ("features", "Top-9 activations", []),
    ("features", "Occlusion sensitivity", ["Slide the grey square"]),
    ("training", None, []),
    ("training", "Data augmentation", []),
    ("unet", None, []),
    ("detection", None, []),
    ("transfer", None, ["Run"]),  # a small sweep with the page's default settings
]
NO_UPLOAD = ("unet", "transfer")  # the U-Net page starts from a generated scene; the transfer page takes no image


def own_network(page, url: str, folder: Path, pid: int) -> None:
    """Your own network: the lecture's full-width ResNet-18 state_dict (45 MB) uploaded on Build's Your model tab
    three times (each replaces the last: a session holds at most one), then explained on Attributions, reached
    through the sidebar (the same session)."""
    import torch

    from models import own

    torch.manual_seed(0)
    weights, _ = own.export(own.build("lecture-resnet18", 10), own.OwnCard("lecture-resnet18", ("x",)))
    (folder / "mine.pt").write_bytes(weights)
    page.goto(f"{url}/build")
    wait_idle(page)
    for i in range(3):
        page.get_by_role("tab", name="Your model").click()
        uploaders = page.get_by_role("tabpanel", name="Your model").get_by_test_id("stFileUploaderDropzoneInput")
        uploaders.nth(0).set_input_files(str(folder / "mine.pt"))
        page.get_by_text("mine.pt").first.wait_for()
        rerun(page, page.get_by_role("button", name="Load", exact=True).click)
        now, peak = rss_mb(pid)
        print(f"own network  upload {i + 1} of 3          resident {now:7.0f} MB, peak so far {peak:7.0f} MB")
    rerun(page, page.get_by_role("link", name="Attributions").click)
    page.get_by_test_id("stSelectbox").filter(has_text="Classifier").click()
    rerun(page, page.get_by_role("option", name="Yours: mine").click)
    now, peak = rss_mb(pid)
    print(f"own network  explained on Attributions resident {now:7.0f} MB, peak so far {peak:7.0f} MB")


def main() -> None:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        tour(Path(tmp))


def tour(folder: Path) -> None:
    """The tour, its photo and server log in `folder`."""
    photo = folder / "chelsea.png"
    photo.write_bytes(sample_bytes("chelsea the cat (photo)"))
    with dashboard(folder / "server.log") as (url, proc), chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.goto(url)
        wait_idle(page)
        start = rss_mb(proc.pid)[0]
        t0 = time.perf_counter()
        for path, tab, buttons in STEPS:
            page.goto(f"{url}/{path}")
            wait_idle(page)
            if tab:
                page.get_by_role("tab", name=tab).first.click()
                wait_idle(page)
            if path not in NO_UPLOAD:
                upload(page, photo)
            for label in buttons:
                page.get_by_role("button", name=label).first.click()
                wait_idle(page)
            if path == "features" and tab == "Top-9 activations":
                page.get_by_role("button", name="Scan").first.click()
                wait_idle(page)
            now, peak = rss_mb(proc.pid)
            print(f"{path or 'home':13s} {tab or '':22s} resident {now:7.0f} MB, peak so far {peak:7.0f} MB")
        own_network(page, url, folder, proc.pid)
        now, peak = rss_mb(proc.pid)
    print(
        f"\nafter start-up and the home page: {start:.0f} MB; peak over the tour: {peak:.0f} MB; "
        f"at the end: {now:.0f} MB; tour took {time.perf_counter() - t0:.0f} s"
    )
    if "--json" in sys.argv:
        print("JSON " + json.dumps({"resident after start-up (MB)": start, "peak over the tour (MB)": peak}))


if __name__ == "__main__":
    main()
