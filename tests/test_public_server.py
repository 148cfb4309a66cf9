"""A public server that one visitor cannot crash, stall or poison: bounded inputs, the admission
queue, shared results keyed on full content, damaged results files, and safe names."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from explain.inputs.image_sets import MAX_FOLDER_CHARS, folder_files, set_sha256
from explain.methods.occlusion import MAX_POSITIONS, check_occlusion, min_stride
from models.admission import AdmissionQueue, ResultStore
from models.experiments.augmentation import MAX_STEPS, TRANSFORMS, build_pipeline, step
from models.files import ResultsFileError, public_path, read_json
from models.text import display_name
from models.transfer import BUNDLED_ENCODER, REGIMES, SHIPPED, Sweep, TrainConfig, load_runs, page_sweep, run_sweep
from tests.app_helpers import live, open_page
from tests.bounds import within

# ---------------------------------------------------------------- bounds on what a visitor sets


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("resized crop", {"size": 6000}, "size must be between 8 and 512"),
        ("random crop", {"padding": 2000}, "padding must be between 0 and 128"),
        ("gaussian blur", {"kernel_size": 181}, "kernel_size must be between 1 and 31"),
        ("gaussian blur", {"kernel_size": 8}, "kernel_size must be odd"),
        ("gaussian blur", {"sigma": (5.0, 1.0)}, "'from' must not exceed 'to'"),
        ("rotation", {"degrees": float("nan")}, "degrees must be between"),
        ("colour jitter", {"hue": 3.0}, "hue must be between 0 and 0.5"),
        ("resized crop", {"size": 100.5}, "whole number"),
    ],
)
def test_augmentation_parameters_are_bounded(name, params, message):
    with pytest.raises(ValueError, match=message):
        step(name, **params)


def test_every_number_has_a_bound_and_the_defaults_are_inside():
    for name, spec in TRANSFORMS.items():
        numbers = {k for k, v in spec.defaults.items() if not isinstance(v, bool)}
        assert numbers == set(spec.bounds), name
        build_pipeline([step(name)])  # the defaults pass their own checks
    with pytest.raises(ValueError, match=f"at most {MAX_STEPS}"):
        build_pipeline([step("rotation")] * (MAX_STEPS + 1))


def test_augmentation_widgets_carry_the_bounds():
    at = open_page("pages/training.py")
    at.selectbox(key="aug_preset").set_value("ImageNet-style (crop, flip, colour)").run()
    at.button(key="aug_load").click().run()
    size = at.number_input(key="aug_0_resized crop_size")
    assert (size.min, size.max) == (8, 512)
    assert not at.exception


def test_occlusion_is_bounded_in_forward_passes():
    with pytest.raises(ValueError, match="positions of the square"):
        check_occlusion((224, 224), 2, 1)
    for side, window in [(64, 2), (224, 2), (224, 44), (500, 3)]:
        assert check_occlusion((side, side), window, min_stride(side, window)) <= MAX_POSITIONS


# The estimate says which runs it comes from, and whether they were scaled to this server's measured speed.
WHERE = r"\((from|at the speed of) (this server's own page sweeps|the shipped sweep's runs)"


def test_page_sweeps_over_the_time_cap_on_a_cpu_are_refused():
    import torch

    cpu, long = torch.device("cpu"), TrainConfig(epochs=30)
    with pytest.raises(ValueError, match=rf"minutes {WHERE}.*python -m models\.transfer"):
        page_sweep("digits", BUNDLED_ENCODER, ("scratch", "finetune"), "50,75,100,101", 5, long, cpu)
    sweep, _, _, estimate = page_sweep("digits", BUNDLED_ENCODER, REGIMES, "1,5", 1, TrainConfig(epochs=5), cpu)
    assert 0 < estimate.seconds < 300 and sweep.train.lr == pytest.approx(3e-3)  # the task's rate
    by_run = estimate.by_run(sweep)  # what the live sweep's time left weighs each run by: scratch over the probe
    assert sum(by_run.values()) == pytest.approx(estimate.seconds) and by_run["scratch-n5-s0"] > by_run["probe-n5-s0"]
    # A regime the shipped sweep lacks is estimated too (as the probe it costs like), so the same cap bounds it. Since
    # the fast runner trains probes on cached features, 45 of its runs at 30 epochs fit well within the cap.
    sweep, _, _, estimate = page_sweep(
        "digits", BUNDLED_ENCODER, ("random-probe",), "30,40,50,60,75,80,90,100,101", 5, long, cpu
    )
    assert len(list(sweep.runs())) == 45 and 0 < estimate.seconds < 300
    with pytest.raises(ValueError, match="at least one regime"):
        page_sweep("digits", BUNDLED_ENCODER, (), "1", 1, long, cpu)


def test_a_page_estimate_is_scaled_to_this_servers_pace_once_measured(monkeypatch):
    """The shipped runs recorded their workers' pace; a page's estimate scales them to this process's. The home
    page's panel does not wait for a measurement: until one is made, its estimate says it is not scaled yet."""
    import torch

    from models.measured import KeptMeasurements
    from models.transfer import pace

    monkeypatch.setattr(pace, "PACES", KeptMeasurements(pace.PACE_TTL))
    cpu, short = torch.device("cpu"), TrainConfig(epochs=5)
    *_, unscaled = page_sweep("digits", BUNDLED_ENCODER, REGIMES, "1,5", 1, short, cpu, measure_pace=False)
    assert not unscaled.paced and "not yet scaled" in unscaled.where() and not pace.PACES.measured()
    *_, scaled = page_sweep("digits", BUNDLED_ENCODER, REGIMES, "1,5", 1, short, cpu)
    assert scaled.paced and "scaled to the training speed measured on this server" in scaled.where()
    *_, later = page_sweep("digits", BUNDLED_ENCODER, REGIMES, "1,5", 1, short, cpu, measure_pace=False)
    assert later == scaled  # the panel uses the pace measured since


def test_long_folder_names_and_escapes_give_one_line(tmp_path):
    with pytest.raises(ValueError, match=f"at most {MAX_FOLDER_CHARS}"):
        folder_files("a" * 6000, root=tmp_path)
    with pytest.raises(ValueError) as err:
        folder_files("../..", root=tmp_path)
    assert str(tmp_path) not in str(err.value)  # no server path in what a visitor reads


def test_a_folders_listing_is_rglobs_sorted_order_and_stops_when_it_has_enough(tmp_path, monkeypatch):
    """A review over loopback: the listing sorted a whole tree (200,000 files: 1.9 s) on every rerun of Features
    before keeping its first 200 images."""
    import explain.inputs.image_sets as sets

    for name in ["b.png", "a/z.jpg", "a/b/c.png", "a.png", "ab.txt", "A.PNG", "c/d/e/f.tif", "a b/x.gif"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "c", target_is_directory=True)  # not followed, as rglob does not
    every = [p for p in sorted(tmp_path.rglob("*")) if p.suffix.lower() in sets.IMAGE_SUFFIXES and p.is_file()]
    assert folder_files(".", root=tmp_path) == every and len(every) == 7
    assert folder_files(".", limit=3, root=tmp_path) == every[:3]
    monkeypatch.setattr(sets, "MAX_ENTRIES_READ", 4)  # A.PNG, a, a/b, a/b/c.png: no more entries are read
    assert folder_files(".", root=tmp_path) == [tmp_path / "A.PNG", tmp_path / "a" / "b" / "c.png"]
    real = os.scandir

    def refusing(path):  # a subfolder that cannot be read (this VM's tests run as root: permissions do not stop it)
        if Path(path).name == "b":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(sets, "MAX_ENTRIES_READ", 10_000)
    monkeypatch.setattr(sets.os, "scandir", refusing)
    assert folder_files(".", root=tmp_path) == [p for p in every if p.parent.name != "b"]


# ---------------------------------------------------------------- the queue and the shared results


def test_a_visitors_runs_take_turns_so_no_picture_is_deleted_before_the_browser_fetches_it():
    """Streamlit's fast reruns start a session's new run in a new thread while the old run is still unwinding, and
    the old run's end deletes every media file that no run references then: the new run has just dropped the
    session's references and drawn nothing yet. Replacing an upload makes two reruns 14-100 ms apart (the uploader
    sends its emptied value, then the new file's): logged on 2026-12-06 with the server's media manager traced, the
    old run's end deleted ten files 3 ms after the new run began, at every replacing upload. A picture fetched in
    that window answers 404 and the browser keeps it broken: the likely cause (not caught in the act) of the
    concurrency test's picture that never loaded, 2 runs of 14, in its solo phase, the one whose tabs replace their
    uploads. With fast reruns off, the old run ends (its references still held) before the new one starts; traced
    again, no two runs of a session overlapped."""
    import tomllib

    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["fastReruns"] is False


def test_every_data_cache_together_is_bounded_in_bytes() -> None:
    """A loopback review: Detection's per-image caches were bounded by their count alone, and 64 uploads of
    1024-pixel scenes kept 2.4 GB of detections (the server from 1.2 to 3.9 GB). Streamlit bounds every st.cache_data
    entry together by `server.maxCacheDataSize`; measured with it (Chromium, this VM): 40 such uploads held the
    server at 1.7 GB from the 16th on. What this checks is the setting the measurement was made with."""
    import tomllib

    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxCacheDataSize"] == "512mb"


def test_the_theme_follows_the_visitors_light_or_dark() -> None:
    """Any option set under [theme] itself makes Streamlit draw one light custom theme: a review found a dark-system
    visitor on a white page after `theme.paddingTop` was set. Options go under [theme.light] and [theme.dark]
    (measured in Chromium: the dark scheme's background stays rgb(23, 22, 20))."""
    import tomllib

    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    theme = config.get("theme", {})
    assert set(theme) <= {"light", "dark"} and theme["light"] == theme["dark"]


def test_admission_queue_is_first_come_first_served():
    queue = AdmissionQueue(slots=1)
    a, b, c = queue.join(), queue.join(), queue.join()
    assert [queue.position(t) for t in (a, b, c)] == [1, 2, 3]
    assert not queue.admit(b, 0.01)  # b may not overtake a
    assert queue.admit(a, 0.01) and queue.position(a) == 0
    assert [queue.position(t) for t in (b, c)] == [1, 2]
    assert not queue.admit(b, 0.01)  # one slot, taken
    queue.leave(c)  # c gave up waiting (a rerun, a closed tab)
    queue.leave(a)
    assert queue.admit(b, 0.01) and queue.counts() == (1, 0)


def test_one_visitors_many_jobs_take_turns_with_everyone_elses():
    """A re-attack queued several heavy jobs from one browser's tabs: everyone else waited behind all of them. A
    visitor's k-th job waits behind every other visitor's earlier rounds; among equals, first come, first served."""
    queue = AdmissionQueue(slots=1)
    a1, a2, a3 = (queue.join("A") for _ in range(3))
    b1 = queue.join("B")
    assert queue.admit(a1, 0.01)  # A's first: the queue was empty
    assert [queue.position(t) for t in (a2, b1, a3)] == [2, 1, 3]  # B's first goes before A's second
    assert not queue.admit(a2, 0.01)
    queue.leave(a1)
    assert queue.admit(b1, 0.01)
    queue.leave(b1)
    assert queue.admit(a2, 0.01) and queue.position(a3) == 1
    c1 = queue.join("C")
    assert queue.position(c1) == 1 and queue.position(a3) == 2  # A holds a slot: its third waits behind C's first


def test_slots_are_given_back_when_a_job_fails():
    queue = AdmissionQueue(slots=2)
    with pytest.raises(RuntimeError), queue.slot():
        raise RuntimeError("the job broke")
    assert queue.counts() == (0, 0)


def test_waiting_jobs_see_their_place_and_run_in_order():
    """Four jobs join one slot in turn (each has joined before the next starts; the first holds the slot until all
    four wait): they run in the order they came, and the last sees three ahead of it."""
    queue, order, places, release = AdmissionQueue(slots=1), [], {}, threading.Event()

    def job(i: int) -> None:
        with queue.slot(lambda place: places.setdefault(i, place), poll=0.01):
            order.append(i)
            release.wait(within(30))

    threads = []
    for i in range(4):
        threads.append(threading.Thread(target=job, args=(i,)))
        threads[-1].start()
        deadline = time.monotonic() + within(30)
        while sum(queue.counts()) < i + 1 or (i == 3 and 3 not in places):  # joined (and, last, told its place)
            assert time.monotonic() < deadline, f"job {i} never joined the queue"
            time.sleep(0.005)  # the interval of a poll on a bounded condition
    release.set()
    for t in threads:
        t.join(within(30))
    assert order == [0, 1, 2, 3] and places[3] == 3


def test_a_job_that_must_wait_is_told_its_place_at_once():
    """A walk: the page stayed blank for the first 2 s of a wait behind another visitor's job, as the first place was
    said only after one poll. Here the poll is 10 minutes and the place is said within the bound."""
    queue, held, release, told, places = (
        AdmissionQueue(slots=1),
        threading.Event(),
        threading.Event(),
        threading.Event(),
        [],
    )

    def first() -> None:
        with queue.slot():
            held.set()
            release.wait(within(30))

    def second() -> None:
        with queue.slot(lambda place: (places.append(place), told.set()), poll=600):
            pass

    running = threading.Thread(target=first)
    running.start()
    assert held.wait(within(30))
    waiting = threading.Thread(target=second)
    waiting.start()
    assert told.wait(within(30)) and places == [1]
    release.set()  # the slot given back wakes the waiting job at once, not at its next poll
    running.join(within(30))
    waiting.join(within(30))
    assert not waiting.is_alive() and queue.counts() == (0, 0)


def test_a_long_job_passes_its_turn_to_a_waiting_one_and_goes_on_after():
    """A loopback review: a 20,000-step BatchNorm run (estimated at 345 minutes) held the server's one slot, and
    another visitor's one-second attribution waited behind it with no end. Between its pieces a long job shares its
    turn: not before it has held the slot `held_seconds`, not when nobody waits; else the waiting job goes, and the
    long one goes on after it."""
    queue, order, places, results = AdmissionQueue(slots=1), [], [], []
    holding = threading.Event()

    def long_job() -> None:
        with queue.slot(owner="A") as turn:
            holding.set()
            results.append(turn.share(held_seconds=600))  # held for less than that: False
            deadline = time.monotonic() + within(30)
            while not places:  # until the other job waits, told its place
                if time.monotonic() > deadline:
                    return
                time.sleep(0.005)  # the interval of a poll on a bounded condition
            results.append(turn.share(held_seconds=0))  # passes its turn, and has it back after the short job
            order.append("long goes on")
            results.append(turn.share(held_seconds=0))  # nobody waits now: it keeps the slot

    def short_job() -> None:
        with queue.slot(places.append, poll=0.01, owner="B"):
            order.append("short")

    first = threading.Thread(target=long_job, daemon=True)
    first.start()
    assert holding.wait(within(30))
    second = threading.Thread(target=short_job, daemon=True)
    second.start()
    for t in (first, second):
        t.join(within(30))
        assert not t.is_alive()
    assert places and places[0] == 1, places
    assert results == [False, True, False] and order == ["short", "long goes on"]
    assert queue.counts() == (0, 0)


def test_a_passed_turn_goes_to_the_waiting_job_whatever_its_owner_ran_before():
    """The review of the first version: passing a turn was leaving and joining again, ordered by the rounds of the
    busy spell, so a waiting owner already served more often than the long job's was passed over: the long job came
    straight back, and the other waited a further turn. Now every job waiting when the turn is passed goes first,
    and the long job's going on is not counted as a round of its owner's."""
    queue = AdmissionQueue(slots=1)
    long = queue.join("A")
    assert queue.admit(long, 0.01)
    for _ in range(2):  # B ran two quick jobs in this busy spell, while A's job ran (the slot lent out each time)
        quick = queue.join("B")
        assert queue.pass_turn(long) and queue.admit(quick, 0.01)
        queue.leave(quick)
        assert queue.admit(long, 0.01)
    b = queue.join("B")
    assert queue.pass_turn(long)  # B's third waits: it goes first
    assert [queue.position(t) for t in (b, long)] == [1, 2] and not queue.admit(long, 0.01)
    assert queue.admit(b, 0.01)
    queue.leave(b)
    assert queue.admit(long, 0.01) and not queue.pass_turn(long)  # nobody waits: it keeps its slot
    c = queue.join("C")
    assert queue.position(c) == 1  # a newcomer goes by the rounds as before: A's job holds the slot
    queue.leave(long)
    assert queue.admit(c, 0.01)


def test_result_store_forgets_the_oldest():
    store = ResultStore(max_entries=2)
    store.put("a", 1)
    store.put("b", 2)
    store.get("a")
    store.put("c", 3)
    assert (store.get("a"), store.get("b"), store.get("c")) == (1, None, 3)


def test_result_store_holds_at_most_its_bytes():
    """A review: the store was bounded by count alone, and 64 sanity checks' maps (float64 heat maps, 20 steps and
    up to 13 methods each) could take 2 GB of a class's server."""
    from models.admission import MB, size_of

    store = ResultStore(max_entries=64, max_bytes=3 * MB + 100)
    for key in "abcd":
        store.put(key, {"map": np.zeros(MB // 8), "note": "x"})  # a megabyte each, and 8 bytes of keys and note
    assert store.get("a") is None and all(store.get(k) is not None for k in "bcd") and store.bytes() == 3 * MB + 24
    store.put("huge", np.zeros(MB))  # 8 MB, more than the whole store: returned by its caller, never kept
    assert store.get("huge") is None and all(store.get(k) is not None for k in "bcd")
    store.put("b", np.zeros(1))  # a key put again is charged once, at its new size
    assert store.bytes() == 2 * (MB + 8) + 8
    # what results hold: arrays and tensors by their data, containers and objects by what they hold
    picture = Image.new("RGB", (10, 20))
    assert size_of([np.zeros(4, np.float32), torch.zeros(2, dtype=torch.float64), picture, b"abc"]) == 16 + 16 + 600 + 3
    assert size_of(SimpleNamespace(maps={"m": np.zeros(10)})) == len("maps") + len("m") + 80


def test_image_set_key_covers_every_byte():
    """The old key hashed each image's name and first 4,096 bytes: a look-alike set collided."""
    a = Image.new("RGB", (64, 64), (10, 20, 30))
    b = a.copy()
    b.putpixel((63, 63), (11, 20, 30))  # far past the first 4,096 bytes
    assert set_sha256([("x", a)]) != set_sha256([("x", b)])
    assert set_sha256([("x", a)]) != set_sha256([("y", a)])


def test_a_second_visitor_pressing_the_same_features_buttons_gets_the_same_result():
    """Progress bars used to be drawn inside cached functions: the second visitor's replay crashed."""
    seen = []
    for _ in range(2):
        at = open_page("pages/features.py")
        at.selectbox(key="feat_model").set_value("shapes-resnet18").run()
        at.button(key="feat_scan").click().run()
        at.button(key="feat_occ_run").click().run()
        at.slider(key=next(s.key for s in at.slider if s.key.startswith("feat_occ_win"))).set_value(20).run()
        assert not at.exception, at.exception
        assert any("settings changed" in i.value for i in at.info)  # a slider never restarts the work
        seen.append([m.value for m in at.markdown if m.value.startswith("**Channel")])
    assert seen[0] == seen[1] and len(seen[0]) == 4


# ---------------------------------------------------------------- damaged results files


@pytest.mark.parametrize("content", [b"{", b"{}", b"[]", b"null", b"\xff\xfe\x00", b'{"regime": "probe"}'])
def test_damaged_run_files_cost_one_line_each(tmp_path, content):
    folder = tmp_path / "sweep"
    shutil.copytree(SHIPPED, folder)
    (folder / "runs" / "probe-n1-s0.json").write_bytes(content)
    meta, runs, problems = load_runs(folder)
    assert meta is not None and len(runs) == 83
    assert len(problems) == 1 and "probe-n1-s0.json" in problems[0] and "\n" not in problems[0]


def test_a_damaged_sweep_file_is_reported_and_repaired_by_running_again(tmp_path, tiny_sweep_parts):
    sweep, encoder = tiny_sweep_parts
    run_sweep(sweep, tmp_path, encoder=encoder)
    (tmp_path / "sweep.json").write_bytes(b'{"settings": {"task": "dig')  # truncated
    meta, runs, problems = load_runs(tmp_path)
    assert meta is None and len(runs) == 1 and "sweep.json" in problems[0] and "repair" in problems[0]
    assert run_sweep(sweep, tmp_path, encoder=encoder) == []  # nothing retrained
    meta, runs, problems = load_runs(tmp_path)
    assert meta is not None and len(runs) == 1 and problems == []


@pytest.fixture
def tiny_sweep_parts():
    import torch

    from models.nets.resnet import ResNet18
    from models.transfer import Encoder

    torch.manual_seed(0)
    net = ResNet18(5, width=0.125)
    encoder = Encoder("tiny", "tiny", lambda: ResNet18(5, width=0.125), net.state_dict(), "made in the test")
    return Sweep(regimes=("probe",), sizes=(1,), seeds=1, train=TrainConfig(epochs=1, lr=3e-3, min_batches=1)), encoder


def test_transfer_page_lists_damaged_user_files_in_one_line_each(monkeypatch, tmp_path):
    user = tmp_path / "user"
    good = user / "digits-glyphs-resnet18-abc"
    shutil.copytree(SHIPPED, good)
    (good / "runs" / "scratch-n1-s0.json").write_bytes(b"null")
    (good / "runs" / "scratch-n2-s0.json").write_bytes(b"\xff\xfe")
    (good / "sweep.json").write_bytes((SHIPPED / "sweep.json").read_bytes()[:50])
    (user / "pressed-and-left").mkdir(parents=True)
    (user / "pressed-and-left" / "sweep.json").write_text(json.dumps({"settings": {}}))
    monkeypatch.setenv("EXPLAINER_RESULTS", str(user))
    at = open_page("pages/transfer.py")
    at.session_state["tf_mine"] = {"digits-glyphs-resnet18-abc", "pressed-and-left"}  # this visitor launched them
    at.run()
    options = at.selectbox(key="transfer_source").options
    assert "Yours: digits-glyphs-resnet18-abc" in options and "Yours: pressed-and-left" not in options
    at.selectbox(key="transfer_source").set_value("Yours: digits-glyphs-resnet18-abc").run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 3 and all("\n" not in w for w in warnings)
    assert at.get("plotly_chart")  # the rest of the page still works


def test_damaged_shipped_files_cost_one_line(monkeypatch, tmp_path):
    import models.experiments.batchnorm
    import ui.views.transfer

    shipped = tmp_path / "digits"
    shutil.copytree(SHIPPED, shipped)
    (shipped / "sweep.json").write_bytes((SHIPPED / "sweep.json").read_bytes()[:80])
    monkeypatch.setattr(ui.views.transfer, "SHIPPED", shipped)  # where the page's view reads it
    monkeypatch.setenv("EXPLAINER_RESULTS", str(tmp_path / "user"))
    at = open_page("pages/transfer.py")
    assert not at.exception and len(at.warning) == 1 and at.get("plotly_chart")

    bn = tmp_path / "bn_default.json"
    for content in (b"{}", b"[1, 2", b'{"config": 1}'):
        bn.write_bytes(content)
        monkeypatch.setattr(models.experiments.batchnorm, "DEFAULT_RESULT", bn)
        at = open_page("pages/training.py")
        assert not at.exception and len(at.warning) == 1 and "bn_default.json" in at.warning[0].value


def test_read_json_names_the_file_not_the_server(tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(b"\x00\x01")
    with pytest.raises(ResultsFileError) as err:
        read_json(path)
    assert str(tmp_path) not in str(err.value) and "x.json" in str(err.value)
    assert public_path(Path(__file__)) == "tests/test_public_server.py"


# ---------------------------------------------------------------- names a visitor typed


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("![x](http://evil.example/a.png)", "--x-(http-//evil.example/a.png)"),
        ("<img src=x onerror=alert(1)>.png", "-img src-x onerror-alert(1)-.png"),
        # `_` is Markdown's emphasis too: "__bold__" (what `_` for each character made of this) showed bold
        (":red[big]**bold**.jpg", "-red-big---bold--.jpg"),
        ("my_photo __x__.png", "my_photo --x--.png"),  # between letters `_` stays (a walk: walk_chelsea.png)
        ("weird_name__x__.pt", "weird_name--x--.pt"),
        ("chelsea the cat (photo)", "chelsea the cat (photo)"),
    ],
)
def test_file_names_are_shown_as_plain_text(name, shown):
    assert display_name(name) == shown


def test_long_names_keep_their_ending():
    shown = display_name("a" * 500 + ".png")
    assert len(shown) == 80 and shown.endswith("….png")


def test_training_waits_for_its_turn_then_runs():
    """While another job holds the server's only slot, a visitor's BatchNorm run builds nothing and
    trains nothing; it starts when the slot is given back."""
    from ui.admission import server_queue

    queue = server_queue()
    holder = queue.join()
    slots = queue.slots
    queue.slots = 1
    try:
        assert queue.admit(holder, 1.0)
        at = open_page("pages/training.py")
        at.number_input(key="bn_steps").set_value(100)
        submit = next(b for b in at.get("form_submit_button") if b.label == "Train both networks")
        t0 = time.perf_counter()
        threading.Timer(3.0, queue.leave, args=(holder,)).start()
        submit.click().run()
        assert time.perf_counter() - t0 >= 2.5  # it waited for the slot
        assert not at.exception and live(at, "bn").phase == "done"
        assert live(at, "bn").work.step == 100 and live(at, "bn").config is None
    finally:
        queue.leave(holder)
        queue.slots = slots
