"""What the transfer page concludes from a sweep's run records: runs grouped by regime, a fitted learning curve
per regime (Hoiem et al. 2021), the summary table and where two regimes' curves cross."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from explain.methods.learning_curves import PARAMETER_HELP, LearningCurve, crossover, fit
from models.text import counted
from models.transfer import REGIMES as REGIME_TITLES
from models.transfer import TransferRun as Run


def by_regime(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs grouped by regime, in the order of REGIME_TITLES."""
    groups: dict[str, list[Run]] = defaultdict(list)
    for r in runs:
        groups[r.regime].append(r)
    return {k: sorted(groups[k], key=lambda r: (r.n_per_class, r.seed)) for k in REGIME_TITLES if k in groups}


def mean_errors(runs: Sequence[Run]) -> dict[str, tuple[list[int], list[float]]]:
    """Per regime, the sizes measured and the mean test error over seeds at each: a sweep's measured curve."""
    means = {}
    for regime, rs in by_regime(runs).items():
        sizes = sorted({r.n_per_class for r in rs})
        means[regime] = (sizes, [float(np.mean([r.test_error for r in rs if r.n_per_class == n])) for n in sizes])
    return means


def fit_curves(runs: Sequence[Run], N: float | None = None) -> dict[str, LearningCurve]:
    """One fitted learning curve per regime that has measurements at two or more sizes."""
    curves = {}
    for regime, rs in by_regime(runs).items():
        n = np.array([r.n_per_class for r in rs], dtype=float)
        if len(np.unique(n)) >= 2:
            curves[regime] = fit(n, [r.test_error for r in rs], N=N)
    return curves


def unfitted_text(runs: Sequence[Run]) -> str:
    """One line naming the regimes run at a single size, which `fit_curves` leaves without a curve (three parameters
    want two sizes at the least), and what to do; "" when every regime has a curve. A walk's one-size sweep showed
    points and notes about lines and bands that were not there."""
    single = {k: rs[0].n_per_class for k, rs in by_regime(runs).items() if len({r.n_per_class for r in rs}) < 2}
    if not single:
        return ""
    named = ", ".join(f"{REGIME_TITLES.get(k, k)} (n = {n})" for k, n in single.items())
    every = len(single) == len(by_regime(runs))
    return (
        f"{'Every regime was' if every else 'Some regimes were'} run at one size only, so no learning curve is "
        f"fitted for {'them' if every else 'these'}: {named}. A fit needs two sizes or more, and four to check its "
        "shape: add sizes to the sweep (for example 1, 5, 20, 50)."
    )


def measured_columns(n: int) -> dict[str, str]:
    """The summary's measured columns at size `n` (mean error, its seeds' sd, the number of seeds), by name, each
    with the short header a narrow table shows."""
    return {
        f"measured error at n={n} (%)": f"error n={n}",  # its unit in its help (the full name): "% n=101" was cut
        f"sd at n={n}": f"sd n={n}",
        f"seeds at n={n}": f"seeds n={n}",
    }


def published_columns(params: Iterable[str]) -> dict[str, str]:
    """The summary's columns for a paper's fitted `params` (its e_N, beta_N, gamma), by name, each with the short header
    its own table shows, in the order of the fitted columns (PARAMETER_HELP's)."""
    order = list(PARAMETER_HELP)
    ranked = sorted(params, key=lambda k: order.index(k) if k in order else len(order))
    return {published_column(k): f"{k} (paper)" for k in ranked}


def published_column(param: str) -> str:
    """The summary's column name for a paper's fitted `param`."""
    return f"published {param}"


def summary_rows(
    runs: Sequence[Run], curves: dict[str, LearningCurve], published: dict[str, dict[str, float]] | None = None
) -> list[dict[str, Any]]:
    """The table under the learning curves, one row per regime: the fitted parameters (beside the `published`
    fits, when a paper states them), and the measured error at the smallest and largest n as the mean over
    seeds with its sample standard deviation (ddof=1; blank with one seed) and the number of seeds."""
    rows = []
    for regime, rs in by_regime(runs).items():
        sizes = sorted({r.n_per_class for r in rs})
        err = {n: np.mean([r.test_error for r in rs if r.n_per_class == n]) for n in sizes}
        row: dict[str, Any] = {"regime": REGIME_TITLES[regime], "runs": len(rs)}
        c = curves.get(regime)
        if c is not None:
            row.update(
                {
                    "alpha": round(c.alpha, 2),
                    "eta": round(c.eta, 2),
                    "gamma": round(c.gamma, 2),
                    f"e_N (N={c.N:g})": round(c.e_N, 2),
                    "beta_N": round(c.beta_N, 2),
                    "fit": c.verdict,
                }
            )
        if published and regime in published:
            row.update({published_column(k): v for k, v in published[regime].items()})
        for n in (sizes[0], sizes[-1]):
            errors = [r.test_error for r in rs if r.n_per_class == n]
            mean, sd, seeds = measured_columns(n)
            row[mean] = round(float(err[n]), 2)
            row[sd] = round(float(np.std(errors, ddof=1)), 2) if len(errors) > 1 else None
            row[seeds] = len(errors)
        rows.append(row)
    return rows


def floor_note(curves: dict[str, LearningCurve]) -> str:
    """One line when a fit's error floor α is below zero (an impossible error as n grows): those fits describe the
    measured sizes, not beyond them. "" when every floor is at least zero."""
    negative = [f"{REGIME_TITLES[r].lower()} {c.alpha:.2f}" for r, c in curves.items() if c.alpha < 0]
    if not negative:
        return ""
    return (
        f"The fitted error floor α (in % error) is below zero for {', '.join(negative)}: no error can be negative, "
        "so these fits "
        "hold only over the sizes measured; what they say beyond them (e_N at larger N, crossings there) is an "
        "extrapolation."
    )


def _errors_by_size(runs: Sequence[Run], a: str, b: str) -> tuple[list[int], dict[str, dict[int, list[float]]]]:
    """(the sizes both regimes were run at, ascending; each regime's test errors at each size)."""
    stats: dict[str, dict[int, list[float]]] = {}
    for regime in (a, b):
        by_n: dict[int, list[float]] = defaultdict(list)
        for r in runs:
            if r.regime == regime:
                by_n[r.n_per_class].append(r.test_error)
        stats[regime] = by_n
    return sorted(set(stats[a]) & set(stats[b])), stats


def _a_ahead(sizes: list[int], stats: dict[str, dict[int, list[float]]], a: str, b: str) -> list[bool]:
    """At each size, whether regime `a`'s mean error is below `b`'s."""
    return [float(np.mean(stats[a][n])) < float(np.mean(stats[b][n])) for n in sizes]


def _level(stats: dict[str, dict[int, list[float]]], a: str, b: str, n: int) -> bool:
    """Whether `a` and `b`'s means at size `n` are level within their seeds' spread: apart by less than the standard
    error of their difference (both measured with two seeds or more; one seed gives no spread to judge by)."""
    ea, eb = stats[a][n], stats[b][n]
    if min(len(ea), len(eb)) < 2:
        return False
    se = float(np.sqrt(np.var(ea, ddof=1) / len(ea) + np.var(eb, ddof=1) / len(eb)))
    return abs(float(np.mean(ea)) - float(np.mean(eb))) < se


def measured_order(runs: Sequence[Run], a: str, b: str, name_a: str, name_b: str) -> str:
    """Which of regimes `a` and `b` the measured means put ahead at each size both were run at, and between which
    sizes the order flips, with the seeds' spread (sample standard deviation): the evidence beside a fitted
    crossover. "" when the two share no size."""
    sizes, stats = _errors_by_size(runs, a, b)
    if not sizes:
        return ""

    def at(n: int, say_level: bool = True) -> str:
        ea, eb = (float(np.mean(stats[k][n])) for k in (a, b))
        spread = [float(np.std(stats[k][n], ddof=1)) for k in (a, b) if len(stats[k][n]) > 1]
        sd = f", seeds' sd up to {max(spread):.1f}" if spread else ""
        sd += ": level within the spread" if say_level and _level(stats, a, b, n) else ""
        return f"n = {n}: {name_a} {ea:.1f}%, {name_b} {eb:.1f}%{sd}"  # named: "10.0% against 9.7%" was misread

    ahead = _a_ahead(sizes, stats, a, b)
    flips = [k for k in range(1, len(sizes)) if ahead[k] != ahead[k - 1]]
    if not flips:
        leader = name_a if ahead[0] else name_b
        return f"Measured means: {leader} ahead at every size run, {sizes[0]} to {sizes[-1]} ({at(sizes[0])})."
    k = flips[0]
    before, after = (name_a, name_b) if ahead[k - 1] else (name_b, name_a)
    more = " (the order changes again later)" if len(flips) > 1 else ""
    level = [n for n in sizes[k - 1 : k + 1] if _level(stats, a, b, n)]
    if level:  # a walk read "the probe ahead up to n = 5" beside "fine-tuning overtakes at about 5" as a contradiction
        gaps = "both gaps" if len(level) == 2 else f"the gap at n = {level[0]}"
        return (
            f"Measured means: the order changes between n = {sizes[k - 1]} and {sizes[k]}, {gaps} within the seeds' "
            f"spread ({at(sizes[k - 1], False)}; {at(sizes[k], False)}){more}."
        )
    return (
        f"Measured means: {before} ahead up to n = {sizes[k - 1]} ({at(sizes[k - 1])}), {after} ahead from "
        f"n = {sizes[k]} ({at(sizes[k])}){more}."
    )


def fit_against_means(runs: Sequence[Run], a: str, b: str, where: float) -> str:
    """The clause, "they keep one order at n = 2 and 5, ...", when a fitted crossing at `where`, within the sizes
    run, falls between two measured sizes at which the means keep one order (the fit crosses where the measurements
    do not), naming where they do flip; else "". Not where the means at either size are level within the seeds'
    spread (`_level`): a walk read "the measured means do not" beside 10.0% against 9.9% with sds up to 2.0."""
    sizes, stats = _errors_by_size(runs, a, b)
    if len(sizes) < 2 or not sizes[0] <= where <= sizes[-1]:
        return ""
    ahead = _a_ahead(sizes, stats, a, b)
    k = next(k for k in range(1, len(sizes)) if where <= sizes[k])
    if ahead[k] != ahead[k - 1] or any(_level(stats, a, b, sizes[j]) for j in (k - 1, k)):
        return ""
    flips = [f"n = {sizes[j - 1]} and {sizes[j]}" for j in range(1, len(sizes)) if ahead[j] != ahead[j - 1]]
    between = f"change order between {' and between '.join(flips)}" if flips else "never change order"
    return f"they keep one order at n = {sizes[k - 1]} and {sizes[k]}, either side of that crossing, and {between}."


def _extrapolation(ca: LearningCurve, cb: LearningCurve, where: float | None, names: tuple[str, str]) -> str:
    """Why a fitted crossover is an extrapolation (it lies outside the sizes both curves were measured at; a fit with
    a negative asymptote alpha, which holds only over the sizes measured, is named then too), or ""."""
    measured = [c.n_range for c in (ca, cb) if c.n_range[0] > 0]
    if where is None or not measured:
        return ""
    lo, hi = max(m[0] for m in measured), min(m[1] for m in measured)
    if lo <= where <= hi:
        return ""
    reasons = [f"it lies outside the sizes both were measured at ({lo:g} to {hi:g})"]
    reasons += [
        f"{name}'s fit has a negative asymptote (α = {c.alpha:.2f})"
        for c, name in zip((ca, cb), names, strict=True)
        if c.alpha < 0
    ]
    return "The fitted crossing is an extrapolation: " + "; ".join(reasons) + "."


def without_curves(runs: Sequence[Run]) -> str:
    """The words under a chart of `runs`' training curves naming the regimes it leaves out because their runs have no
    epochs (the feature probe's one logistic-regression fit, a published figure), or "" when every regime is drawn."""
    missing = [REGIME_TITLES.get(k, k) for k, rs in by_regime(runs).items() if not any(r.history for r in rs)]
    return f" Not drawn, having no epochs: {', '.join(missing)}." if missing else ""


def crossovers(
    curves: dict[str, LearningCurve], n_min: float, n_max: float, runs: Sequence[Run] | None = None
) -> list[str]:
    """Sentences (Markdown) about where the fitted curves cross within [n_min, n_max]: fine-tuning vs the probe, and
    scratch vs each pretrained regime; each item's claim and its evidence on lines of their own. A crossing outside
    the measured sizes is labelled an extrapolation; with `runs`, each item also gives the measured means' order and
    where it flips (the evidence), and says so when the fit crosses between two sizes where the means do not."""
    probe = "probe" if "probe" in curves else "probe-features"
    title = REGIME_TITLES[probe]  # several linear probes on the page: say which one ("Linear probe (frozen encoder)")
    several = len({"probe", "probe-features", "random-probe"} & set(curves)) > 1
    probe_name = "the " + (title[0].lower() + title[1:] if several else "linear probe")
    pairs = [("finetune", probe, "fine-tuning", probe_name)]
    pairs += [("scratch", "finetune", "training from scratch", "fine-tuning")]
    pairs += [("scratch", probe, "training from scratch", probe_name)]
    out = [
        f"The {REGIME_TITLES[r].lower()} fit is unreliable: {c.unreliable}; no crossover is stated for it."
        for r, c in curves.items()
        if c.unreliable
    ]
    # regimes in a stated comparison whose fits run through 3 sizes: said once, before the crossings (a walk read
    # 'overtakes at about 14' from such fits as settled)
    named = {a: name_a for a, _, name_a, _ in pairs} | {b: name_b for _, b, _, name_b in pairs}
    careful = [named[r] for r in named if r in curves and curves[r].caveat and not curves[r].unreliable]
    if careful:
        listed = ", ".join(careful[:-1]) + " and " * (len(careful) > 1) + careful[-1]
        out.append(
            f"The fits for {listed} run through 3 sizes, as many as their parameters, so between the "
            "sizes measured their shape is not checked: read their crossings with care."
        )
    for a, b, name_a, name_b in pairs:
        if a not in curves or b not in curves or curves[a].unreliable or curves[b].unreliable:
            continue
        ca, cb = curves[a], curves[b]
        where = crossover(ca, cb, n_min, n_max)
        worse_first = float(ca.predict(n_min)) > float(cb.predict(n_min))
        disagree = fit_against_means(runs, a, b, where) if runs and where is not None else ""
        if disagree:  # the measurements first: a walk read the fitted crossing, then "the fit and the means disagree"
            verb = "overtakes" if worse_first else "falls behind"
            text = (
                f"The fitted curves say {name_a} {verb} {name_b} at about **{where:.0f}** images per class, but the "
                f"measured means do not: {disagree}"
            )
        # said of the fitted curves, as they are: the measured means follow on the next line, and a walk read "stays
        # behind at every n" above "Measured means: ... ahead from n = 10" as a contradiction
        elif where is not None and worse_first:
            text = f"On the fitted curves, {name_a} overtakes {name_b} at about **{where:.0f}** images per class."
        elif where is not None:
            text = f"On the fitted curves, {name_a} falls behind {name_b} from about **{where:.0f}** images per class."
        elif worse_first:
            text = f"On the fitted curves, {name_a} stays behind {name_b} at every n from {n_min:g} to {n_max:g}."
        else:
            text = f"On the fitted curves, {name_a} is ahead of {name_b} at every n from {n_min:g} to {n_max:g}."
        extra = [_extrapolation(ca, cb, where, (name_a, name_b)) if where is not None else ""]
        extra.append(measured_order(runs, a, b, name_a, name_b) if runs else "")
        # each part on a line of its own (Markdown line breaks): the claim first, then its evidence (a walk found one
        # run-on sentence of 60 words with nested parentheses hard to read)
        out.append("  \n".join([text, *(e for e in extra if e)]))
    return out


def chosen_setting(run: Run) -> str:
    """How a run's learning rate (or, for the feature probe, its C) was chosen on the validation split, in one
    line naming every candidate's validation error; empty for a run that chose nothing."""
    if not run.candidates:
        if run.lr_chosen_by_seed is None or run.lr is None:
            return ""
        own = run.val_error if run.val_error is not None else float("nan")
        return (
            f"Learning rate {run.lr:g}, chosen on the validation split by seed {run.lr_chosen_by_seed}'s run of this "
            f"regime and size (this run's validation error {own:.1f}%)."
        )
    name = "C" if run.C is not None else "lr"
    tried = ", ".join(f"{c[name]:g} ({c['val_error']:.1f}%)" for c in run.candidates)
    what = "C" if name == "C" else "Learning rate"
    best = min(c["val_error"] for c in run.candidates)
    tied = sum(c["val_error"] == best for c in run.candidates)
    # a walk read three equal errors and could not tell why one was chosen: the sweep keeps the first of a tie
    first = next(c[name] for c in run.candidates if c["val_error"] == best)
    strongest = name == "C" and first == min(c["C"] for c in run.candidates)
    why = " (the strongest regularisation)" if strongest else ""
    tie = f"; a tie of {tied} at {best:.1f}%: the first tried, {first:g}{why}, was kept" if tied > 1 else ""
    return f"{what} {getattr(run, name):g}, chosen on the validation split (error) from {tried}{tie}."


CSV_FIELDS = (
    "key",
    "regime",
    "n_per_class",
    "seed",
    "test_error",
    "test_loss",
    "lr",
    "C",
    "seconds",
    "images",
    "device",
)


def images_seen_text(run: Run, min_batches: int) -> str:
    """How many training images a trained run saw, and why a small set saw more than its size an epoch: an epoch is
    at least `min_batches` batches (a walk read "2,400 training images seen" for 20 images over 15 epochs and could
    not account for it)."""
    epochs = len(run.history)
    said = f"{run.images:,} training images seen in {run.seconds:.1f} s on {run.device}"
    if not epochs:
        return said + "."
    return (
        f"{said}: {run.images // epochs:,} an epoch for {counted(epochs, 'epoch')}. An epoch is at least "
        f"{counted(min_batches, 'batch', 'batches')}: a set of fewer images than that many batches hold is cycled "
        "within an epoch, not trained one step an epoch."
    )


def epoch_text(runs: Sequence[Run], min_batches: int, batch_size: int) -> str:
    """What an epoch is under the training curves of one size: how many images it trains on, and, where the set is
    smaller than one batch (so an epoch of at least `min_batches` batches cycles it that many times), that the first
    epoch's train accuracy already comes after that many passes over each image (a walk read 86% after one epoch at
    n = 1 as a miracle); "" when no run has epochs. A set of `batch_size` or more is cycled at most partly: no
    passes are claimed for it."""
    trained = [r for r in runs if r.history]
    if not trained:
        return ""
    per_epoch = sorted({r.images // len(r.history) for r in trained})
    shown = f"{per_epoch[0]:,}" if len(per_epoch) == 1 else f"{per_epoch[0]:,}-{per_epoch[-1]:,}"
    n = f"{trained[0].n_per_class:,} per class"
    if per_epoch[-1] >= min_batches * batch_size:
        least = counted(min_batches, "batch", "batches")
        return f" An epoch here trains on {shown} images at {n} (at least {least} of up to {batch_size})."
    # the set's images counted apart from the epoch's (a walk read "trains on 80 images" as 80 distinct ones)
    return (
        f" At {n} the training set is smaller than a batch, and an epoch is at least "
        f"{counted(min_batches, 'batch', 'batches')}: each epoch passes over every image {min_batches} times "
        f"({shown} images shown in all), so the first epoch's train accuracy already comes after those passes."
    )


def sweep_csv(runs: Sequence[Run]) -> str:
    """The sweep as one CSV, one row per run (its key, regime, size, seed, test error and loss, chosen rate or C,
    training seconds, images seen and device), sorted by regime, size and seed."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for run in sorted(runs, key=lambda r: (r.regime, r.n_per_class, r.seed)):
        row = run.to_dict()
        writer.writerow({k: row.get(k, "") for k in CSV_FIELDS})
    return out.getvalue()
