"""The sweep's runners compute the same science: the fast runner (fused AdamW, probes on cached features, test
curves for the chosen rate only) and the stacked runner (the rates a run chooses from trained as one grouped network)
give each run the result the plain loop gives it alone, to rounding; a stack steps each member as it would be alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from models.transfer import Sweep, TrainConfig, load_runs, load_task, run_sweep, settings_hash
from models.transfer.stacked import NotStackable, Stack, stackable
from tests.on_device import TEST_DEVICE, tolerance
from tests.transfer_helpers import tiny_encoder as make_tiny_encoder

GPU_IMAGES = 2  # test images by which a runner's run may differ from the plain loop's on a GPU (bfloat16)

TEST_IMAGES = 497  # the digits' held-out scans: one image is 0.2 points of test error


@pytest.fixture(scope="module")
def tiny():
    return make_tiny_encoder()


def _members(tiny, k: int) -> list[nn.Module]:
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        out.append(tiny.build(10, pretrained=seed % 2 == 0))
    return out


def test_a_stack_steps_each_member_as_it_would_alone(tiny) -> None:
    members, alone = _members(tiny, 3), _members(tiny, 3)
    stack = Stack(members).train()
    x, y = torch.randn(3, 12, 3, 32, 32), torch.randint(0, 10, (3, 12))
    logits = stack(x.transpose(0, 1))  # (N, K, ...): member k's own batch at [:, k]
    assert logits.shape == (12, 3, 10)
    sum(nn.functional.cross_entropy(logits[:, k], y[k]) for k in range(3)).backward()
    stack.write_back()
    for k, (member, own) in enumerate(zip(members, alone, strict=True)):
        own.train()
        own_logits = own(x[k])  # one forward pass: it moves the BatchNorm statistics once, as the stack's did
        nn.functional.cross_entropy(own_logits, y[k]).backward()
        assert torch.allclose(logits[:, k], own_logits.detach(), atol=1e-5)
        for (name, p), q in zip(member.named_parameters(), own.parameters(), strict=True):
            assert (p.grad - q.grad).norm() <= 1e-4 * q.grad.norm(), name  # float32 sums in another order
        for (name, a), b in zip(member.named_buffers(), own.buffers(), strict=True):  # BatchNorm statistics
            assert torch.allclose(a.float(), b.float(), atol=1e-6), name


def test_a_stack_keeps_a_frozen_encoder_frozen_and_stacks_bare_heads(tiny) -> None:
    members = _members(tiny, 2)
    before = [{k: v.clone() for k, v in m.state_dict().items()} for m in members]
    stack = Stack(members).train()
    for m in members:
        for name, child in m.named_children():
            child.train(name == "fc")
    stack.match_modes()
    stack(torch.randn(4, 2, 3, 32, 32))
    stack.write_back()
    for m, old in zip(members, before, strict=True):
        assert all(torch.equal(v, old[k]) for k, v in m.state_dict().items())  # eval mode: statistics kept
    heads = [nn.Linear(8, 3) for _ in range(4)]
    x = torch.randn(5, 4, 8)
    stack = Stack(heads)
    out = stack(x)
    assert out.shape == (5, 4, 3)
    assert all(torch.allclose(out[:, k], heads[k](x[:, k]), atol=1e-6) for k in range(4))
    assert all(p.is_meta for p in stack.template.parameters())  # its own weights cost nothing: the members' are used
    with pytest.raises(NotStackable):
        Stack([nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4)) for _ in range(2)])
    with pytest.raises(NotStackable, match="one architecture"):
        Stack([nn.Linear(4, 4), nn.Linear(4, 5)])


def test_the_runner_is_not_part_of_a_sweeps_settings() -> None:
    plain = Sweep(train=TrainConfig(runner="plain"))
    assert settings_hash(plain.settings()) == settings_hash(Sweep(train=TrainConfig(runner="stacked")).settings())
    with pytest.raises(ValueError, match="unknown runner"):
        TrainConfig(runner="faster")


@pytest.mark.training
def test_a_twelve_run_sweep_gives_every_run_its_result_alone_under_every_runner(tmp_path: Path, tiny) -> None:
    """3 regimes x 2 sizes x 2 seeds, each seed-0 run choosing among 3 rates, against the plain loop. The fast runner
    changes only the order of floating-point sums (fused AdamW, features in batches of 512, evaluations through
    the inference shortcuts of models.nets.fast_layers): every epoch's losses
    agree to 1e-4 and every test error to the image. The stacked runner's grouped convolutions round each gradient
    differently (1e-6, the unit test above): a pretrained network's runs agree to 1e-3 (measured: 1e-6 to 2e-4) and
    to an image, but from scratch Adam turns rounding-level gradients (parameters whose true gradient is about zero)
    into full-size steps of either sign, so a scratch run agrees in its first epoch only and then drifts as it would
    on another device (measured: 11% in test loss by epoch 3 at the largest rate)."""
    train = TrainConfig(epochs=3, lr=3e-3, min_batches=2)
    sweep = Sweep(regimes=("scratch", "probe", "finetune"), sizes=(1, 2), seeds=2, train=train)
    results = {}
    progress = []
    for runner in ("plain", "fast", "stacked"):
        report = progress.append if runner == "stacked" else None
        this = replace(sweep, train=replace(train, runner=runner))
        run_sweep(this, tmp_path / runner, on_progress=report, encoder=tiny)
        _, runs, problems = load_runs(tmp_path / runner)
        assert not problems and len(runs) == 12
        results[runner] = {r.key: r for r in runs}
    assert load_task("digits").y_test.numel() == TEST_IMAGES
    # On a GPU every runner (the plain loop too) trains under bfloat16 autocast, whose 8-bit mantissa turns a
    # different order of sums into differences of its own rounding: pretrained runs agree to 1e-2 in every loss
    # (tests/on_device.py) and to GPU_IMAGES images (on an H200: 7e-4, the one difference printed). From scratch,
    # Adam's drift (above) starts at once there: the fast runner's scratch runs agree in their first epoch only (their
    # later losses 1-12% apart, test errors 3-13 images), and the stacked runner's not even in that (1.5% and 5.7% in
    # two first-epoch losses), so on a GPU only their images, rates tried and curves' lengths are compared. Every
    # difference is listed on failure.
    gpu = TEST_DEVICE != "cpu"
    gpu_images = GPU_IMAGES if gpu else 0
    off = []
    for runner, rel, images in (("fast", tolerance(1e-4), gpu_images), ("stacked", tolerance(1e-3), 1 + gpu_images)):
        for key, alone in results["plain"].items():
            run = results[runner][key]
            assert run.images == alone.images and len(run.history) == len(alone.history) == 3
            assert [c["lr"] for c in run.candidates] == [c["lr"] for c in alone.candidates]
            drifts = run.regime == "scratch" and (runner == "stacked" or gpu)
            epochs = 3 if not drifts else 0 if runner == "stacked" and gpu else 1
            for mine, theirs in zip(run.history[:epochs], alone.history[:epochs], strict=True):
                for field in ("train_loss", "test_loss"):
                    a, b = getattr(mine, field), getattr(theirs, field)
                    if a != pytest.approx(b, rel=rel):
                        off.append(f"{runner} {key} epoch {mine.epoch} {field}: {a:.6g} vs {b:.6g} (rel {rel:g})")
            if epochs == 3:
                if run.lr != alone.lr:
                    off.append(f"{runner} {key}: rate {run.lr:g} vs {alone.lr:g}")
                apart = abs(run.test_error - alone.test_error) * TEST_IMAGES / 100
                if apart >= images + 0.5:
                    off.append(f"{runner} {key}: test errors {apart:.0f} images apart (at most {images})")
    assert not off, "\n".join(off)
    # The stacked runner's progress: a seed-0 run's rates train at once, and the bar moves evenly to the end.
    assert {p.epoch_text(3) for p in progress if p.run_key == "scratch-n1-s0" and p.batch} == {
        f"3 rates at once, epoch {e}/3" for e in (1, 2, 3)
    }
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    # A sweep started under one runner resumes under another: the same settings, so the same folder.
    run_sweep(replace(sweep, seeds=3), tmp_path / "plain", encoder=tiny)
    assert len(load_runs(tmp_path / "plain")[1]) == 18


def test_a_page_estimate_comes_from_this_servers_own_timed_runs_once_it_has_some(tmp_path: Path, monkeypatch) -> None:
    from models.transfer import SweepRecord, TransferRun, sweep_seconds, user_folder
    from models.transfer.sweep import page_reference, run_seconds

    monkeypatch.setenv("EXPLAINER_RESULTS", str(tmp_path))
    assert page_reference("digits", "glyphs-resnet18", ("scratch",))[1] == "shipped"
    sweep = Sweep(regimes=("scratch",), sizes=(5,), seeds=1, train=TrainConfig(epochs=2, lr=3e-3))
    folder = user_folder(sweep, "another visitor")  # a page sweep of anyone's on this server times the estimate
    SweepRecord(settings=sweep.settings(), settings_hash=settings_hash(sweep.settings())).save(folder)
    epochs = [
        {"epoch": e, "train_loss": 1.0, "train_accuracy": 0.5, "test_loss": 1.0, "test_accuracy": 0.5} for e in (1, 2)
    ]
    run = {
        "key": "scratch-n5-s0",
        "regime": "scratch",
        "n_per_class": 5,
        "seed": 0,
        "test_error": 50.0,
        "test_loss": 1.0,
        "seconds": 1.0,  # the kept rate's training alone: not what the run cost
        "images": 800,
        "device": "cpu",
        "history": epochs,
        "candidates": [{"lr": lr, "val_error": 50.0} for lr in (1e-3, 3e-3, 9e-3)],
        "wall_seconds": 48.0,  # 3 rates x 2 epochs x 8 batches: 1 s a batch, evaluations included
        "runner": "fast",
        "threads": torch.get_num_threads() + 1,
    }
    TransferRun.from_dict(run).save(folder)
    # A run timed with another thread count than this process's is not this server's speed now.
    assert page_reference("digits", "glyphs-resnet18", ("scratch",))[1] == "shipped"
    TransferRun.from_dict({**run, "threads": torch.get_num_threads()}).save(folder)
    reference, source = page_reference("digits", "glyphs-resnet18", ("scratch",))
    assert source == "this server" and [r.key for r in reference] == ["scratch-n5-s0"]
    assert sweep_seconds(replace(sweep, seeds=2), 10, reference) == pytest.approx(48.0 + 16.0)  # seed 1: one rate
    assert run_seconds(replace(sweep, seeds=2), 10, reference) == pytest.approx([48.0, 16.0])  # run by run
    assert page_reference("digits", "glyphs-resnet18", ("scratch", "probe"))[1] == "shipped"  # probe not measured
    assert page_reference("digits", "glyphs-resnet18", ("scratch",), "plain")[1] == "shipped"  # another runner
    # A run that recorded its process's pace is scaled to this one's: twice as fast here, half the time. Without a
    # recorded pace, its seconds are taken as they are.
    assert sweep_seconds(replace(sweep, seeds=2), 10, reference, pace=0.05) == pytest.approx(48.0 + 16.0)
    TransferRun.from_dict({**run, "threads": torch.get_num_threads(), "pace": 0.1}).save(folder)
    reference = page_reference("digits", "glyphs-resnet18", ("scratch",))[0]
    assert sweep_seconds(replace(sweep, seeds=2), 10, reference, pace=0.05) == pytest.approx((48.0 + 16.0) / 2)


def test_a_page_estimate_prices_each_batch_size_as_measured_and_the_rest_of_a_run_per_epoch() -> None:
    """A sweep of small sizes trains small batches, which cost less than the course's 64 (on 2 cores, about half at 10
    images): the estimate charges each run the seconds per batch measured at the nearest batch size, and the rest of a
    run (evaluations, one test pass per epoch) per epoch, measured apart for runs that tried several rates. Pooled
    over every size, the shipped sweep's runs had priced a 48-run page sweep at 46 s where it took 38 s."""
    from models.transfer import TransferRun, sweep_seconds

    def run(n: int, seed: int, rates: int, training: float, wall: float) -> TransferRun:
        epochs = [
            {"epoch": e, "train_loss": 1.0, "train_accuracy": 0.5, "test_loss": 1.0, "test_accuracy": 0.5}
            for e in (1, 2)
        ]
        return TransferRun.from_dict({
            "key": f"scratch-n{n}-s{seed}", "regime": "scratch", "n_per_class": n, "seed": seed, "test_error": 50.0,
            "test_loss": 1.0, "seconds": training / rates, "images": 1, "device": "cpu", "history": epochs,
            "candidates": [{"lr": 1e-3 * (i + 1), "val_error": 50.0} for i in range(rates)] if rates > 1 else [],
            "selection_seconds": training, "wall_seconds": wall, "runner": "fast", "threads": 1,
        })  # fmt: skip

    # 2 epochs of 8 batches per rate: 0.1 s a batch of 10 images, 0.3 s a batch of 64; the rest 0.2 s an epoch for
    # one rate, 0.5 s for three
    reference = [run(1, 1, 1, 1.6, 2.0), run(10, 1, 1, 4.8, 5.2), run(10, 0, 3, 14.4, 15.4)]
    train = TrainConfig(lr=3e-3, epochs=4)
    small = Sweep(regimes=("scratch",), sizes=(2,), seeds=2, train=train)  # batches of 20: nearest measured, 10
    assert sweep_seconds(small, 10, reference) == pytest.approx((3 * 4 * 8 * 0.1 + 4 * 0.5) + (4 * 8 * 0.1 + 4 * 0.2))
    large = replace(small, sizes=(50,))  # batches of 64
    assert sweep_seconds(large, 10, reference) == pytest.approx((3 * 4 * 8 * 0.3 + 4 * 0.5) + (4 * 8 * 0.3 + 4 * 0.2))


def test_the_encoders_features_are_priced_once_a_process_not_in_every_probe_run(tiny, tmp_path: Path) -> None:
    """A process's first pretrained probe run computes the encoder's features for the whole task (0.41 s of 0.49 s
    on 2 cores), kept for its later runs. Priced from whole-run times, a reference run that paid them made a
    5-epoch probe sweep of two runs read 2.8 s where it took 0.17 s, and a fresh process's first sweep read 0.032 s
    where it took 0.55 s (a walk). The run that pays says so, its runs are priced without it, and a sweep in a
    process without the features pays them once, in its first probe run."""
    from models.transfer import TransferRun, run_sweep
    from models.transfer import loop as transfer_loop
    from models.transfer.sweep import run_seconds

    task, cpu = load_task("digits"), torch.device("cpu")
    transfer_loop._FEATURES.pop(task, None)  # as in a fresh process
    sweep = Sweep(regimes=("probe",), sizes=(1, 2), seeds=1, train=TrainConfig(epochs=1, lr=3e-3, lr_factors=(1.0,)))
    first, second = run_sweep(sweep, tmp_path / "s", task=task, encoder=tiny, device=cpu)
    assert first.recorded("features_seconds") > 0 and second.recorded("features_seconds") is None
    assert transfer_loop.features_kept(task, tiny, cpu)

    paid = first.to_dict()
    once = paid["features_seconds"]
    plain = TransferRun.from_dict(
        {k: v for k, v in paid.items() if k != "features_seconds"} | {"wall_seconds": paid["wall_seconds"] - once}
    )
    priced = run_seconds(sweep, 10, [TransferRun.from_dict(paid)])
    assert priced == pytest.approx(run_seconds(sweep, 10, [plain]))  # the one-off cost is not a run's
    fresh = run_seconds(sweep, 10, [TransferRun.from_dict(paid)], features=True)
    assert fresh == pytest.approx([priced[0] + once, priced[1]])  # once, in the first probe run


def test_every_run_records_the_pace_of_the_process_that_ran_it(tiny, tmp_path: Path, monkeypatch) -> None:
    """The pace (one training step, timed) is what turns runs timed elsewhere into an estimate for this server: it
    is measured once per process and PACE_TTL, keyed on the thread count, and leaves the global RNGs as they were.
    The test keeps its own paces: one kept by an earlier module for the same tiny encoder could reach PACE_TTL in
    the middle of it and be measured again (a review reproduced that with a shorter TTL)."""
    from models.measured import KeptMeasurements
    from models.transfer import pace as paces

    monkeypatch.setattr(paces, "PACES", KeptMeasurements(paces.PACE_TTL))

    task, cpu = load_task("digits"), torch.device("cpu")
    state = torch.get_rng_state()
    first = paces.pace(task, tiny, cpu)
    assert first > 0 and torch.equal(torch.get_rng_state(), state)
    assert paces.pace(task, tiny, cpu) == first == paces.kept_pace(task, tiny, cpu)  # kept, not measured again
    threads = torch.get_num_threads()
    other = 1 if threads > 1 else 2
    try:
        torch.set_num_threads(other)
        assert paces.pace(task, tiny, cpu) > 0
    finally:
        torch.set_num_threads(threads)
    assert {key[-1] for key in paces.PACES.measured()} >= {threads, other}  # each thread count measured on its own
    assert paces.pace(task, tiny, cpu) == first
    sweep = Sweep(regimes=("probe",), sizes=(1,), seeds=1, train=TrainConfig(epochs=1, lr=3e-3, lr_factors=(1.0,)))
    (run,) = run_sweep(sweep, tmp_path / "s", task=task, encoder=tiny, device=cpu)  # the pace above is the CPU's
    assert run.recorded("pace") == first


def test_cached_features_are_keyed_on_the_weights_not_the_name(tiny) -> None:
    """Found by the Ray test: features cached under an encoder's name gave a run the result of whatever had run
    before it in the process. Now two encoders with one name never share features, nor do two thread counts."""
    from models.transfer import Encoder
    from models.transfer.loop import pretrained_features

    task, cpu = load_task("digits"), torch.device("cpu")
    other_state = {k: v + 1.0 if v.is_floating_point() else v for k, v in tiny.state.items()}
    other = Encoder(tiny.name, tiny.title, tiny.architecture, other_state, tiny.source)
    mine, theirs = pretrained_features(task, tiny, cpu)[0], pretrained_features(task, other, cpu)[0]
    assert not torch.equal(mine, theirs)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1 if threads > 1 else 2)
        assert pretrained_features(task, tiny, cpu)[0] is not mine  # computed again, at this thread count
    finally:
        torch.set_num_threads(threads)
    assert pretrained_features(task, tiny, cpu)[0] is mine
    twin = Encoder("another name", tiny.title, tiny.architecture, dict(tiny.state), tiny.source)
    assert pretrained_features(task, twin, cpu)[0] is mine  # the same weights under another name: the same features


def test_a_network_the_stack_cannot_group_trains_its_members_one_after_another() -> None:
    from models.transfer.loop import Features, train_epochs, train_together

    task, cpu = load_task("digits"), torch.device("cpu")
    torch.manual_seed(0)
    data = Features(task, cpu, torch.randn(len(task.y_train), 8), torch.randn(len(task.y_test), 8))

    def net() -> nn.Module:
        torch.manual_seed(1)
        return nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8), nn.Linear(8, 10))

    cfgs = [TrainConfig(epochs=2, lr=lr, min_batches=2) for lr in (1e-3, 3e-3)]
    idx = torch.arange(40)
    together = train_together([net(), net()], "scratch", data, idx, cfgs, seed=0)
    alone = [train_epochs(net(), "scratch", data, idx, c, seed=0) for c in cfgs]
    for (history, _, seen), (own, _, own_seen) in zip(together, alone, strict=True):
        assert seen == own_seen and [h["train_loss"] for h in history] == [h["train_loss"] for h in own]


@pytest.mark.training
def test_a_network_the_stack_cannot_group_shows_its_rates_training_one_after_another(tmp_path: Path) -> None:
    """Under the stacked runner a network with a LayerNorm trains each rate alone; the progress says so ("rate 2 of 3",
    not "3 rates at once") and the bar only moves forward."""
    from tests.transfer_helpers import layer_norm_encoder

    encoder, progress = layer_norm_encoder(), []
    with torch.device("meta"):
        assert not stackable(encoder.architecture())
    train = TrainConfig(epochs=2, lr=3e-3, min_batches=2, runner="stacked")
    sweep = Sweep(regimes=("scratch",), sizes=(1,), seeds=1, train=train)
    run_sweep(sweep, tmp_path, on_progress=progress.append, encoder=encoder)
    assert len(load_runs(tmp_path)[1]) == 1
    shown = {p.epoch_text(2) for p in progress if p.batch}
    assert shown == {f"rate {r} of 3, epoch {e}/2" for r in (1, 2, 3) for e in (1, 2)}
    assert {p.together for p in progress} == {1}
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)


def test_a_random_encoder_probe_is_estimated_with_its_own_feature_pass() -> None:
    """The shipped sweep has no random-encoder probe: it is priced as the probe plus one pass of its own encoder over
    every image, as the cached-feature probe's runs measured it (the pretrained probe reuses cached features)."""
    from models.transfer import SHIPPED, sweep_seconds

    shipped = load_runs(SHIPPED)[1]
    extract = [r.extra["extract_seconds"] for r in shipped if r.regime == "probe-features"]
    train = TrainConfig(epochs=5, lr=3e-3)
    probe = sweep_seconds(Sweep(regimes=("probe",), sizes=(5,), seeds=2, train=train), 10, shipped)
    random = sweep_seconds(Sweep(regimes=("random-probe",), sizes=(5,), seeds=2, train=train), 10, shipped)
    assert extract and random == pytest.approx(probe + 2 * sum(extract) / len(extract))


@pytest.mark.training
def test_warm_epochs_layer_decay_and_a_random_encoder_probe_give_the_plain_result_under_every_runner(tiny) -> None:
    """The fine-tuning options the twelve-run sweep leaves at their defaults (a frozen warm epoch, layer decay) and the
    probe on a random encoder (its features computed for the run) agree with the plain loop as the sweep's pretrained
    runs do: fast to 1e-4 and the image, stacked to 1e-3 and one image (the random probe's head is trained on features
    of an encoder that never trains, as the pretrained probe's is)."""
    from models.transfer.loop import train_run

    task, cpu = load_task("digits"), torch.device("cpu")
    train = TrainConfig(epochs=3, lr=3e-3, min_batches=2, warm_epochs=1, layer_decay=0.5)
    for regime in ("finetune", "random-probe"):
        plain = train_run(task, tiny, regime, 2, 0, replace(train, runner="plain"), cpu)
        for runner, rel, images in (("fast", 1e-4, 0), ("stacked", 1e-3, 1)):
            run = train_run(task, tiny, regime, 2, 0, replace(train, runner=runner), cpu)
            assert run["lr"] == plain["lr"], (regime, runner)
            for mine, theirs in zip(run["history"], plain["history"], strict=True):
                for field in ("train_loss", "test_loss"):
                    assert mine[field] == pytest.approx(theirs[field], rel=rel), (regime, runner, mine["epoch"], field)
            assert abs(run["test_error"] - plain["test_error"]) * TEST_IMAGES / 100 < images + 0.5, (regime, runner)


@pytest.mark.training
def test_a_run_whose_states_exceed_the_budget_evaluates_every_epoch_as_it_trains(tiny, monkeypatch) -> None:
    """The fast runner keeps each rate's per-epoch states to evaluate only the chosen rate's test curve, within
    STATES_BUDGET; a network too large for it evaluates the test set after every epoch instead: the same curve."""
    from models.transfer import loop

    task, cpu = load_task("digits"), torch.device("cpu")
    train = TrainConfig(epochs=2, lr=3e-3, min_batches=2)
    model = tiny.build(10, pretrained=True)
    assert loop.keeps_states(model, train, rates=3)
    kept = loop.train_run(task, tiny, "finetune", 1, 0, train, cpu)
    monkeypatch.setattr(loop, "STATES_BUDGET", 0)
    assert not loop.keeps_states(model, train, rates=3)
    evaluated = loop.train_run(task, tiny, "finetune", 1, 0, train, cpu)
    for field in ("lr", "test_error", "test_loss", "candidates"):
        assert evaluated[field] == kept[field], field
    assert [h["test_loss"] for h in evaluated["history"]] == [h["test_loss"] for h in kept["history"]]
