"""End to end in a real browser: every page opened, an image uploaded through the real file input,
the expected result on screen, no exception block or error, and a screenshot.

Screenshots go to a temporary folder; with UPDATE_SCREENSHOTS=1 they replace docs/screenshots/.
"""

from __future__ import annotations

import os
import re
import time
from contextlib import closing
from pathlib import Path

import pytest

from explain.inputs.samples import sample_bytes
from tests.bounds import bound_ms, within
from tests.browser import (
    POLL_MS,
    ROOT,
    chromium,
    current_run,
    dashboard,
    open_panel,
    open_tab,
    problems,
    require_browser,
    rerun,
    subject_of,
    upload,
    wait_done,
    wait_idle,
    wait_settled,
    whole_page_shot,
)

pytestmark = pytest.mark.browser  # a real dashboard server driven by Chromium

PAGES = [
    # (name, URL path, what to do before uploading, text that must appear after the upload)
    ("classify", "", None, "chelsea.png · 451 x 300"),
    ("attributions", "attributions", None, "with respect to each pixel; its absolute map adds up |gradient| over R, G"),
    (
        "features",
        "features",
        ("tab", "Feature maps & deconvnet"),
        "deconvnet projection of its strongest activation, over the same patch (mid-grey = 0)",
    ),
    ("build", "build", ("popover", "The image fed through"), "on chelsea.png, as 3 x 224 x 224 input"),
    (
        "training",
        "training",
        ("tab", "Data augmentation"),
        "12 draws of the pipeline (rotation, affine) on chelsea.png",
    ),
    ("unet", "unet", ("radio", "any image (upload or sample)"), "what the U-Nets see"),
    ("detection", "detection", None, "chelsea.png: Shapes Mask R-CNN (bundled)"),
]


def screenshot(page, name: str, tmp_path: Path) -> None:
    """The page as it stands: the window into tmp_path; with UPDATE_SCREENSHOTS=1, the whole page at the window's
    width into docs/screenshots/ (slower: the window is resized and every chart waited for)."""
    if os.environ.get("UPDATE_SCREENSHOTS"):
        whole_page_shot(page, ROOT / "docs" / "screenshots" / name)
    else:
        page.screenshot(path=str(tmp_path / name))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    require_browser()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    with dashboard(log) as (url, _), chromium() as browser:
        yield url, browser


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("upload") / "chelsea.png"
    path.write_bytes(sample_bytes("chelsea the cat (photo)"))
    return path


@pytest.mark.parametrize("name, path, before, expected", PAGES, ids=[p[0] for p in PAGES])
def test_page_in_a_real_browser(app, photo, tmp_path, name, path, before, expected):
    url, browser = app
    with closing(browser.new_page(viewport={"width": 1280, "height": 720})) as page:  # a projector's
        page.goto(f"{url}/{path}")
        wait_idle(page)
        assert problems(page) == [], f"{name} shows an error before any input"
        if before:
            kind, label = before  # a tab is drawn by the browser alone; a radio, clicked on its label, runs the app
            if kind in ("tab", "popover"):  # a popover opens in the browser too, its uploader drawn apart
                page.get_by_role("tab" if kind == "tab" else "button", name=label).click()
            else:
                rerun(page, page.get_by_text(label, exact=True).first.click)
        upload(page, photo, within="[data-testid='stPopoverBody']" if before and before[0] == "popover" else "body")
        assert page.get_by_text(expected).filter(visible=True).count() > 0, f"{name}: {expected!r} is not shown"
        assert problems(page) == []
        screenshot(page, f"{name}.png", tmp_path)


# What was above an element when it was measured: its ancestors' test ids, and each main block's test id, top, height.
LAYOUT_AROUND = """e => ({
  path: (() => { const p = []; for (let a = e; a; a = a.parentElement) if (a.dataset && a.dataset.testid)
                   p.push(a.dataset.testid); return p.join(" < "); })(),
  blocks: [...document.querySelectorAll(".stMain [data-testid='stVerticalBlock'] > div")].slice(0, 30)
          .map(b => { const r = b.getBoundingClientRect();
                      return `${b.dataset.testid || "?"}@${Math.round(r.y)}+${Math.round(r.height)}`; }).join(" "),
})"""


def test_presenter_mode_at_1280_by_720_puts_the_first_map_above_the_fold(app, tmp_path):
    """#28.8, in Chromium at a projector's 1280 x 720: the first attribution map starts above the fold and its
    full-screen button is visible without hovering; the detections picture too."""
    url, browser = app
    with closing(browser.new_page(viewport={"width": 1280, "height": 720})) as page:
        for path in ("attributions", "detection"):
            page.goto(f"{url}/{path}?view_compact=true")
            run = wait_idle(page)
            wait_settled(page)  # the pictures drawn, not only the run done
            assert problems(page) == []
            # the first picture (not the colour bar's chart above the maps, which Plotly draws a moment later)
            picture = page.locator(".stMain [data-testid='stImage']").first
            box = picture.bounding_box()
            seen = None
            if box is None or box["y"] >= 720 - 150:  # seen under heavy load only: keep what the page showed
                seen = {"run": run, "layout": picture.evaluate(LAYOUT_AROUND), "now": current_run(page)}
                page.screenshot(path=str(tmp_path / f"below-the-fold-{path}.png"), full_page=True)
            assert box is not None and box["y"] < 720 - 150, (path, box, seen, str(tmp_path))  # 150 px in view
            button = page.locator(".stMain [data-testid='stElementToolbar']").first
            assert button.evaluate("e => getComputedStyle(e).opacity") == "1", path
            out = ROOT / "docs" / "screenshots" if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path
            page.screenshot(path=str(out / f"presenter-{path}.png"))  # exactly what a projector shows


def test_presenter_mode_names_the_first_charts_lines_on_the_first_screen(app):
    """At 1280 x 720 the legends of BatchNorm's and Transfer's first charts were under the charts, below the screen
    (a walk): presenting, they are above the charts, in view with them."""
    url, browser = app
    with closing(browser.new_page(viewport={"width": 1280, "height": 720})) as page:
        for path in ("training", "transfer"):
            page.goto(f"{url}/{path}?view_compact=true")
            wait_idle(page)
            legend = page.locator(".stMain .js-plotly-plot .legend").first
            legend.wait_for(timeout=bound_ms(60))  # Plotly draws after the run is done
            box, plot = legend.bounding_box(), page.locator(".stMain .js-plotly-plot .nsewdrag").first.bounding_box()
            assert box is not None and plot is not None and box["y"] + box["height"] <= min(720, plot["y"]), (path, box)
            assert problems(page) == []


# The detections table's element: its box, its row height (Glide draws rows on a canvas, 35 CSS px each) as the
# page shows it, and the right edge of the column it stands in.
_TABLE = """() => {
  const grid = document.querySelector(".stMain [data-testid='stDataFrame']");
  const r = grid.getBoundingClientRect();
  const column = grid.closest("[data-testid='stColumn']").getBoundingClientRect();
  return {x: r.x, y: r.y, width: r.width, height: r.height, columnRight: column.right};
}"""


def test_presenter_mode_enlarges_tables_and_a_click_still_picks_its_row(app, tmp_path):
    """A walk: tables stayed small on a projector (Streamlit draws them on a canvas, which CSS font sizes do not
    reach). Presenting, the detections table is drawn 1.25 times larger, still fits its column, and a click on its
    second row focuses that detection."""
    url, browser = app
    with closing(browser.new_page(viewport={"width": 1280, "height": 720})) as page:
        sizes = {}
        for compact in ("false", "true"):
            page.goto(f"{url}/detection?view_compact={compact}")
            wait_idle(page)
            wait_settled(page)
            sizes[compact] = page.evaluate(_TABLE)
        normal, shown = sizes["false"], sizes["true"]
        assert shown["height"] == pytest.approx(normal["height"] * 1.25, abs=2), sizes  # same rows, larger
        assert shown["x"] + shown["width"] <= shown["columnRight"] + 1, sizes  # within its column
        row = 35 * 1.25  # the header, then the rows, each this tall on the page
        rerun(page, lambda: page.mouse.click(shown["x"] + 20, shown["y"] + row * 2.5))  # the second row
        assert page.get_by_text("6. The mask head.").count() == 1 and problems(page) == []
        page.screenshot(path=str(tmp_path / "presenter-table.png"))


# st.metric and st.selectbox as Streamlit 1.67 draws them (their data-testids; classes left out), beside a paragraph
# of page text.
_METRIC = """<div class="stMain">
<div data-testid="stMarkdownContainer"><p>Page text</p></div>
<div data-testid="stMetric"><label data-testid="stMetricLabel"><div data-testid="stMarkdownContainer">
<p>Test accuracy without augmentation</p></div></label>
<div data-testid="stMetricValue" style="font-size: 2.25rem"><div data-testid="stMarkdownContainer"><p>92.2%</p></div>
</div></div>
<div data-testid="stSelectbox"><input type="text" role="combobox" value="generated star"></div></div>"""


def test_presenter_mode_keeps_a_metrics_value_larger_than_its_label_and_enlarges_a_selectboxs_text(app):
    """Walks: presenting, the augmentation tab's two accuracies were drawn as small as their labels (the style's
    paragraph rule reached inside st.metric), and a selectbox's choice stayed small under its enlarged label.
    Presenter mode's style on those elements: the metric's value larger, the choice as large as page text."""
    from ui.presenter import STYLE

    _, browser = app
    with closing(browser.new_page()) as page:
        page.set_content(STYLE + _METRIC)
        size = "(s) => parseFloat(getComputedStyle(document.querySelector(s)).fontSize)"
        text = page.evaluate(size, ".stMain > [data-testid='stMarkdownContainer'] p")
        label = page.evaluate(size, "[data-testid='stMetricLabel'] p")
        value = page.evaluate(size, "[data-testid='stMetricValue'] p")
        choice = page.evaluate(size, "[data-testid='stSelectbox'] input")
    assert text == label == choice == 1.2 * 16 and value >= 2 * label, (text, label, choice, value)


# Whether the app's script is running now, and the texts of the page's elements left stale (faded) meanwhile.
_WHILE_RUNNING = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  const stale = [...document.querySelectorAll(".stMain [data-stale='true']")].map(e => e.textContent);
  return {running: app.dataset.testScriptState === "running",
          staleAugmentation: stale.filter(t => t.includes("transforms v2")).length,  // that tab's introduction
          resumeLines: stale.filter(t => t.includes("press Resume to go on")).length};
}"""


def resume_and_watch(page) -> dict:
    """Press Resume and wait until the resumed run trains, its progress drawn; what _WHILE_RUNNING saw then."""
    page.get_by_role("button", name="Resume", exact=True).click()
    return page.wait_for_function(
        f"() => {{ const s = ({_WHILE_RUNNING})(); return s.running && "
        "document.body.innerText.includes('steps done') && s; }",
        timeout=bound_ms(120),
    ).json_value()


def in_view(page, locator) -> bool:
    """Whether the element is drawn wholly within the window as it stands (not scrolled to)."""
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size["height"]


MAIN_SCROLLED = "() => document.querySelector(\"[data-testid='stMain']\").scrollTop"  # the page scrolls in stMain


def assert_run_in_view(page) -> None:
    """A live run's progress bar and Stop are in view under the form that started it, at 1280 x 720, the page not
    scrolled (a walk found both below the fold, under the time estimate: a press changed nothing in view)."""
    assert page.evaluate(MAIN_SCROLLED) == 0  # not window.scrollY, always 0 here (a review)
    assert in_view(page, page.locator("[data-testid='stProgress']").first)
    assert in_view(page, page.get_by_role("button", name="Stop", exact=True))


def test_a_resumed_batchnorm_run_leaves_no_stale_line_and_no_faded_tab(app):
    """A walk: after Resume, 'Stopped at step 5 of 60: press Resume' stayed under a run that was training again, and
    the Data augmentation tab was faded while BatchNorm trained. While the resumed run trains, neither is so. At 1280
    x 720, its bar and Stop are in view."""
    url, browser = app
    with closing(browser.new_page(viewport={"width": 1280, "height": 720})) as page:
        page.goto(f"{url}/training")
        wait_idle(page)
        assert in_view(page, page.get_by_role("button", name="Train both networks"))  # no scroll to reach it
        page.get_by_role("button", name="Train both networks").click()
        page.get_by_text(re.compile(r"Training both networks: [\d,]+ of [\d,]+ steps done")).first.wait_for(
            timeout=bound_ms(120)
        )
        assert_run_in_view(page)
        # theme.paddingTop (.streamlit/config.toml): the title just under the 60-px header, not 80 px lower (the
        # page unscrolled: assert_run_in_view)
        assert 0 <= page.locator("h1").first.bounding_box()["y"] < 60
        rerun(page, page.get_by_role("button", name="Stop", exact=True).click)
        assert page.get_by_text("press Resume to go on").count() == 1
        seen = resume_and_watch(page)
        assert seen["staleAugmentation"] == 0 and seen["resumeLines"] == 0, seen
        rerun(page, page.get_by_role("button", name="Stop", exact=True).click)  # end it, not wait for it
        assert problems(page) == []


def test_a_resumed_training_loop_drops_its_stopped_line(app):
    """A walk: on Build, 'Stopped at step 5 of 60: press Resume to go on' stayed under the loop training again. At
    1280 x 720, the loop's bar and Stop are in view."""
    url, browser = app
    with closing(browser.new_page(viewport={"width": 1280, "height": 720})) as page:
        open_tab(page, f"{url}/build", "Training loop")
        assert in_view(page, page.get_by_role("button", name="Train", exact=True))  # no scroll to reach it
        page.get_by_role("button", name="Train", exact=True).click()
        page.get_by_text(re.compile(r"Training: [\d,]+ of [\d,]+ steps done")).first.wait_for(timeout=bound_ms(120))
        assert_run_in_view(page)
        rerun(page, page.get_by_role("button", name="Stop", exact=True).click)
        assert page.get_by_text("press Resume to go on").count() == 1
        seen = resume_and_watch(page)
        assert seen["resumeLines"] == 0 and page.get_by_text("press Resume to go on").count() == 0, seen
        rerun(page, page.get_by_role("button", name="Stop", exact=True).click)
        assert problems(page) == []


def test_a_corrupt_upload_shows_one_line_in_the_browser(app, tmp_path):
    url, browser = app
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with closing(browser.new_page()) as page:
        page.goto(f"{url}/attributions")
        wait_idle(page)
        upload(page, bad)
        texts = problems(page)
        assert len(texts) == 1
        message = texts[0].strip().splitlines()[-1]  # the alert's icon name comes first in its text
        assert message.startswith("broken.png: This file is not an image")
        assert page.locator("[data-testid='stException']").count() == 0


def test_after_a_new_image_the_channel_box_shows_the_channel_projected(app, photo):
    """#28 again, seen by a new-user walk: the app test read the server's value (the new image's strongest channel)
    while the browser's box still showed the last image's, so the box said 8 under a projection of channel 5."""
    url, browser = app
    with closing(browser.new_page(viewport={"width": 1280, "height": 900})) as page:
        open_tab(page, f"{url}/features", "Feature maps & deconvnet")
        box = page.get_by_role("spinbutton", name="Channel", exact=True)
        caption = page.locator("button[aria-label^='Fullscreen: channel ']")  # the projection's caption

        def shown() -> tuple[str, str]:
            return box.input_value(), caption.first.get_attribute("aria-label").split()[2].rstrip(":")

        before = shown()
        assert before[0] == before[1], before
        upload(page, photo)
        after = shown()
        assert after[0] == after[1] and after != before, (before, after)


def test_transfer_page_click_a_learning_curve_point_to_see_its_training_curve(app, tmp_path):
    from playwright.sync_api import expect

    url, browser = app
    with closing(browser.new_page(viewport={"width": 1280, "height": 720})) as page:
        page.goto(f"{url}/transfer")
        wait_idle(page)
        assert problems(page) == []
        # the crossover sentences, each with its measured means (since the shipped sweep was remade, 2026-12-05, no
        # sentence ends in "images per class.", which this looked for)
        assert page.get_by_text("Measured means:", exact=False).count() > 0
        # every regime shown is in sight in the multiselect (in one scrolling row only two of four were), its name whole
        # (in a third of the page the longest was cut: "Linear probe (cached features + logis...")
        regimes = page.get_by_test_id("stMultiSelect").filter(has_text="Regimes").first  # the chart's; the form's next
        field = regimes.get_by_test_id("stMultiSelectTagsContainer").bounding_box()
        chips = regimes.locator("[data-tag]")
        assert chips.count() == 4
        names = chips.locator("span[title]")
        assert all(names.nth(i).evaluate("e => e.scrollWidth <= e.clientWidth") for i in range(4))
        for chip in (chips.nth(i).bounding_box() for i in range(4)):
            assert field["x"] <= chip["x"] and chip["x"] + chip["width"] <= field["x"] + field["width"], (chip, field)
            assert field["y"] <= chip["y"] and chip["y"] + chip["height"] <= field["y"] + field["height"], (chip, field)
        page.wait_for_selector(".js-plotly-plot .scatterlayer .points path", timeout=bound_ms(60))  # Plotly draws late
        # per regime the chart holds its band, its fitted line and its points: trace 2 is scratch's points,
        # ordered by (n, seed); at n = 2 they stand apart from the other regimes' points
        points = page.locator(".js-plotly-plot").first.locator(".scatterlayer .trace").nth(2).locator(".points path")
        expect(points).to_have_count(21, timeout=bound_ms(60))  # 7 sizes x 3 seeds; Plotly draws trace by trace
        points.nth(3).scroll_into_view_if_needed()  # at 1280 x 720 the chart starts below the fold
        box = points.nth(3).bounding_box()  # Plotly listens on its drag layer above the points: click there
        rerun(page, lambda: page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2))
        assert page.get_by_text("training images seen in").filter(visible=True).count() == 1
        assert problems(page) == []
        screenshot(page, "transfer.png", tmp_path)


def start_sweep(page, link: str, progress: str) -> None:
    """Open the Transfer page at `link` (its form set by the link), press Run, and wait for the progress line to match
    the regular expression `progress`."""
    page.goto(link)
    wait_idle(page)
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text(re.compile(progress)).first.wait_for(timeout=bound_ms(120))


def test_transfer_sweep_from_the_page_can_be_cancelled_and_resumed(app):
    url, browser = app
    with closing(browser.new_page(viewport={"width": 1400, "height": 2400})) as page:
        # A link sets the form: 3 regimes x 1 size, 4 epochs, so that the runs after the first last seconds (the fast
        # runner trains a probe in a fraction of one) and the cancel lands while the sweep is still running.
        # One or two runs of three done: the second lasts a fraction of a second, and Streamlit sends only the newest
        # of the progress bar's updates not yet sent, so the page may never show "run 2 of 3"; "2 of 3 runs done"
        # stays for the whole third run.
        start_sweep(page, f"{url}/transfer?tf_sizes=1&tf_epochs=4", r"\b[12] of 3 runs done")
        assert page.get_by_role("button", name="Run", exact=True).is_disabled()  # one sweep at a time: Cancel first
        rerun(page, page.get_by_role("button", name="Stop sweep").click)
        assert page.get_by_role("button", name="Run", exact=True).is_enabled()
        # the page waits for the cancelled run to unwind (Streamlit runs the click in a new thread meanwhile): a walk
        # saw the sweep said to be "still being written" after Cancel, its heartbeat removed just after the page read
        assert page.get_by_text("still being written").count() == 0
        assert (
            page.get_by_text(
                re.compile(r"Sweep stopped with [12] of 3 runs finished: they are saved and shown")
            ).count()
            == 1
        )
        # the cancelled sweep's finished runs are what the page shows above the form (a walk still saw the shipped
        # sweep there), listed by what it holds
        shown = page.get_by_role("combobox", name="Results").input_value()
        assert "Yours: digits, 3 regimes, 1 image per class, 1 seed, 4 epochs" in shown, shown
        rerun(page, page.get_by_role("button", name="Run", exact=True).click)
        # "1 new run" when one was left; said under Stop and, once, in a toast (the toast read here must say the same)
        done = page.get_by_test_id("stMainBlockContainer").get_by_text(re.compile(r"new runs? saved in")).inner_text()
        assert page.get_by_test_id("stToastText").inner_text() == done
        assert int(done.split()[0]) < 3  # the runs finished before the cancel were kept, not redone
        assert "of this sweep already there were kept" in done
        assert problems(page) == []


def test_a_sweep_left_for_another_page_goes_on_when_the_visitor_comes_back(app):
    """The form said "leaving the page stops it"; a walk went to another page mid-sweep, came back, and saw it
    finish. The form now says going to another page pauses it, and this holds that: it goes on on the way back."""
    url, browser = app
    with closing(browser.new_page(viewport={"width": 1280, "height": 720})) as page:
        # 3 epochs: a sweep of its own, not the one the cancel test leaves in this browser's folder
        start_sweep(page, f"{url}/transfer?tf_sizes=1&tf_epochs=3", r"\b[012] of 3 runs done")
        assert page.get_by_role("button", name="Stop sweep").is_enabled()  # the sweep runs
        nav = page.get_by_test_id("stSidebarNavItems")
        rerun(page, nav.get_by_role("link", name="Classify").click)  # away, mid-sweep
        assert page.get_by_role("heading", name="What does the network see?").count() == 1
        rerun(page, nav.get_by_role("link", name="Transfer").click)  # and back
        page.get_by_text(re.compile(r"new runs? saved in")).first.wait_for(timeout=bound_ms(180))
        assert problems(page) == []


# Recorded in the page from its first frame: every text the sidebar navigation shows, whether the loading line was
# shown, and when the navigation and the home page's title first appeared (ms since the page opened).
_WATCH_COLD_START = """() => {
  const seen = window.__coldStart = {navs: [], saidLoading: false, navAt: null, titleAt: null};
  const look = () => {
    const nav = document.querySelector("[data-testid='stSidebarNav']");
    if (nav) {
      const text = nav.innerText.split(/\\s+/).join(" ");
      if (seen.navs[seen.navs.length - 1] !== text) seen.navs.push(text);
      if (seen.navAt === null) seen.navAt = performance.now();
    }
    seen.saidLoading ||= (document.body.innerText || "").includes("Starting: loading PyTorch");
    const title = [...document.querySelectorAll("h1")].some(h => h.innerText.includes(window.__coldTitle));
    if (title && seen.titleAt === null) seen.titleAt = performance.now();
  };
  new MutationObserver(look).observe(document, {subtree: true, childList: true, characterData: true});
}"""


def test_the_first_visit_after_a_restart_shows_the_app_while_it_loads(app, tmp_path):
    """Cold start: from the first frame the sidebar lists the app's pages (never Streamlit's legacy file list)
    and the page says it is loading, until the home page's title appears. A server of its own, just started;
    the module's browser (one Playwright per process). Every change to the page is seen (a MutationObserver),
    not samples of it."""
    _, browser = app
    with dashboard(tmp_path / "cold.log") as (url, _):
        # closed (on leaving the block) before its server stops: a page left open keeps reconnecting to a dead port
        with closing(browser.new_page(viewport={"width": 1024, "height": 768})) as page:
            page.add_init_script("window.__coldTitle = 'What does the network see?'")
            page.add_init_script(f"({_WATCH_COLD_START})()")
            page.goto(url)
            page.wait_for_function(
                "() => window.__coldStart && window.__coldStart.titleAt !== null",
                polling=POLL_MS,
                timeout=bound_ms(120),
            )
            seen = page.evaluate("() => window.__coldStart")
        navs = seen["navs"]
        assert navs and all("Classify" in n and "home" not in n.split() for n in navs), navs[:3]
        # anything longer than a second says what it is doing
        assert seen["saidLoading"] or seen["titleAt"] - seen["navAt"] < 1000, seen


def test_a_link_straight_to_a_page_after_a_restart_shows_the_app_while_it_loads(app, tmp_path):
    """#28: a fresh server runs a linked page's file directly (Streamlit's legacy pages/ mode until the first
    st.navigation); the page imported PyTorch and its views before reaching the shell, so /detection showed a blank
    page for about 6 s. Pages call app_shell() first: the app's navigation and the loading line come first."""
    _, browser = app
    with dashboard(tmp_path / "cold-link.log") as (url, _):
        with closing(browser.new_page(viewport={"width": 1024, "height": 768})) as page:
            page.add_init_script("window.__coldTitle = 'Mask R-CNN: what is where'")
            page.add_init_script(f"({_WATCH_COLD_START})()")
            page.goto(f"{url}/detection")
            page.wait_for_function(
                "() => window.__coldStart && window.__coldStart.titleAt !== null",
                polling=POLL_MS,
                timeout=bound_ms(120),
            )
            seen = page.evaluate("() => window.__coldStart")
        navs = seen["navs"]
        assert navs and all("Classify" in n and "home" not in n.split() for n in navs), navs[:3]
        # the shell's loading line is shown while PyTorch loads (a spinner shows once its block passes 0.5 s), so
        # the page was not blank meanwhile; before the fix the imports were over when the shell began
        assert seen["saidLoading"] and seen["navAt"] < seen["titleAt"], seen


def test_an_upload_the_server_refuses_is_said_at_once(app, tmp_path, monkeypatch):
    """A loopback review: a photo refused while the server was full left the page on its sample, the uploader's file
    red with "AxiosError: Request failed with status code 413" on hover and no word, until the visitor's next click.
    A refused file is now not kept but answered as taken: the page runs again and says why at its top. A server of
    its own, with a per-visitor budget of 1 MB."""
    import numpy as np
    from PIL import Image

    _, browser = app
    photo = tmp_path / "noise.png"  # 2.4 MB: random pixels do not compress
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (900, 900, 3), dtype=np.uint8)).save(photo)
    monkeypatch.setenv("EXPLAINER_UPLOAD_SESSION_MB", "1")
    # the page closed (leaving the block) before its server stops
    with dashboard(tmp_path / "refused.log") as (url, _), closing(browser.new_page()) as page:
        page.goto(url)
        wait_idle(page)
        upload(page, photo, explained=False, seconds=60)  # the run the upload starts, done (none came after a 413)
        said = "noise.png was not uploaded: your tabs' uploads would pass 1 MB; remove some first."
        assert page.get_by_text(said).count() == 1
        assert problems(page) == [] and page.get_by_text("generated star · 192 x 192").count() == 1


def test_a_link_restores_a_view_and_the_url_follows_the_widgets(app, tmp_path):
    """An instructor's link opens that view; a change made on the page reaches the address bar and the Copy
    link box; the compact link hides the explanatory text."""
    url, browser = app
    with closing(browser.new_page(viewport={"width": 1400, "height": 1400})) as page:
        page.goto(f"{url}/attributions?attr_sample=generated+circle&attr_mode=signed&view_compact=true")
        wait_idle(page)
        assert problems(page) == []
        assert page.get_by_text("Pick an image, a classifier and a class").count() == 0  # compact
        open_panel(page, "Settings")  # presenter mode folds the controls: open them
        assert page.get_by_role("radio", name="signed").is_checked()
        assert page.get_by_text("circle · The gradient").count() == 1  # the linked sample, explained as a circle
        rerun(page, page.get_by_text("absolute", exact=True).first.click)  # back to the default: it leaves the URL
        assert "attr_mode" not in page.url and "attr_sample=generated+circle" in page.url.replace("%20", "+")
        page.get_by_test_id("stExpandSidebarButton").click()  # a compact view opens with the sidebar folded
        page.get_by_text("Copy link").first.click()  # a popover: the browser draws it, the app does not run
        link = page.get_by_test_id("stPopoverBody").get_by_test_id("stCode")
        link.wait_for(timeout=bound_ms(30))
        link = link.inner_text()
        assert "/attributions?" in link and "view_compact=true" in link and "attr_mode" not in link
        page.screenshot(path=str(tmp_path / "link.png"))


def test_an_upload_is_found_again_after_a_reload_and_in_another_tab_but_not_in_another_browser(app, photo):
    """A walk reloaded the page mid-lecture and lost the photo from every page ("uploaded in another browser
    session"). Kept uploads are now the browser's (its XSRF cookie's token): a reload and a second tab find the photo
    the address names; a fresh browser context does not."""
    url, browser = app
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    stranger = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url)
        wait_idle(page)
        upload(page, photo)
        linked = page.url
        assert "upload=" in linked
        page.reload()  # a new session, its runs counted from 1 again
        tab = context.new_page()
        tab.goto(linked)
        for seen in (page, tab):
            wait_done(seen, subject=subject_of(photo))
            assert seen.get_by_text("chelsea.png · 451 x 300").count() == 1 and problems(seen) == []
        other = stranger.new_page()
        other.goto(linked)
        wait_idle(other)
        assert other.get_by_text("uploaded in another browser,", exact=False).count() == 1
    finally:
        context.close()
        stranger.close()


def test_a_hostile_annotation_file_leaves_the_server_answering(app, photo, tmp_path):
    """#31: a 200-byte annotation file with a box of (-1e308, -1e308, 1e308, 1e308) once held the GIL for 8 s while
    it was drawn, and every visitor's page and the health check waited. Now each hostile file gets its one line,
    and the health check, polled from another thread all along, answers within 2 s (the stall was 8-32 s)."""
    import threading
    import time
    import urllib.request

    from tests.hostile_files import BAD_ANNOTATIONS

    url, browser = app
    worst, stop = [0.0], threading.Event()

    def poll() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=60).read()
            worst[0] = max(worst[0], time.perf_counter() - t0)
            stop.wait(0.02)

    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    poller = threading.Thread(target=poll, daemon=True)
    try:
        page.goto(f"{url}/detection")
        wait_idle(page)
        upload(page, photo)
        page.get_by_role("tab", name="Against the truth").click()
        poller.start()
        for name in ("huge box", "deep nesting", "millions of objects"):
            data, words = BAD_ANNOTATIONS[name]
            path = tmp_path / f"{name.replace(' ', '_')}.json"
            path.write_bytes(data)
            upload(page, path, nth=1, explained=False)
            page.wait_for_selector(f"text={words}", timeout=bound_ms(5))
            assert len(problems(page)) == 1, name
    finally:
        stop.set()
        poller.join(timeout=60)
        page.close()
    assert worst[0] < within(2.0), f"the health check waited {worst[0]:.1f} s"


def test_a_multi_file_uploader_keeps_its_bound_and_says_so_in_one_line(app, tmp_path):
    """#31: the top-9 scan's "my uploads" takes at most 50 files; the 51st is dropped from the server with one
    line (the real server's uploaded-file manager, reached through the guard)."""
    from explain.inputs.upload_limits import TOP9_UPLOADS
    from tests.hostile_files import GOOD

    url, browser = app
    files = []
    for i in range(TOP9_UPLOADS.files + 1):
        files.append(tmp_path / f"img{i:02d}.png")
        files[-1].write_bytes(GOOD["rgb.png"])
    with closing(browser.new_page(viewport={"width": 1400, "height": 1400})) as page:
        open_tab(page, f"{url}/features", "Top-9 activations")
        rerun(page, page.get_by_text("my uploads", exact=True).click)
        page.get_by_test_id("stFileUploaderDropzoneInput").last.set_input_files([str(f) for f in files])
        line = page.get_by_text(f"1 of {len(files)} files dropped: one set takes at most {TOP9_UPLOADS.files} files")
        line.wait_for(timeout=bound_ms(300))  # the browser sends the files a batch at a time, each batch a rerun
        wait_idle(page)
        assert problems(page) == []


def uploads_held(page, url: str) -> int:
    """The bytes of uploaded files the server holds now, every session's (its /_stcore/metrics)."""
    text = page.request.get(f"{url}/_stcore/metrics").text()
    return sum(int(float(line.split()[-1])) for line in text.splitlines() if "UploadedFileManager" in line)


def wait_for_held(page, url: str, ready, what: str) -> int:
    """`uploads_held` once `ready(it)` holds, read again until then, within a bound."""
    deadline = time.monotonic() + within(30)
    while not ready(now := uploads_held(page, url)):
        assert time.monotonic() < deadline, f"waited for {what}; the server holds {now} bytes of uploads"
        time.sleep(0.25)  # the interval of a poll on a bounded condition
    return now


def test_your_own_network_uploaded_in_the_browser_is_explained(app, tmp_path):
    """#29 end to end in Chromium: a state_dict of the lecture's ResNet-18 (quarter width) and its class names
    uploaded on Build's Your model tab, then chosen on Classify, reached through the sidebar (the same session):
    the top-5 of that network over its own class names are shown."""
    import torch

    from models import own

    torch.manual_seed(0)
    weights, _ = own.export(own.build("lecture-resnet18", 4, width=0.25), own.OwnCard("lecture-resnet18", ("x",)))
    (tmp_path / "mine.pt").write_bytes(weights)
    (tmp_path / "names.txt").write_text("apple\nbanana\ncherry\ndate\n")
    _, browser = app
    # A server of its own: what it holds of uploads is this session's alone (a review: on the module's server,
    # earlier tests' closed sessions let their files go whenever Streamlit reaps them, which could hide the fall
    # below or stop the first reading from ever reaching both files)
    with (
        dashboard(tmp_path / "server.log") as (url, _),
        closing(browser.new_page(viewport={"width": 1280, "height": 720})) as page,
    ):
        open_tab(page, f"{url}/build", "Your model")
        # the tab's own: every tab is in the page (Anatomy's image picker, in a popover, is drawn only when opened)
        inputs = page.get_by_role("tabpanel", name="Your model").get_by_test_id("stFileUploaderDropzoneInput")
        before, ours = uploads_held(page, url), len(weights) + (tmp_path / "names.txt").stat().st_size
        inputs.nth(0).set_input_files(str(tmp_path / "mine.pt"))
        inputs.nth(2).set_input_files(str(tmp_path / "names.txt"))
        page.get_by_text("names.txt").wait_for(timeout=bound_ms(30))  # both files are in the form
        # The server holds both (a file's name shows before its bytes have arrived: under load, the first reading
        # here missed the weights). Streamlit computes the figure at most every 5 s: read until it says so.
        held = wait_for_held(page, url, lambda now: now >= before + ours, "both files to arrive")
        rerun(page, page.get_by_role("button", name="Load", exact=True).click)
        assert problems(page) == []
        assert page.get_by_text("Loaded mine for this browser session", exact=False).count() == 1
        # the loaded files are let go by the server (a loopback review: the emptied form's files stayed held, and a
        # third upload in the tab was refused): what it holds fell by both files at least
        wait_for_held(page, url, lambda now: held - now >= ours, "the server to let the loaded files go")
        rerun(page, page.get_by_role("link", name="Classify").click)  # the app's navigation keeps the session
        # the page's pictures loaded and in place before the box is clicked. One CI run (2026-12-04, 66fa3d5) found
        # no 'Yours: mine' option within 30 s here; not reproduced alone or beside three CPU hogs, cause not
        # established: a late picture moving the box from under the pointer is one guess, and this rules it out
        wait_settled(page)
        page.get_by_test_id("stSelectbox").filter(has_text="Classifier").click()
        rerun(page, page.get_by_role("option", name="Yours: mine").click)
        assert problems(page) == []
        assert page.get_by_text("mine: weights yours, held in this browser session only").count() == 1
        chart = page.locator(".js-plotly-plot").filter(has_text="Top-5 of mine")
        chart.locator(".main-svg").first.wait_for(timeout=bound_ms(60))
        bars = chart.locator(".ytick text").all_text_contents()
        assert set(bars) == {"apple", "banana", "cherry", "date"}, bars  # its four classes, named by the file
        page.screenshot(path=str(tmp_path / "own.png"))
