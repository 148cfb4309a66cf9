"""The training-tricks page through AppTest: both tabs, a live run, pipeline editing."""

import json

import pytest

from models.experiments.augmentation import PRESETS
from tests.app_helpers import image_captions, live, open_page, plotly_specs
from tests.test_app_build import in_order

pytestmark = pytest.mark.training  # trains networks for real (seconds each)

PAGE = "pages/training.py"


def test_batchnorm_tab_opens_with_the_cached_default_run():
    at = open_page(PAGE)
    assert not at.exception
    names = [t["name"] for s in plotly_specs(at) for t in s["data"]]
    assert "without BatchNorm" in names and "with BatchNorm, eval mode (running statistics)" in names
    assert any("Train vs eval, from this run" in m.value for m in at.markdown)
    said = [c.value for c in at.caption if c.value.startswith("The default run, computed in advance:")]
    assert said == [  # its settings in words, not their JSON
        "The default run, computed in advance: 3 x 100 MLP (the paper's), sigmoid, learning rate 0.5, "
        "batches of 60, 3,000 steps, seed 0."
    ]
    # and when presenting: the settings are what the curves are of (a lecturer's walk: no line named the rate)
    at.session_state["view_compact"] = True
    at.run()
    assert [c.value for c in at.caption if c.value.startswith("The default run, computed in advance:")] == said
    # where to start a run, not Stop and Resume greyed (a walk: Train was folded away in Settings without a word)
    assert "Open **Settings** above and press **Train both networks** to train." in [c.value for c in at.caption]
    assert not [b for b in at.button if b.label in ("Stop", "Resume")]


def test_a_short_live_run_trains_and_reports():
    at = open_page(PAGE)
    at.number_input(key="bn_steps").set_value(100)
    at.select_slider(key="bn_lr").set_value(2.0)
    submit = next(b for b in at.get("form_submit_button") if b.label == "Train both networks")
    submit.click().run()
    assert not at.exception
    acc = next(s for s in plotly_specs(at) if any(t["name"] == "without BatchNorm" for t in s["data"]))
    assert acc["data"][0]["x"][-1] == 100  # the curves reach the last step
    assert live(at, "bn").phase == "done"
    assert any("the network's outputs for it (its class scores) differ by up to" in m.value for m in at.markdown)
    # a walk could not tell a finished run from the run computed in advance: the visitor's run says it is theirs
    said = "Your run: 3 x 100 MLP, sigmoid, lr 2, batch 60, 100 steps, seed 0; 100 of 100 steps trained."
    assert said in [c.value for c in at.caption]


def test_a_run_of_the_default_settings_says_it_has_them(monkeypatch):
    """A walk trained the defaults and saw the curves of the run computed in advance again, with no word that the
    run had happened. The defaults' 3,000 steps are cut to 100 here (the page compares a run's settings with
    BNConfig()'s; the suite's time is short)."""
    import ui.views.training as view
    from models.experiments.batchnorm import bn_config

    at = open_page(PAGE)
    assert any(c.value.startswith("The default run, computed in advance:") for c in at.caption)
    monkeypatch.setattr(view, "BNConfig", lambda: bn_config("mlp", "sigmoid", 0.5, 60, 100, 0))
    at.number_input(key="bn_steps").set_value(100)
    next(b for b in at.get("form_submit_button") if b.label == "Train both networks").click().run(timeout=300)
    assert not at.exception and live(at, "bn").phase == "done"
    captions = [c.value for c in at.caption]
    assert not any(c.startswith("The default run, computed in advance:") for c in captions)
    assert (
        "Your run: 3 x 100 MLP, sigmoid, lr 0.5, batch 60, 100 steps, seed 0; 100 of 100 steps "
        "trained. The same settings as the default run computed in advance, shown here before."
    ) in captions
    # above the charts, where the default run's line was (a walk found it at the page's foot, under them)
    nodes = list(in_order(at.tabs[0]))
    said = next(i for i, n in enumerate(nodes) if str(getattr(n, "value", "")).startswith("Your run: "))
    charts = [i for i, n in enumerate(nodes) if getattr(n, "type", "") == "plotly_chart"]
    assert charts and said < charts[0]


def test_augmentation_tab_shows_grid_detection_sample_and_code():
    at = open_page(PAGE)
    captions = image_captions(at)
    assert any(c.startswith("12 draws of the pipeline") for c in captions)
    assert "instance masks (tinted, outlined in magenta) and boxes, transformed with the image" in captions
    assert "v2.RandomRotation(degrees=10.0)" in at.code[0].value


def test_a_tiny_upload_says_its_previews_cannot_show_the_pipeline():
    """A walk's 1 x 1 upload gave twelve flat squares with no word."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 30, 30)).save(buffer, "PNG")
    at = open_page(PAGE)
    assert not any("previews cannot show" in i.value for i in at.info)
    at.file_uploader(key="aug_upload").upload("tiny.png", buffer.getvalue(), "image/png").run()
    assert not at.exception
    assert any(
        i.value.startswith("This image is only 1 x 1 pixels") and "previews cannot show" in i.value for i in at.info
    )
    # the transforms named in the caption (presenting, the pipeline's code is folded away: a lecturer's walk)
    assert "12 draws of the pipeline (rotation, affine) on tiny.png" in image_captions(at)


def test_editing_the_pipeline_updates_the_code():
    at = open_page(PAGE)
    assert at.selectbox(key="aug_preset").value == "MNIST-style (rotation, shift, scale)"  # the one loaded (a walk)
    at.selectbox(key="aug_new").set_value("gaussian blur")
    at.button(key="aug_add").click().run()
    assert "v2.GaussianBlur(kernel_size=9" in at.code[0].value
    at.button(key="aug_up_2").click().run()
    code = at.code[0].value
    assert code.index("GaussianBlur") < code.index("RandomAffine")
    at.button(key="aug_rm_0").click().run()
    assert "RandomRotation" not in at.code[0].value and not at.exception
    at.selectbox(key="aug_preset").set_value("ImageNet-style (crop, flip, colour)").run()
    at.button(key="aug_load").click().run()
    assert "RandomResizedCrop" in at.code[0].value and "GaussianBlur" not in at.code[0].value
    # every step removed: one line says so, not v2.Compose's "Pass at least one transform" three times (a walk)
    for _ in PRESETS["ImageNet-style (crop, flip, colour)"]:
        at.button(key="aug_rm_0").click().run()
    assert not at.exception and [e.value for e in at.error] == [
        "This pipeline cannot be built: it has no transform left; add one or load a preset (with none, every image "
        "stays as it is)"
    ]
    at.button(key="aug_load").click().run()  # and a preset brings it back
    assert "RandomResizedCrop" in at.code[0].value and not at.error


def test_reseed_changes_the_seed_and_the_experiment_reports_both_arms():
    at = open_page(PAGE)
    at.button(key="aug_reseed").click().run()
    assert "seed 1" in [c.value for c in at.caption]
    at.slider(key="aug_epochs").set_value(2)
    at.button(key="aug_train").click().run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert labels == ["Test accuracy without augmentation", "with the pipeline"]
    said = [c.value for c in at.caption if c.value.startswith("2 epochs, pipeline:")]
    assert len(said) == 1 and "differ" not in said[0]
    # other settings above: the result says it is not theirs (a walk loaded a preset and read the old result)
    at.slider(key="aug_epochs").set_value(3).run()
    assert any(c.value.startswith("2 epochs") and "differ from this run's" in c.value for c in at.caption)
    at.button(key="aug_train").click().run()
    (table,) = at.dataframe
    assert list(table.value["epochs"]) == [2, 3] and table.value["parameters"].str.contains("degrees=").all()


def test_estimates_follow_this_servers_measured_speed_once_it_has_run_one():
    """#28: before any run the estimate quotes the bench figure and says so; after one, this server's own measured
    seconds per step (charts included) for that network and batch size."""
    from models.text import about
    from ui.live_run import server_speeds

    server_speeds().by_kind.clear()
    at = open_page(PAGE)
    assert any("no run like it has finished" in c.value for c in at.caption)
    at.select_slider(key="bn_bs").set_value(128)
    at.number_input(key="bn_steps").set_value(100)
    submit = next(b for b in at.get("form_submit_button") if b.label == "Train both networks")
    submit.click().run()
    assert not at.exception and live(at, "bn").phase == "done"
    per_step = server_speeds().per_step(("bn", "mlp", 128))
    assert per_step is not None and per_step > 0
    estimate = next(c.value for c in at.caption if " for 100 steps" in c.value)
    assert "this server's measured speed, what the page draws included" in estimate
    assert f"{about(per_step * 100).capitalize()} for 100 steps" in estimate  # never "About 0 s"
    # a form sends its values when its button is pressed: the estimate says they are the settings last applied (a
    # walk changed the steps, read the old figure, and took it for the new settings')
    assert "at the settings last applied" in estimate and "once you press **Train both networks**" in estimate


def comparison_estimate(at) -> str:
    """The one line under "Train with and without" that says how long a press takes."""
    (said,) = [
        c.value for c in at.tabs[1].caption if "each training both networks" in c.value or "result at once" in c.value
    ]
    return said


def test_the_comparison_says_how_long_a_press_takes_before_and_after_one(monkeypatch):
    """A walk found no word on how long "Train with and without" takes (8.6 s at 30 epochs). Before a run of the
    pipeline its steps are timed here (a probe), or, where a probe would spend too long on a costly pipeline's draws,
    the bench's training figure plus the draws as one was timed here; after a run, this server's own speed."""
    from models.experiments.augmentation import bench_pair_seconds
    from models.text import about
    from ui.live_run import server_speeds

    server_speeds().by_kind.clear()
    at = open_page(PAGE)
    at.slider(key="aug_epochs").set_value(4).run()  # trained by no other test: its result is not in the store
    said = comparison_estimate(at)  # 300 digits in batches of 32: 9 pairs of steps an epoch
    each = "36 steps, each training both networks on a batch, 4 epochs of 9 batches"
    assert said.startswith(("About ", "Under a second ")) and f" for {each} (a few of its steps timed on this" in said
    at.button(key="aug_train").click().run()
    assert not at.exception and at.metric
    (kind,) = [k for k in server_speeds().by_kind if k[0] == "augmentation"]
    # timed from the first step's end to the last's: the loading and evaluations, the same for any epochs, left out
    assert server_speeds().by_kind[kind].steps == 35
    per_step = server_speeds().per_step(kind)
    # the settings trained: their result is in the server's store (a walk pressed again and read "About 7.4 s")
    assert comparison_estimate(at) == (
        "A press shows the result at once: this pipeline has been trained for these epochs on this server "
        "already, and its result is kept for every visitor (every press trains it from seed 0)."
    )
    at.slider(key="aug_epochs").set_value(5).run()  # other epochs: this server's measured speed
    measured = "(this server's measured speed, what the page draws included)"
    each5 = "45 steps, each training both networks on a batch, 5 epochs of 9 batches"
    assert comparison_estimate(at) == f"{about(per_step * 45).capitalize()} for {each5} {measured}"

    from streamlit.testing.v1 import AppTest

    import models.experiments.augmentation as aug
    from tests.app_helpers import APP, TIMEOUT

    monkeypatch.setattr(aug, "seconds_per_draw", lambda steps, side: 0.02)  # 3 pairs of a probe: 1.9 s of draws
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["aug_pipeline"] = json.dumps([["rotation", {"degrees": 7}]])  # not yet timed in this process
    at.query_params["aug_epochs"] = "4"
    at.switch_page(PAGE).run()
    said = comparison_estimate(at)
    assert said.startswith(f"{about(bench_pair_seconds(0.02) * 36).capitalize()} for {each} (measured")
    assert "by `bench/bench_training.py` on an idle 2-core CPU, plus this pipeline's draws as timed here;" in said


def test_two_batchnorm_runs_are_compared_on_one_chart():
    """#28 "compare runs": a visitor's finished BatchNorm runs are kept and overlaid, labelled with their settings,
    both networks of each run; "Forget the earlier runs" keeps only the newest."""
    at = open_page(PAGE)
    at.number_input(key="bn_steps").set_value(100)
    submit = lambda: next(b for b in at.get("form_submit_button") if b.label == "Train both networks")  # noqa: E731
    for lr in (0.5, 2.0):
        at.select_slider(key="bn_lr").set_value(lr)
        submit().click().run()
        assert not at.exception
    assert "Your runs, compared" in [s.value for s in at.subheader]
    names = {t["name"] for s in plotly_specs(at) for t in s["data"] if " · " in t.get("name", "")}
    for lr in ("0.5", "2"):
        run = f"3 x 100 MLP, sigmoid, lr {lr}, batch 60, 100 steps, seed 0"
        assert {f"{run} · BatchNorm", f"{run} · no BatchNorm"} <= names, names
    submit().click().run()  # lr 2.0 again: the same curves, its own name, said to be on top of the first
    names = {t["name"] for s in plotly_specs(at) for t in s["data"] if " · " in t.get("name", "")}
    again = "3 x 100 MLP, sigmoid, lr 2, batch 60, 100 steps, seed 0"
    assert f"{again} (run 2 of these settings) · BatchNorm" in names
    assert any(f"“{again} (run 2 of these settings)” on “{again}”" in c for c in at.caption.values)
    at.button(key="bn_forget_runs").click().run()
    assert len(live(at, "bn").work.history.steps) and len(at.session_state["bn_kept"]) == 1
    assert "Your runs, compared" not in [s.value for s in at.subheader]


def test_two_pipelines_are_compared_in_a_table():
    at = open_page(PAGE)
    at.slider(key="aug_epochs").set_value(2)
    at.button(key="aug_train").click().run()
    at.button(key="aug_rm_0").click().run()  # another pipeline: without its rotation
    at.button(key="aug_train").click().run()
    assert not at.exception
    table = at.dataframe[-1].value
    assert list(table["pipeline"]) == ["rotation, affine", "affine"] and list(table["epochs"]) == [2, 2]
    assert (table["change (points)"] == (table["with (%)"] - table["without (%)"]).round(1)).all()


def test_the_pipeline_is_in_the_link_and_a_link_opens_it():
    """A walk added a transform, reloaded, and found the preset back: the pipeline now rides in the URL (the page's
    default adds nothing to it), a link opens it, and a link's pipeline that cannot be used says why in one line."""
    import json

    from streamlit.testing.v1 import AppTest

    from models.experiments.augmentation import pipeline_from_link
    from tests.app_helpers import APP, TIMEOUT

    at = open_page(PAGE)
    assert "aug_pipeline" not in at.query_params
    at.selectbox(key="aug_new").set_value("gaussian blur")
    at.button(key="aug_add").click().run()
    link = at.query_params["aug_pipeline"]
    link = link[0] if isinstance(link, list) else link
    assert [s["name"] for s in pipeline_from_link(link)] == ["rotation", "affine", "gaussian blur"]

    def opened(value: str) -> AppTest:
        other = AppTest.from_file(APP, default_timeout=TIMEOUT)  # another browser, or this one after a reload
        other.query_params["aug_pipeline"] = value
        return other.switch_page(PAGE).run()

    again = opened(link)
    assert not again.exception and "v2.GaussianBlur(kernel_size=9" in again.code[0].value
    # and opens on the Data augmentation tab, where the pipeline is (a walk's link opened on BatchNorm)
    assert opening_tab_index(again) == 1 and opening_tab_index(at) == 0
    assert link == '[["rotation",{"degrees":10.0}],["affine",{"degrees":0.0,"shear":0.0}],["gaussian blur"]]'  # short
    bad = opened(json.dumps([["rotation", {"degrees": 999}]]))
    assert not bad.exception and "GaussianBlur" not in bad.code[0].value and "RandomRotation" in bad.code[0].value
    assert [w.value for w in bad.warning] == [
        "The link's pipeline cannot be used (rotation: degrees must be between 0 and 180 (got 999.0)); the first "
        "preset is loaded instead."
    ]


def opening_tab_index(at) -> int:
    """The tab the page's tab row opens on (its `default`), from the tab container's proto."""

    def containers(node):
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "tab_container") and proto.HasField("tab_container"):
            yield proto.tab_container
        for child in getattr(node, "children", {}).values():
            yield from containers(child)

    return next(containers(at.main)).default_tab_index


def test_a_costly_pipeline_shows_what_fits_in_the_preview_time_and_is_not_trained_for_hours(monkeypatch):
    """A loopback review: a link with twelve 31-pixel blurs after 512-pixel crops took 37 s of the server for its
    previews, outside the queue, and its "Train with and without" would have held the heavy-job slot for hours. The
    page times one draw here, shows the draws that fit in PREVIEW_SECONDS (saying so), and refuses a training that
    would apply the pipeline for over TRAIN_SECONDS. (The draw's time is fixed here; its measurement is tested
    on its own.)"""
    import json

    from streamlit.testing.v1 import AppTest

    import models.experiments.augmentation as aug
    from tests.app_helpers import APP, TIMEOUT

    monkeypatch.setattr(aug, "seconds_per_draw", lambda steps, side: 2.0)
    costly = json.dumps([["resized crop", {"size": 500}], *[["gaussian blur", {"kernel_size": 29}]] * 3])
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["aug_pipeline"] = costly
    at.query_params["aug_epochs"] = "30"
    at.switch_page(PAGE).run()
    assert not at.exception
    shown = 3  # 10 s of previews, 12 draws and 4 on the detection sample: 7.1 s for the image's, at 2 s a draw
    assert any(
        i.value.startswith(f"These transforms take 2 s a draw on this server: {shown} of the 12 draws are shown")
        for i in at.info
    )
    assert any(c.startswith(f"{shown} draws of the pipeline (") for c in image_captions(at))
    at.button(key="aug_train").click().run()
    assert not at.exception
    assert "aug_results" not in at.session_state or not at.session_state["aug_results"]  # nothing was trained
    (refused,) = [w.value for w in at.warning if w.value.startswith("This pipeline takes 2 s per digit")]
    assert "30 epochs apply it 9,000 times: about 300 minutes, where the page trains for at most 5 minutes." in refused
    # no estimate for a refused press (this once looked for words the estimate never has: a review)
    assert not [
        c for c in at.tabs[1].caption if "each training both networks" in c.value or "result at once" in c.value
    ]
