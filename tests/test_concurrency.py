"""Several visitors at once: each gets exactly the result it gets alone, every model is loaded once
per process, and memory settles instead of growing with every wave of sessions."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from explain.inputs.samples import sample_bytes
from tests.bounds import bound_ms
from tests.browser import (
    chromium,
    dashboard,
    require_browser,
    rss_mb,
    subject_of,
    upload,
    wait_done,
    wait_idle,
    wait_settled,
)

pytestmark = [pytest.mark.browser, pytest.mark.sessions]  # a real dashboard server driven by Chromium

IMAGES = ["chelsea the cat (photo)", "coffee (photo)", "generated star", "generated scene 1"]
PAGES = ["", "attributions", "detection"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("images")
    out = []
    for i, name in enumerate(IMAGES):
        path = folder / f"image{i}.png"
        path.write_bytes(sample_bytes(name))
        out.append(path)
    return out


def signature(page, path: str) -> tuple:
    """What a visitor sees as the result: the top-5 bars, or the bytes of the page's images. Read once the run
    explaining the image is done; Plotly draws its chart in the browser after that, so its bars are waited for."""
    if path == "":
        chart = page.locator("[data-testid='stPlotlyChart']").first
        chart.locator("text.bartext").first.wait_for(timeout=bound_ms(60))
        return tuple(chart.locator("text.bartext").all_inner_texts() + chart.locator(".ytick").all_inner_texts())
    # Every picture loaded and in place first, as the browser tests read theirs: a run can be done while the browser
    # still mounts its pictures. One CI run (at 63fb74e) found the detection page's first picture different from its
    # solo run; whether one of the two was read half-mounted is not established (three runs under load since: equal)
    wait_settled(page)
    digests = []
    for img in page.locator("[data-testid='stImage'] img").all():
        src = img.get_attribute("src") or ""
        if "/media/" in src:
            digests.append(hashlib.sha256(page.request.get(src).body()).hexdigest())
    assert digests, f"no images on the page {path}"
    return tuple(digests)


def mismatch(page, path: str, name: str, got: tuple, alone: tuple) -> str:
    """What differed, for the next reader of a failure: which pictures (by caption) and how many (the failure at
    63fb74e said only that the first digest differed)."""
    captions = page.locator("[data-testid='stImage']").all_inner_texts()
    differ = [i for i, (a, b) in enumerate(zip(got, alone, strict=False)) if a != b]
    named = [captions[i][:80] if i < len(captions) else f"#{i}" for i in differ]
    return f"{path or 'home'} with {name}: {len(got)} pictures against {len(alone)} alone; differing: {named}"


def open_page(context, url: str, path: str):
    """A visitor's tab on `path`, its first run done."""
    page = context.new_page()
    page.goto(f"{url}/{path}")
    wait_idle(page)
    return page


def test_eight_sessions_at_once_get_their_solo_results(files, tmp_path):
    require_browser()
    log = tmp_path / "server.log"
    with dashboard(log) as (url, proc), chromium() as browser:
        # eight sessions: the classifier's bars on two images, attributions and detection (the pages that once
        # differed under load) on three each
        jobs = [(path, image) for path in PAGES for image in (files[:2] if path == "" else files[1:])]
        assert len(jobs) == 8
        # Alone: one session per page, its images one after another (a session's result for an image does not depend
        # on what it explained before; the concurrent sessions below are all new and must give the same).
        # Sessions are browser tabs (Streamlit's sessions are per tab), those of one wave in one browser context.
        solo = {}
        context = browser.new_context()
        for path in PAGES:
            page = open_page(context, url, path)
            for image in (image for p, image in jobs if p == path):
                upload(page, image)
                solo[(path, image.name)] = signature(page, path)
        context.close()
        baseline = rss_mb(proc.pid)[0]

        growth = []
        for _wave in range(2):
            context = browser.new_context()
            # the wave's tabs opened at once, their first runs on the server together too (one after another they
            # took 22 s of the test's 106, alone), then each waited for
            pages = [context.new_page() for _ in jobs]
            for page, (path, _) in zip(pages, jobs, strict=True):
                page.goto(f"{url}/{path}")
            before = [wait_idle(page) for page in pages]
            for page, (_, image) in zip(pages, jobs, strict=True):  # all of them run on the server together
                page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(image))
            for page, run, (path, image) in zip(pages, before, jobs, strict=True):
                wait_done(page, after=run, subject=subject_of(image))
                got, alone = signature(page, path), solo[(path, image.name)]
                assert got == alone, mismatch(page, path, image.name, got, alone)
            context.close()
            growth.append(rss_mb(proc.pid)[0] - baseline)

        loads = re.findall(r"loaded classifier (\S+)", log.read_text())
        assert loads and len(loads) == len(set(loads)), f"a model was loaded twice: {loads}"
        assert growth[1] - growth[0] < 150, f"memory kept growing: {growth} MB over {baseline:.0f} MB"
        assert growth[1] < 800, f"memory grew by {growth[1]:.0f} MB"
