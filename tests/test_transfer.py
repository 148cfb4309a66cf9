"""The transfer lab's engine: subsets, regimes (a frozen probe stays frozen), the resumable sweep, the CLI."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explain.methods.transfer_curves import chosen_setting
from models.transfer import (
    BUNDLED_ENCODER,
    DEFAULT_REGIMES,
    Encoder,
    RunsFailed,
    Sweep,
    SweepMismatch,
    TaskUnavailable,
    TrainConfig,
    folder_task,
    load_encoder,
    load_runs,
    load_task,
    parse_sizes,
    run_sweep,
    subset,
    train_run,
    validation,
)
from models.transfer.__main__ import main
from models.transfer.config import GPU_BATCH_SIZE, default_batch_size, run_key
from models.transfer.loop import Data, param_groups, train_epochs
from tests.transfer_helpers import failing_resnet, flaky_resnet
from tests.transfer_helpers import tiny_encoder as make_tiny_encoder

pytestmark = pytest.mark.training  # trains networks for real (seconds each)

ONE_EPOCH = TrainConfig(epochs=1, lr=3e-3, min_batches=2)


@pytest.fixture(scope="module")
def digits():
    return load_task("digits")


@pytest.fixture(scope="module")
def tiny_encoder() -> Encoder:
    return make_tiny_encoder()


def test_subsets_are_stratified_fixed_and_disjoint_across_seeds(digits) -> None:
    y = digits.y_train
    a, b = subset(y, 5, 0), subset(y, 5, 1)
    assert torch.equal(a, subset(y, 5, 0))
    assert torch.bincount(y[a]).tolist() == [5] * 10
    assert not set(a.tolist()) & set(b.tolist())
    full = subset(y, digits.max_per_class, 2)
    assert torch.bincount(y[full]).tolist() == [digits.max_per_class] * 10
    with pytest.raises(ValueError, match="fewer than"):
        subset(y, digits.max_per_class + 10, 0)


def _encoder_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("fc.")}


def test_linear_probe_leaves_the_encoder_untouched(digits, tiny_encoder) -> None:
    model = tiny_encoder.build(10, pretrained=True)
    before, head = _encoder_state(model), copy.deepcopy(model.fc.state_dict())
    train_epochs(model, "probe", Data(digits, torch.device("cpu")), subset(digits.y_train, 3, 0), ONE_EPOCH, seed=0)
    after = _encoder_state(model)
    assert before.keys() == after.keys() and any("running_mean" in k for k in after)
    for k in before:  # parameters and buffers (BatchNorm means, variances, batch counts)
        assert torch.equal(before[k], after[k]), k
    assert not torch.equal(head["weight"], model.fc.weight)


def test_fine_tuning_moves_the_encoder_but_not_during_its_warm_start(digits, tiny_encoder) -> None:
    data, idx = Data(digits, torch.device("cpu")), subset(digits.y_train, 3, 0)
    warm = tiny_encoder.build(10, pretrained=True)
    before = _encoder_state(warm)
    train_epochs(warm, "finetune", data, idx, TrainConfig(epochs=1, lr=3e-3, min_batches=2, warm_epochs=1), seed=0)
    assert all(torch.equal(before[k], v) for k, v in _encoder_state(warm).items())
    tuned = tiny_encoder.build(10, pretrained=True)
    history, seconds, seen = train_epochs(tuned, "finetune", data, idx, ONE_EPOCH, seed=0)
    assert not all(torch.equal(before[k], v) for k, v in _encoder_state(tuned).items())
    assert len(history) == 1 and seen == 2 * 30 and seconds > 0
    assert set(history[0]) == {"epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds"}


def test_fine_tuning_rates_follow_the_ratio_and_the_layer_decay(tiny_encoder) -> None:
    model = tiny_encoder.build(10, pretrained=True)
    cfg = TrainConfig(lr=1e-3, ft_ratio=0.1, layer_decay=0.5)
    groups = {g["name"]: g["lr"] for g in param_groups(model, "finetune", cfg)}
    assert groups["head"] == pytest.approx(1e-3)
    assert [groups[f"stage{i}"] for i in range(5)] == pytest.approx([1e-4 * 0.5**k for k in (4, 3, 2, 1, 0)])
    n_params = sum(p.numel() for g in param_groups(model, "finetune", cfg) for p in g["params"])
    assert n_params == sum(p.numel() for p in model.parameters())
    assert [g["name"] for g in param_groups(model, "probe", cfg)] == ["head"]
    torchvision_like = __import__("torchvision").models.resnet18(num_classes=10)
    assert len(param_groups(torchvision_like, "finetune", cfg)) == 6  # stem, layer1-4, head


def test_one_epoch_sweep_runs_end_to_end_and_resumes(tmp_path: Path, digits, tiny_encoder) -> None:
    sweep = Sweep(sizes=(1, 2), seeds=1, train=ONE_EPOCH)
    total = len(list(sweep.runs()))
    assert total == 2 * len(DEFAULT_REGIMES)

    class Interrupt(Exception):
        pass

    def stop_at_third_run(p) -> None:
        if p.run == 3:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_sweep(sweep, tmp_path, on_progress=stop_at_third_run, encoder=tiny_encoder)
    meta, runs, _ = load_runs(tmp_path)
    assert len(runs) == 2 and meta.sizes == (1, 2)
    fractions = []
    resumed = run_sweep(sweep, tmp_path, on_progress=lambda p: fractions.append(p.fraction), encoder=tiny_encoder)
    assert len(resumed) == total - 2  # the two finished runs were kept, not redone
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert run_sweep(sweep, tmp_path, encoder=tiny_encoder) == []
    _, runs, _ = load_runs(tmp_path)
    assert {r.key for r in runs} == {f"{r}-n{n}-s0" for r in DEFAULT_REGIMES for n in (1, 2)}
    for r in runs:
        assert 0.0 <= r.test_error <= 100.0
        assert len(r.history) == (0 if r.regime == "probe-features" else 1)
    with pytest.raises(SweepMismatch, match="other settings"):
        run_sweep(Sweep(sizes=(1,), seeds=1, train=TrainConfig(epochs=2)), tmp_path, encoder=tiny_encoder)


SELECTING = TrainConfig(epochs=1, lr=3e-3, min_batches=2, lr_factors=(0.3, 1.0))


def test_later_seeds_train_at_the_rate_seed_0_chose(tmp_path: Path, tiny_encoder) -> None:
    sweep = Sweep(regimes=("probe", "probe-features"), sizes=(2,), seeds=2, train=SELECTING)
    runs = {r.key: r for r in run_sweep(sweep, tmp_path, encoder=tiny_encoder)}
    first, second = runs["probe-n2-s0"], runs["probe-n2-s1"]
    assert [c["lr"] for c in first.candidates] == pytest.approx([9e-4, 3e-3])
    assert second.lr == first.lr and not second.candidates and second.lr_chosen_by_seed == 0
    assert "chosen on the validation split by seed 0" in chosen_setting(second)
    assert len(runs["probe-features-n2-s1"].candidates) == 3  # the feature probe chooses its C per run
    # a tie says which was kept, and why that one (a walk read three equal errors and no word on the choice)
    features = runs["probe-features-n2-s1"]
    tied = replace(features, C=0.1, candidates=[{"C": c, "val_error": 1.2} for c in (0.1, 1.0, 10.0)])
    assert chosen_setting(tied) == (
        "C 0.1, chosen on the validation split (error) from 0.1 (1.2%), 1 (1.2%), 10 (1.2%); a tie of 3 at 1.2%: "
        "the first tried, 0.1 (the strongest regularisation), was kept."
    )
    untied = replace(features, C=1.0, candidates=[{"C": 0.1, "val_error": 5.0}, {"C": 1.0, "val_error": 1.2}])
    assert chosen_setting(untied) == "C 1, chosen on the validation split (error) from 0.1 (5.0%), 1 (1.2%)."


def test_worker_processes_give_each_run_its_result_alone(tmp_path: Path, tiny_encoder) -> None:
    sweep = Sweep(regimes=("probe", "finetune", "probe-features"), sizes=(1, 2), seeds=2, train=SELECTING)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        alone = {r.key: r for r in run_sweep(sweep, tmp_path / "alone", encoder=tiny_encoder)}
    finally:
        torch.set_num_threads(threads)
    side = {r.key: r for r in run_sweep(sweep, tmp_path / "side", encoder=tiny_encoder, workers=2, threads=1)}
    assert side.keys() == alone.keys() and len(side) == 12
    for key, run in alone.items():
        assert side[key].test_error == run.test_error, key
        assert side[key].lr == run.lr, key
    assert {p.name for p in (tmp_path / "side" / "runs").iterdir()} == {f"{k}.json" for k in alone}


def test_workers_fork_from_one_server_on_the_cpu_and_see_the_drivers_environment(monkeypatch, tiny_encoder) -> None:
    """Worker processes on the CPU fork from a server that imported torch once (a spawned worker imports it
    afresh: 4-6 s a process here); each still gets the environment the driver has when its pool starts, as a
    spawned one would, not the server's from when it started. On a GPU they are spawned."""
    import os

    from models.transfer.runners import Processes, RunContext, _start_method

    ctx = RunContext("digits", 8, tiny_encoder, ONE_EPOCH, "cpu")
    first = Processes(ctx, 1, threads=1)
    server_pid = first.pool.submit(os.getppid).result()  # the fork server is running from here on
    first.close(cancel=False)
    monkeypatch.setenv("EXPLAINER_TEST_MARK", "set after the server started")
    second = Processes(ctx, 1, threads=1)
    try:
        assert second.pool.submit(os.getenv, "EXPLAINER_TEST_MARK").result() == "set after the server started"
        assert second.pool.submit(os.getppid).result() == server_pid != os.getpid()
    finally:
        second.close(cancel=False)
    assert _start_method("cpu").get_start_method() == "forkserver"
    assert _start_method("cuda").get_start_method() == "spawn"


def test_runs_side_by_side_start_longest_path_first_and_in_process_in_the_sweeps_order(
    tmp_path: Path, tiny_encoder, monkeypatch
) -> None:
    """Two slots that run each run at once, as a worker pool would take them: the order is the runner's choice."""
    import models.transfer.sweep as sweep_module
    from models.transfer.runners import InProcess

    started: list[str] = []

    class TwoSlots(InProcess):
        capacity, retries = 2, 0

        def __init__(self, ctx, workers: int, threads: int | None = None) -> None:
            super().__init__(ctx, *ctx.resolve())

        def submit(self, regime, n, seed, lr, on_batch):
            started.append(f"{regime}-n{n}-s{seed}")
            return super().submit(regime, n, seed, lr, on_batch)

    monkeypatch.setattr(sweep_module, "Processes", TwoSlots)
    sweep = Sweep(regimes=("probe", "finetune", "probe-features"), sizes=(1, 20), seeds=2, train=SELECTING)
    side = {r.key: r for r in run_sweep(sweep, tmp_path / "side", encoder=tiny_encoder, workers=2)}
    # fine-tuning 20 per class on seed 0 (two rates, 4 batches an epoch) and its seed 1 are the longest path
    assert started[:2] == ["finetune-n20-s0", "finetune-n1-s0"]
    assert started.index("finetune-n20-s1") < started.index("probe-n1-s0")
    started.clear()
    run_sweep(sweep, tmp_path / "sweep", encoder=tiny_encoder, workers=2, order="sweep")
    assert started[:3] == ["probe-n1-s0", "finetune-n1-s0", "probe-features-n1-s0"]
    started.clear()
    in_process = InProcess.submit

    def recorded(self, regime, n, seed, lr, on_batch):
        started.append(f"{regime}-n{n}-s{seed}")
        return in_process(self, regime, n, seed, lr, on_batch)

    monkeypatch.setattr(InProcess, "submit", recorded)
    alone = {r.key: r for r in run_sweep(sweep, tmp_path / "alone", encoder=tiny_encoder)}
    assert started == [run_key(*run) for run in sweep.runs()]  # one at a time: the sweep's order, whatever `order`
    assert side.keys() == alone.keys()
    assert [(r.test_error, r.lr) for r in side.values()] == [(alone[k].test_error, alone[k].lr) for k in side]
    with pytest.raises(ValueError, match="unknown order"):
        run_sweep(sweep, tmp_path / "x", encoder=tiny_encoder, order="random")


def test_a_worker_run_that_fails_once_is_retried(tmp_path: Path, tiny_encoder) -> None:
    flaky = replace(tiny_encoder, architecture=partial(flaky_resnet, tmp_path / "failed-once"))
    sweep = Sweep(regimes=("probe",), sizes=(1,), seeds=2, train=ONE_EPOCH)
    runs = run_sweep(sweep, tmp_path / "out", encoder=flaky, workers=2, threads=1)
    assert sorted(r.key for r in runs) == ["probe-n1-s0", "probe-n1-s1"]
    assert (tmp_path / "failed-once").exists()


@pytest.mark.parametrize("bad_seed", [0, 1])
def test_a_run_that_fails_twice_is_reported_and_the_others_are_kept(tmp_path: Path, tiny_encoder, bad_seed) -> None:
    broken = replace(tiny_encoder, architecture=partial(failing_resnet, bad_seed))
    sweep = Sweep(regimes=("probe",), sizes=(1, 2), seeds=2, train=ONE_EPOCH)
    with pytest.raises(RunsFailed) as failed:
        run_sweep(sweep, tmp_path, encoder=broken, workers=2, threads=1)
    errors = dict(failed.value.failed)
    kept = {r.key for r in load_runs(tmp_path)[1]}
    if bad_seed == 0:  # seed 0 chooses the rate: its failure leaves the later seeds nothing to train at
        assert sorted(errors) == ["probe-n1-s0", "probe-n1-s1", "probe-n2-s0", "probe-n2-s1"] and not kept
        assert "always fails" in errors["probe-n1-s0"] and "(seed 0) failed" in errors["probe-n1-s1"]
    else:
        assert sorted(errors) == ["probe-n1-s1", "probe-n2-s1"] and kept == {"probe-n1-s0", "probe-n2-s0"}


def test_sweeps_of_other_sizes_keep_their_own_commands_and_page_folders(tmp_path: Path, tiny_encoder) -> None:
    from models.transfer import user_folder

    one, two = (Sweep(regimes=("probe",), sizes=sizes, seeds=1, train=ONE_EPOCH) for sizes in ((1,), (2,)))
    assert user_folder(one, "a") != user_folder(two, "a")  # the page never merges them
    assert user_folder(one, "a") != user_folder(one, "b")  # nor two visitors' sweeps of the same settings (a review)
    run_sweep(one, tmp_path, encoder=tiny_encoder)
    run_sweep(two, tmp_path, encoder=tiny_encoder)  # the terminal may, into a folder it names
    run_sweep(two, tmp_path, encoder=tiny_encoder)
    meta = load_runs(tmp_path)[0]
    assert meta.sizes == (1, 2) and len(meta.commands) == 2
    assert "--sizes 1 " in meta.commands[0] and "--sizes 2 " in meta.commands[1]


def test_sweep_refuses_sizes_the_task_does_not_have(tmp_path: Path, tiny_encoder) -> None:
    with pytest.raises(ValueError, match="at most 101"):
        run_sweep(Sweep(sizes=(1, 500), seeds=1, train=ONE_EPOCH), tmp_path, encoder=tiny_encoder)


def test_a_sweep_over_the_pages_time_says_its_runs_and_the_limits_unit() -> None:
    """A walk read "...would take about 7 minutes (...); the page runs at most 5": five what, and how many runs."""
    from models.transfer import TrainConfig
    from models.transfer.sweep import page_sweep

    with pytest.raises(ValueError) as caught:
        page_sweep(
            "digits",
            BUNDLED_ENCODER,
            ("scratch", "probe", "finetune"),
            "20,50,100",
            5,
            TrainConfig(epochs=30),
            torch.device("cpu"),
            measure_pace=False,
        )
    said = str(caught.value)
    assert re.match(
        r"that sweep \(45 runs\) would take about \d+ minutes \(.*\); the page runs sweeps of at most 5 "
        r"minutes \(run bigger sweeps from the terminal",
        said,
    ), said


def test_parse_sizes() -> None:
    assert parse_sizes("5, 1,max,5", 126) == (1, 5, 126)
    for bad in ("0,1", "", "max", "1,x", "-3"):
        with pytest.raises(ValueError):
            parse_sizes(bad)
    with pytest.raises(ValueError, match="at most 126"):
        parse_sizes("1,200", 126)
    # digits str.isdigit() takes and int() does not: the page showed int()'s own message (a loopback review)
    for odd in ("²", "1,³", "٣"):
        with pytest.raises(ValueError, match="each number of images per class is a count of 1 or more, or max; not"):
            parse_sizes(odd)
    # every bad part named, as inline code (a walk read "'0' is not a whole number" for "0, abc": zero is one, and
    # 'abc' went unsaid)
    with pytest.raises(ValueError) as caught:
        parse_sizes("0, abc, 5, **b**, x, y")
    assert str(caught.value) == (
        "each number of images per class is a count of 1 or more, or max; not `0`, `abc`, `**b**` and 2 more"
    )


def test_bundled_encoder_loads_verified_and_transfers() -> None:
    enc = load_encoder(BUNDLED_ENCODER)
    assert "glyph" in enc.source
    model = enc.build(10, pretrained=True)
    assert model.fc.out_features == 10
    scratch = enc.build(10, pretrained=False)
    assert not torch.equal(model.layer0[0].weight, scratch.layer0[0].weight)


def test_command_line_runs_a_tiny_sweep(tmp_path: Path, capsys) -> None:
    argv = ["--regimes", "probe,probe-features", "--sizes", "1,2", "--seeds", "1", "--epochs", "1"]
    assert main([*argv, "--min-batches", "1", "--out", str(tmp_path)]) == 0
    meta, runs, _ = load_runs(tmp_path)
    assert len(runs) == 4 and meta.settings["train"]["lr"] == pytest.approx(3e-3)
    assert "python -m models.transfer" in meta.command
    assert "probe-features-n2-s0" in capsys.readouterr().out
    saved = json.loads((tmp_path / "runs" / "probe-n1-s0.json").read_text())
    assert saved["images_per_second"] > 0


def test_command_line_compile_switch_and_workers(tmp_path: Path, monkeypatch) -> None:
    def no_compile(*args, **kwargs):
        raise AssertionError("torch.compile is for CUDA only")

    monkeypatch.setattr(torch, "compile", no_compile)
    argv = ["--regimes", "probe", "--sizes", "1", "--seeds", "2", "--epochs", "1", "--min-batches", "1"]
    assert main([*argv, "--compile", "--lr-factors", "1", "--workers", "2", "--out", str(tmp_path)]) == 0
    meta, runs, _ = load_runs(tmp_path)
    assert len(runs) == 2 and "compile" not in meta.settings["train"]  # how runs execute, not what they compute
    assert " --compile " in meta.command and "--workers" not in meta.command
    with pytest.raises(SystemExit):
        main([*argv, "--workers", "0", "--out", str(tmp_path)])


def test_photo_tasks_get_a_bigger_batch_on_a_gpu_only() -> None:
    assert default_batch_size("cifar10", "cuda") == GPU_BATCH_SIZE > default_batch_size("cifar10", "cpu") == 64
    assert default_batch_size("digits", "cuda") == 64


def test_photo_datasets_offline_say_why_they_are_unavailable(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("models.transfer.data.DATA_ROOT", tmp_path)
    load_task.cache_clear()
    with pytest.raises(TaskUnavailable, match=r"cifar10 is not in .* could not be downloaded"):
        load_task("cifar10")
    with pytest.raises(TaskUnavailable, match="unknown task"):
        load_task("imagenet")
    load_task.cache_clear()


def test_image_folder_task(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for cls, colour in (("red", 0), ("blue", 2)):
        (tmp_path / cls).mkdir()
        for i in range(5):
            img = rng.integers(0, 60, size=(40, 50, 3), dtype=np.uint8)
            img[..., colour] = 220
            Image.fromarray(img).save(tmp_path / cls / f"{i}.png")
    task = folder_task(tmp_path, image_size=32)
    assert task.classes == ("blue", "red")
    assert len(task.y_train) == 8 and len(task.y_test) == 2
    assert task.val_per_class == 1 and task.max_per_class == 3  # one image per class held out for validation
    x = task.to_input(task.x_train[:2])
    assert x.shape == (2, 3, 32, 32) and x.dtype == torch.float32
    (tmp_path / "red" / "0.png").unlink()
    for f in (tmp_path / "blue").iterdir():
        f.unlink()
    with pytest.raises(TaskUnavailable):
        folder_task(tmp_path / "red", image_size=32)
    with pytest.raises(TaskUnavailable, match="not a folder"):
        folder_task(tmp_path / "missing")


def test_validation_is_stratified_and_disjoint_from_every_training_window(digits) -> None:
    val = validation(digits.y_train)
    assert torch.bincount(digits.y_train[val], minlength=10).tolist() == [digits.val_per_class] * 10
    held_out = set(val.tolist())
    for n in (1, 50, digits.max_per_class):
        for seed in range(3):
            assert not set(subset(digits.y_train, n, seed).tolist()) & held_out
    with pytest.raises(ValueError, match="outside validation"):
        subset(digits.y_train, digits.max_per_class + 1, 0)


def test_each_run_chooses_its_learning_rate_on_validation(digits, tiny_encoder) -> None:
    from models.transfer.loop import C_GRID

    cfg = replace(ONE_EPOCH, lr_factors=(0.1, 1.0))
    run = train_run(digits, tiny_encoder, "probe", 2, 0, cfg, torch.device("cpu"))
    assert [c["lr"] for c in run["candidates"]] == pytest.approx([cfg.lr * 0.1, cfg.lr])
    assert run["lr"] == min(run["candidates"], key=lambda c: c["val_error"])["lr"]
    assert run["selection_seconds"] >= run["seconds"] > 0
    probe = train_run(digits, tiny_encoder, "probe-features", 2, 0, cfg, torch.device("cpu"))
    assert probe["C"] in C_GRID and [c["C"] for c in probe["candidates"]] == list(C_GRID)


def test_a_random_encoder_probe_trains_only_its_head(digits, tiny_encoder) -> None:
    run = train_run(digits, tiny_encoder, "random-probe", 1, 0, replace(ONE_EPOCH, lr_factors=(1.0,)))
    assert run["regime"] == "random-probe" and 0 <= run["test_error"] <= 100


def test_a_probe_sees_its_features_centred_and_a_random_encoders_probe_learns(digits) -> None:
    """A fidelity review: a random encoder's pooled features are about 60 times smaller than a trained one's and sit
    on a common offset, so its linear head trained on them as they came missed by far (40.6% test error at 10
    digits per class; logistic regression on the same features standardised: 21.9%). Centred on the run's
    training images, the head reaches that (22.3%). The plain runner centres in the head and agrees (the runners'
    equality test in test_transfer_runners.py covers the random-encoder probe)."""
    from models.transfer.loop import Centred, encoded

    encoder = load_encoder("glyphs-resnet18")
    indices = subset(digits.y_train, 10, 0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        train, _ = encoded(digits, encoder.build(len(digits.classes), pretrained=False), torch.device("cpu"))
    seen = Centred(train[indices])(train[indices])
    assert seen.mean(0).abs().max() < 1e-4 and float(seen.pow(2).mean().sqrt()) == pytest.approx(1.0, rel=1e-4)
    cfg = TrainConfig(lr=0.003)
    assert train_run(digits, encoder, "random-probe", 10, 0, cfg, torch.device("cpu"))["test_error"] < 30


def test_run_records_are_typed_and_the_files_already_written_load_unchanged(tmp_path: Path) -> None:
    """#26: runs and sweeps are dataclasses read from the JSON files sweeps have always written; every shipped and
    published run file reads back to exactly its JSON, and a damaged one is refused with its field named."""
    from models.transfer import SHIPPED, SweepRecord, TransferRun
    from models.transfer.published import PUBLISHED

    for folder in (SHIPPED, PUBLISHED):
        for path in sorted((folder / "runs").glob("*.json")):
            assert TransferRun.load(path).to_dict() == json.loads(path.read_text()), path.name
        raw = json.loads((folder / "sweep.json").read_text())
        record = SweepRecord.from_dict(raw)
        assert SweepRecord.from_dict(record.to_dict()) == record
        assert {k: v for k, v in record.to_dict().items() if k in raw} == raw  # nothing the file held is lost
    good = json.loads(next((SHIPPED / "runs").glob("probe-*.json")).read_text())
    for field, value, words in (
        ("seed", "0", "'seed'"),
        ("regime", "other", "out of range"),
        ("history", [{}], "epoch"),
    ):
        with pytest.raises(ValueError, match=words):
            TransferRun.from_dict({**good, field: value})
    run = TransferRun.from_dict(good)
    assert run.save(tmp_path) == tmp_path / "runs" / f"{run.key}.json" and TransferRun.load(run.save(tmp_path)) == run


def test_progress_names_the_rate_while_seed_0_tries_several() -> None:
    """#28: a seed-0 run that chooses among three rates showed 'epoch 9/15' when Epochs was 5."""
    from models.transfer import Progress

    p = Progress(1, 6, "probe-n1-s0", 9, 15, 2, 4)
    assert p.epoch_text(5) == "rate 2 of 3, epoch 4/5"
    assert Progress(2, 6, "probe-n1-s1", 3, 5, 2, 4).epoch_text(5) == "epoch 3/5"
    assert Progress(2, 6, "probe-n1-s1", 3, 5, 2, 4, 0.4123).loss_text() == "loss 0.412"
    # rates trained at once: the loop reports the lowest of their losses, and the line says so
    assert Progress(1, 6, "probe-n1-s0", 3, 5, 2, 4, 0.4123, 3).loss_text() == "lowest loss of 3 rates 0.412"


def test_a_sweeps_progress_line_names_the_run_in_progress_not_the_one_that_just_ended(tmp_path) -> None:
    """Between two runs the line said "run 2 of 3 (scratch-n1-s0): rate 3 of 3, epoch 4/4": run 2's number with the
    last batch of run 1, which had ended."""
    from models.transfer import Progress, Sweep, SweepWork

    work = SweepWork(Sweep(regimes=("scratch", "probe"), sizes=(1,), seeds=1), tmp_path, task=None, encoder=None)
    assert work.detail == "run 1 of 2 (scratch-n1-s0): starting"
    work.latest = Progress(1, 1, "scratch-n1-s0", 2, 15, 3, 8)
    assert work.detail == "run 1 of 2 (scratch-n1-s0): epoch 2/15, batch 3/8"
    work.step = 1  # scratch-n1-s0 written; its last progress is still the latest
    assert work.detail == "run 2 of 2 (probe-n1-s0): starting"
    work.step = 2
    assert work.detail == "all 2 runs written"


def test_a_live_sweeps_time_left_weighs_each_run_by_its_estimated_seconds(tmp_path) -> None:
    """A probe costs a fraction of a fine-tuning or scratch run: reckoned in runs, the time left read half what was
    left after a probe (the form's default sweep on 2 cores: "11 s" with 24 s to go). Reckoned in each run's estimated
    seconds (the page's own estimate, run by run), the time measured so far prices the runs left at their own
    weight (there: 30 s with 24 s to go)."""
    from models.measured import seconds_left
    from models.transfer import Progress, Sweep, SweepWork
    from models.transfer.sweep import Estimate

    sweep = Sweep(regimes=("probe", "scratch"), sizes=(1,), seeds=1)
    work = SweepWork(sweep, tmp_path, None, None, {"probe-n1-s0": 1.0, "scratch-n1-s0": 9.0})
    assert work.units() == (0.0, 10.0)
    work.finished, work.step = {"probe-n1-s0"}, 1
    assert work.units() == (1.0, 10.0)
    assert seconds_left(2.0, 0.0, *work.units()) == pytest.approx(18.0)  # the probe took 2 s; 9 probes' worth left
    assert seconds_left(2.0, 0.0, 1.0, 2.0) == pytest.approx(2.0)  # in runs: one more probe's time
    assert seconds_left(2.0, 1.0, 1.0, 10.0) is None  # nothing done since the timing began: no speed yet
    # the run in progress counts by its batches done (a walk saw the time left climb through each run, then drop)
    work.latest = Progress(2, 2, "scratch-n1-s0", 2, 4, 5, 10)  # 15 of its 40 batches
    assert work.units() == pytest.approx((1.0 + 9.0 * 15 / 40, 10.0))
    work.latest = Progress(1, 2, "probe-n1-s0", 4, 4, 10, 10)  # the report of the run that ended counts no more
    assert work.units() == (1.0, 10.0)
    # without an estimate for every run (a photo task on a GPU has none), in runs
    assert SweepWork(sweep, tmp_path, None, None).units() == (0.0, 2.0)
    assert SweepWork(sweep, tmp_path, None, None, {"probe-n1-s0": 1.0}).units() == (0.0, 2.0)
    assert Estimate(3.0, "shipped", False).by_run(sweep) == {}  # an estimate without its runs' shares weighs none
    assert Estimate(3.0, "shipped", False, (1.0, 2.0)).by_run(sweep) == {"probe-n1-s0": 1.0, "scratch-n1-s0": 2.0}


def test_a_run_stopped_part_way_counts_nothing_done_when_the_sweep_goes_on(tmp_path) -> None:
    """A review: a resumed sweep kept the stopped run's last report, so the run, starting again from its first
    batch, counted its old part done: the bar jumped back and the time left read 20x long."""
    from models.transfer import Sweep, SweepWork, TrainConfig

    sweep = Sweep(regimes=("probe",), sizes=(1,), seeds=1, train=TrainConfig(epochs=2))
    work = SweepWork(sweep, tmp_path / "s", None, None, {"probe-n1-s0": 5.0})
    ticks = []

    def stop() -> None:
        ticks.append(work.units()[0])
        if len(ticks) == 3:
            raise KeyboardInterrupt  # a BaseException, as Streamlit's stop of a script run is

    with pytest.raises(KeyboardInterrupt):
        work.advance(1, stop)
    assert ticks[-1] > 0 and work.units() == (0.0, 5.0) and work.step == 0


def test_a_page_sweeps_command_can_be_pasted_into_a_checkout() -> None:
    """A walk found "--out …/results/digits-glyphs-resnet18-..." under a visitor's sweep saved outside the project
    (EXPLAINER_RESULTS): the path, hidden for privacy, could not be pasted. Such a folder is named under
    results/transfer instead; a folder in the project keeps its own path."""
    from models.transfer import SHIPPED
    from models.transfer.sweep import cli_args

    elsewhere = Path("/nonexistent-server-root/results/digits-glyphs-resnet18-42e90e7003e9")  # not under HOME either
    out = cli_args(Sweep(sizes=(1, 2), seeds=1), elsewhere)
    assert out[-2:] == ["--out", "results/transfer/digits-glyphs-resnet18-42e90e7003e9"]
    assert cli_args(Sweep(), SHIPPED)[-1] == "results/transfer/digits"


def test_the_server_remembers_which_sweeps_each_browser_launched_within_bounds() -> None:
    from models.transfer.launched import Launched

    kept = Launched(visitors=2, each=2)
    for name in ("a", "b", "c", "b"):
        kept.add("one", name)
    assert kept.of("one") == {"c", "b"} and kept.of("nobody") == set()  # the newest two, "b" once
    kept.add("two", "x")
    kept.of("one")  # "one" was active last: "two" is the first forgotten
    kept.add("three", "y")
    assert kept.of("two") == set() and kept.of("one") == {"c", "b"} and kept.of("three") == {"y"}


def test_the_page_resumes_only_what_its_form_can_ask_for() -> None:
    """A loopback review planted training settings in a sweep.json that the form cannot set (a million batches an
    epoch, batch size 0, -1 epochs): "Go on" would have run them."""
    from dataclasses import replace

    from models.transfer.sweep import FORM_DEFAULT, form_can_ask

    train = FORM_DEFAULT.train
    assert form_can_ask(1, train) and form_can_ask(5, replace(train, epochs=30, warm_epochs=10, layer_decay=0.25))
    for planted in (
        {"min_batches": 10**7},
        {"batch_size": 1},
        {"epochs": 0},
        {"epochs": 31},
        {"warm_epochs": -1},
        {"ft_ratio": 0.2},
        {"layer_decay": float("nan")},
        {"weight_decay": float("nan")},
        {"lr_factors": ()},
        {"step_size": 0},
    ):
        assert not form_can_ask(1, replace(train, **planted)), planted
    assert not form_can_ask(6, train) and not form_can_ask(0, train)
