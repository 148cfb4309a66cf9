"""The "Ready for the lecture?" panel: every zoo model's weights and what runs meanwhile, the fetch-all button
(disabled with nothing to fetch; one line per file that fails), and the heavy jobs' times with their basis."""

from __future__ import annotations

import re

import pytest

from models import readiness as ready
from models.hub import weights_cache
from tests.app_helpers import open_page


def test_the_panel_lists_every_model_and_times_the_heavy_jobs():
    at = open_page("pages/home.py")
    assert not at.exception
    assert any(e.label.startswith("Ready for the lecture?") for e in at.expander)
    table = next(d.value for d in at.dataframe if "runs now" in d.value.columns)
    assert len(table) == len(ready.readiness()) == 8  # four ImageNet classifiers, four COCO detectors
    offline = table[table["weights"] == "not here, no network"]
    assert len(offline) == 8 and set(offline["runs now"]) == {
        "Shapes ResNet-18 (bundled)",
        "Shapes Mask R-CNN (bundled)",
    }
    assert table["file (MB)"].min() > 40  # torchvision's stated sizes (ResNet-18: 44.7 MB)
    fetch = at.button(key="ready_fetch")
    assert fetch.disabled and fetch.label == "Fetch missing weights"  # offline: nothing can be fetched
    # and it says why beside the button, not only on hovering it (a walk saw it greyed without a word)
    why = "Nothing to fetch: this server has no network, so the 8 networks not here run on their bundled stand-ins"
    assert any(c.value.startswith(why) for c in at.caption) and fetch.help.startswith(why)
    times = " ".join(m.value for m in at.markdown)
    assert "**BatchNorm pair**" in times and "**Training loop**, digits net" in times and "**A page sweep**" in times
    assert "no run like it has finished" in times  # the basis of each figure is said
    # each network's size beside its time: the full-size digits net is slower than ResNet-18 at 1/4 width (a walk)
    assert (
        "digits net (6.0 M parameters; Build" in times
        and "ResNet-18 at 1/4 width on digits (0.7 M parameters; Build" in times
    )


def test_the_panel_times_the_jobs_on_this_server_when_asked(monkeypatch):
    """A walk planned a lecture on the panel's bench figures (an idle 2-core CPU), half what Build then measured on
    the server. The panel draws at once, timing nothing; its button times a few steps of each job here."""
    from models import speed_probe
    from models.measured import KeptMeasurements
    from models.transfer import pace
    from ui.live_run import server_speeds
    from ui.readiness import page_sweep_estimate

    monkeypatch.setattr(speed_probe, "_PROBES", KeptMeasurements(speed_probe.PROBE_TTL))  # nothing timed yet
    monkeypatch.setattr(pace, "PACES", KeptMeasurements(pace.PACE_TTL))
    server_speeds().by_kind.clear()
    page_sweep_estimate.clear()
    at = open_page("pages/home.py")
    lines = [m.value for m in at.markdown if "**BatchNorm pair**" in m.value]
    # the BatchNorm pair and the three Build setups, all timed alike: where from, said once above their four lines
    # (a walk read the same 40 words under each of the four)
    shared, *jobs = lines[0].split("\n- ")[:5] if lines else [""]
    assert (
        shared.startswith(
            "The BatchNorm pair and the training loops at their defaults (where their figures come from: measured "
            "by `bench/bench_training.py` on an idle 2-core CPU"
        )
        and lines[0].count("on an idle 2-core CPU") == 1
    )
    assert len(jobs) == 4 and all(re.search(r"\): (About|Under) .* for [\d,]+ steps$", job) for job in jobs), jobs
    at.button(key="home_time_jobs").click().run()
    assert not at.exception
    (timed,) = [m.value for m in at.markdown if "**BatchNorm pair**" in m.value]
    # each job's probe adds its own share for evaluations and drawing, so each line says its own basis
    assert "idle 2-core" not in timed and timed.count("a few of its steps timed on this server in the last minute") == 4
    # and the page sweep's figure is scaled to the pace timed here now
    assert "scaled to the training speed measured on this server now" in timed.split("**A page sweep**")[1]


def test_fetch_missing_fetches_what_it_can_and_says_why_not_for_the_rest(monkeypatch):
    monkeypatch.setattr(ready, "status", lambda weights: "downloadable")
    fetched = []

    def download(weights, report=None):
        if "AlexNet" in str(weights):
            raise weights_cache.WeightsUnavailable("the download was interrupted\nat 12 MB")
        report(5, 10)
        fetched.append(weights)

    monkeypatch.setattr(weights_cache, "download", download)
    seen = []
    failures = ready.fetch_missing(lambda name, done, total: seen.append((name, done, total)))
    assert failures == {"alexnet": "AlexNet (ImageNet): the download was interrupted"}  # one line
    assert len(fetched) == 7 and ("ResNet-18 (ImageNet)", 5, 10) in seen


@pytest.mark.parametrize("state", ["cached", "bundled"])
def test_nothing_is_fetched_when_nothing_is_missing(monkeypatch, state):
    monkeypatch.setattr(ready, "status", lambda weights: state)
    monkeypatch.setattr(weights_cache, "download", lambda *a, **k: pytest.fail("nothing to fetch"))
    assert ready.fetch_missing() == {}
