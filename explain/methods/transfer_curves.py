"""What the transfer page concludes from a sweep's run records: runs grouped by regime, a fitted learning curve
per regime (Hoiem et al. 2021), the summary table and where two regimes' curves cross."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from explain.methods.learning_curves import LearningCurve, crossover, fit
from models.transfer import REGIMES as REGIME_TITLES

Run = dict[str, Any]


def by_regime(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs grouped by regime, in the order of REGIME_TITLES."""
    groups: dict[str, list[Run]] = defaultdict(list)
    for r in runs:
        groups[r["regime"]].append(r)
    return {k: sorted(groups[k], key=lambda r: (r["n_per_class"], r["seed"])) for k in REGIME_TITLES if k in groups}


def fit_curves(runs: Sequence[Run], N: float | None = None) -> dict[str, LearningCurve]:
    """One fitted learning curve per regime that has measurements at two or more sizes."""
    curves = {}
    for regime, rs in by_regime(runs).items():
        n = np.array([r["n_per_class"] for r in rs], dtype=float)
        if len(np.unique(n)) >= 2:
            curves[regime] = fit(n, [r["test_error"] for r in rs], N=N)
    return curves


def summary_rows(runs: Sequence[Run], curves: dict[str, LearningCurve]) -> list[dict[str, Any]]:
    """The table under the learning curves: fitted parameters and measured errors, one row per regime."""
    rows = []
    for regime, rs in by_regime(runs).items():
        sizes = sorted({r["n_per_class"] for r in rs})
        err = {n: np.mean([r["test_error"] for r in rs if r["n_per_class"] == n]) for n in sizes}
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
                }
            )
        row[f"measured error at n={sizes[0]} (%)"] = round(float(err[sizes[0]]), 2)
        row[f"measured error at n={sizes[-1]} (%)"] = round(float(err[sizes[-1]]), 2)
        rows.append(row)
    return rows


def crossovers(curves: dict[str, LearningCurve], n_min: float, n_max: float) -> list[str]:
    """Sentences about where the fitted curves cross within [n_min, n_max]: fine-tuning vs the probe,
    and scratch vs each pretrained regime."""
    probe = "probe" if "probe" in curves else "probe-features"
    pairs = [("finetune", probe, "fine-tuning", "the linear probe")]
    pairs += [("scratch", "finetune", "training from scratch", "fine-tuning")]
    pairs += [("scratch", probe, "training from scratch", "the linear probe")]
    out = []
    for a, b, name_a, name_b in pairs:
        if a not in curves or b not in curves:
            continue
        ca, cb = curves[a], curves[b]
        where = crossover(ca, cb, n_min, n_max)
        worse_first = float(ca.predict(n_min)) > float(cb.predict(n_min))
        if where is not None and worse_first:
            out.append(f"{name_a.capitalize()} overtakes {name_b} at about **{where:.0f}** images per class.")
        elif where is not None:
            out.append(f"{name_a.capitalize()} falls behind {name_b} from about **{where:.0f}** images per class.")
        elif worse_first:
            out.append(f"{name_a.capitalize()} stays behind {name_b} at every n from {n_min:g} to {n_max:g}.")
        else:
            out.append(f"{name_a.capitalize()} is ahead of {name_b} at every n from {n_min:g} to {n_max:g}.")
    return out
