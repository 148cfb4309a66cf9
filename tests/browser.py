"""A real dashboard and a real browser for tests: `streamlit run` on a free port, Debian's
Chromium driven by Playwright (no browser download), and waiting until a run has drawn everything.

No wait here is a fixed sleep: each waits on a condition, within a bound (tests/bounds.py: seconds
that EXPLAINER_TEST_TIME_FACTOR multiplies). A run is done when the app's done marker
(`ui.shell.mark_done`: the run's number and the SHA-256 of the image it explained) is on the page,
not stale, and Streamlit's script state is `notRunning`."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from tests.bounds import bound_ms, within

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")  # the full browser: what a visitor's load is timed in
# The tests' browser: Debian's chromium-headless-shell where it is installed (Chromium's old headless mode, which
# Playwright itself runs by default: the same Blink and V8 without the browser's own interface). A page load took a
# fifth less CPU in it than in the full browser's headless mode here (3.3-4.6 s against 4.6-5.7 s on 2026-12-06: the
# full one also runs a renderer for its own interface), CPU the other pytest worker needs. Else the full browser.
HEADLESS_SHELL = "/usr/bin/chromium-headless-shell"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# How often a wait for a lasting state (a run done, a panel opened, charts drawn) reads the page. Playwright's default
# reads it every animation frame: with eight tabs open, the page-wide queries at 60 Hz took the CPU that the tabs' own
# drawing needed (vmstat: no idle core while the concurrency test's tabs loaded; a quarter idle at 100 ms, same wall
# time), CPU the other pytest worker can use. A wait for a passing state (a run seen while it trains) keeps the frame.
POLL_MS = 100


def require_browser() -> None:
    """Skip when Playwright or Chromium is missing, except under CI, where that is a failure."""
    missing = []
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("the playwright package")
    if browser_executable() is None:
        missing.append("Debian's chromium (bash .ci/ensure-chromium installs it)")
    if missing:
        why = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


def browser_executable() -> str | None:
    """The browser the tests drive: $CHROMIUM when set, else the headless shell, else the full browser; None when
    there is none."""
    named = os.environ.get("CHROMIUM")
    for candidate in [named] if named else [HEADLESS_SHELL, CHROMIUM]:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium-headless-shell") or shutil.which("chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, log, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`streamlit run app.py` headless on `port`, its output into the open file `log`."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_healthy(proc: subprocess.Popen, port: int, log_path: Path, timeout: float = 120) -> None:
    """Wait until the server answers its health check. Fails at once, with the server's last output, when the
    process has exited, and after `timeout` seconds otherwise: a dead server is never waited for."""
    deadline = time.time() + within(timeout)
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            if time.time() > deadline:
                raise RuntimeError(
                    f"streamlit did not become healthy in {timeout:.0f} s: {log_path.read_text()[-2000:]}"
                ) from None
            time.sleep(0.05)  # the interval of a poll on a bounded condition


@contextmanager
def dashboard(log_path: Path):
    """Start the app headless and offline on the test device, with a model cache and results folder of its own that
    are removed when it has stopped (each start had left both behind: 539 pairs in this VM's /tmp); yield (base URL,
    process); stop it afterwards."""
    with (
        tempfile.TemporaryDirectory(prefix="explainer-browser-", ignore_cleanup_errors=True) as torch_home,
        tempfile.TemporaryDirectory(prefix="explainer-results-", ignore_cleanup_errors=True) as results,
        open(log_path, "wb") as log,
    ):
        port = free_port()
        env = {
            **os.environ,
            "EXPLAINER_OFFLINE": "1",
            "TORCH_HOME": torch_home,
            "EXPLAINER_RESULTS": results,
            "PYTHONFAULTHANDLER": "1",  # SIGABRT writes every thread's stack to the log: see stop_server
            # The server gets this process's share of the cores (tests/conftest.py), as the tests do: with a thread
            # per core beside the other pytest worker, OpenMP's threads waited on cores the worker held, and the
            # page-sweep test's first run took 35 s against 3 s (its test 69 s in the suite, 13 s alone)
            "OMP_NUM_THREADS": str(torch.get_num_threads()),
        }
        proc = start_server(port, log, env)
        try:
            wait_healthy(proc, port, log_path)
            yield f"http://127.0.0.1:{port}", proc
        finally:
            stop_server(proc, log_path)


def stop_server(proc: subprocess.Popen, log_path: Path, seconds: float = 30) -> None:
    """Stop a dashboard as a host would (SIGTERM) and wait for it to exit. One did not exit within 30 s once, in a
    fresh-clone CI run under load (its log ended at "Stopping...", and it could not be made to again): one that does
    not is made to dump its threads' stacks (SIGABRT, faulthandler) and the test fails with them, so the next time
    says where it hung."""
    proc.terminate()
    try:
        proc.wait(timeout=within(seconds))
    except subprocess.TimeoutExpired as late:
        proc.send_signal(signal.SIGABRT)
        try:
            proc.wait(timeout=within(30))
        except subprocess.TimeoutExpired:
            proc.kill()  # not even SIGABRT: no stacks, but no process left behind
            proc.wait()
        stacks = log_path.read_text(errors="replace")[-6000:]
        # chained, not `from None`: a test body that failed first still shows its own error above this one
        raise AssertionError(
            f"the dashboard did not stop within {seconds:g} s of SIGTERM; its log ends:\n{stacks}"
        ) from late


@contextmanager
def chromium():
    """Chromium driven by Playwright (`browser_executable`), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_executable(), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# The newest done marker not left over from a run in progress, once the app is connected and idle and no element is
# still a skeleton (Streamlit loads each element kind's code on first use and shows `stSkeleton` meanwhile: under
# load, skeletons were seen for a second after the script went idle, a picture's caption was missing, and a click on
# a radio's label that had just mounted never reached the app): its run number when it is newer than `after` and
# names `subject` (null: any), else false.
_DONE = """([after, subject]) => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.dataset.testConnectionState !== "CONNECTED" || app.dataset.testScriptState !== "notRunning")
    return false;
  if ([...document.querySelectorAll("[data-testid='stSkeleton']")].some(s => !s.closest("[data-stale='true']")))
    return false;
  const marks = [...document.querySelectorAll("span.explainer-run-done")]
    .filter(m => !m.closest("[data-stale='true']"));
  const mark = marks[marks.length - 1];
  if (!mark || Number(mark.dataset.run) <= after || (subject !== null && mark.dataset.subject !== subject))
    return false;
  return Number(mark.dataset.run);
}"""


# What a wait that ran out saw: the connection and script states, every done marker, and any error on the page.
_STATE = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  return {
    url: location.href,
    connection: app && app.dataset.testConnectionState,
    script: app && app.dataset.testScriptState,
    skeletons: document.querySelectorAll("[data-testid='stSkeleton']").length,
    marks: [...document.querySelectorAll("span.explainer-run-done")].map(m =>
      [Number(m.dataset.run), m.dataset.subject.slice(0, 12), !!m.closest("[data-stale='true']")]),
    errors: [...document.querySelectorAll("[data-testid='stException'], [data-testid='stAlertContentError']")]
      .map(e => e.innerText.slice(0, 300)),
  };
}"""


def wait_done(page, after: int = 0, subject: str | None = None, seconds: float = 300) -> int:
    """Until a run newer than run number `after` (explaining the image whose SHA-256 is `subject`, when given)
    has drawn everything and the script is idle; returns that run's number. When the bound runs out, the error
    says what the page showed then (one CI run timed out here once, with nothing to tell why)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        return page.wait_for_function(
            _DONE, arg=[after, subject], polling=POLL_MS, timeout=bound_ms(seconds)
        ).json_value()
    except PlaywrightTimeout:
        seen = page.evaluate(_STATE)
        raise AssertionError(
            f"no run after run {after} finished within {bound_ms(seconds) / 1000:g} s: {seen}"
        ) from None


# Every picture in the main area loaded and the pictures' places unchanged over ten polls (100 ms apart): a run's
# deltas can be done while the browser is still mounting its pictures (seen under load: the first picture in the
# page was the second row's, the first row not yet drawn).
_SETTLED = """() => {
  const images = [...document.querySelectorAll(".stMain img")];
  const layout = JSON.stringify([...document.querySelectorAll(".stMain [data-testid='stImage']")].map(e => {
    const r = e.getBoundingClientRect(); return [Math.round(r.x), Math.round(r.y)]; }));
  const ready = images.every(i => i.complete && i.naturalWidth > 0);
  const last = window.__settled;
  window.__settled = {layout, polls: ready && last && last.layout === layout ? last.polls + 1 : 0};
  return window.__settled.polls >= 10;
}"""


# What keeps a page from settling: its pictures not loaded (their source's end) and the pictures' places now.
_UNSETTLED = """() => ({
  unloaded: [...document.querySelectorAll(".stMain img")].filter(i => !(i.complete && i.naturalWidth > 0))
    .map(i => (i.getAttribute("src") || "").slice(-60)),
  places: [...document.querySelectorAll(".stMain [data-testid='stImage']")].map(e => {
    const r = e.getBoundingClientRect(); return [Math.round(r.x), Math.round(r.y)]; }),
  script: document.querySelector("[data-testid='stApp']")?.dataset.testScriptState,
})"""


def wait_settled(page, seconds: float = 60) -> None:
    """After a run is done: until its pictures are loaded and in place (see _SETTLED). When the bound runs out, the
    error says which pictures had not loaded and where the pictures were (a CI run timed out here with no word)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.evaluate("() => { window.__settled = null; }")
    try:
        page.wait_for_function(_SETTLED, polling=100, timeout=bound_ms(seconds))
    except PlaywrightTimeout:
        seen = page.evaluate(_UNSETTLED)
        # what the server answers for each picture not loaded now: a 404 says the file was gone when the browser asked
        # (the concurrency test met one picture that never loaded, 2 runs of 9 on 2026-12-06; the cause not found)
        seen["server_now"] = {src: _status(page, src) for src in seen.get("unloaded", [])[:5]}
        raise AssertionError(f"pictures not settled within {bound_ms(seconds) / 1000:g} s: {seen}") from None


def _status(page, src: str) -> int | str:
    """The HTTP status of the picture at `src` (a page-relative URL) fetched now, or why it could not be fetched."""
    try:
        return page.request.get(page.url.split("//", 1)[0] + src if src.startswith("//") else src).status
    except Exception as exc:  # a diagnosis for a failure already being reported: never a second error
        return type(exc).__name__


def current_run(page) -> int:
    """The number of the last finished run on the page (0 before the first)."""
    return page.evaluate("""() => Math.max(0, ...[...document.querySelectorAll("span.explainer-run-done")]
                                          .map(m => Number(m.dataset.run)))""")


def wait_idle(page, seconds: float = 300) -> int:
    """After opening a page: until its first run is done. Returns the run's number."""
    return wait_done(page, seconds=seconds)


def rerun(page, action, seconds: float = 300) -> int:
    """Do `action` (a click, a key press) that makes the app run again, and wait until that run is done."""
    before = current_run(page)
    action()
    return wait_done(page, after=before, seconds=seconds)


def open_tab(page, url: str, tab: str) -> None:
    """Open the page at `url`, wait for its script to finish, and show its tab `tab` (a tab is drawn by the browser
    alone: no rerun to wait for)."""
    page.goto(url)
    wait_idle(page)
    page.get_by_role("tab", name=tab).click()


# The expander whose summary reads `label` is open and done opening: Streamlit animates its height (Web Animations,
# overflow hidden meanwhile) and starts again when its content resizes. A click inside during that animation scrolled
# the panel under the pointer: under load its mouse-up landed on the next label up and the radio never changed.
_OPENED = """(label) => {
  const d = [...document.querySelectorAll("[data-testid='stExpander'] details")]
    .find(d => d.querySelector("summary [data-testid='stMarkdownContainer']")?.innerText.trim() === label);
  return !!d && d.open && d.getAnimations().length === 0 && d.style.height === "";
}"""


def open_panel(page, label: str, seconds: float = 30) -> None:
    """Open the expander labelled `label` (the browser draws it, the app does not run) and wait until it has stopped
    growing, so a click inside lands where it was aimed."""
    page.get_by_test_id("stExpander").get_by_text(label, exact=True).first.click()
    page.wait_for_function(_OPENED, arg=label, polling=POLL_MS, timeout=bound_ms(seconds))


def problems(page) -> list[str]:
    """Texts of exception blocks and error alerts on the page."""
    return page.locator("[data-testid='stException'], [data-testid='stAlertContentError']").all_inner_texts()


def upload(page, path: Path, nth: int = 0, explained: bool = True, seconds: float = 300, within: str = "body") -> int:
    """Put a file into the `nth` file uploader `within` an element (a CSS selector: the page by default; an open
    popover's uploader is drawn apart, `[data-testid='stPopoverBody']`) and wait until the run it starts is done;
    with `explained`, until the run explaining that image (the done marker names its SHA-256)."""
    before = current_run(page)
    page.locator(within).get_by_test_id("stFileUploaderDropzoneInput").nth(nth).set_input_files(str(path))
    return wait_done(page, after=before, subject=subject_of(path) if explained else None, seconds=seconds)


def subject_of(path: Path) -> str:
    """What the done marker of a run explaining the image file at `path` names: the SHA-256 of its bytes."""
    from explain.inputs.images import image_sha256

    return image_sha256(path.read_bytes())


def whole_page_shot(page, path: Path, cap: int = 3200) -> None:
    """A screenshot of the whole page at the viewport's width: Streamlit scrolls its main area inside the window,
    so a full-page screenshot holds only the window; the window is made as tall as the page (at most `cap` px)
    for the shot, once the charts are drawn, and put back."""
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), cap)})
    page.wait_for_function(  # every chart in view drawn (one in a hidden tab is drawn when its tab is opened)
        """() => [...document.querySelectorAll('.js-plotly-plot')]
                 .filter(p => p.offsetParent !== null).every(p => p.querySelector('.main-svg'))""",
        polling=POLL_MS,
        timeout=bound_ms(60),
    )
    page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollTo(0, 0)")  # from its top
    page.screenshot(path=str(path))
    page.set_viewport_size(size)


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process in MB, from /proc (Linux)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
