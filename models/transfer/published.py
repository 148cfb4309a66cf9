"""Hoiem et al.'s published measurements ("Learning Curves for Analysis of Deep Networks", ICML 2021, Figure
5(a): ResNet-18, ImageNet -> CIFAR-100), as a sweep the Transfer page opens like any other: their points, the
fits computed live, and the fits the paper states beside them.

The measurements are the authors' files `data/{no_pretr_linear,no_pretr_ft,pretr_linear,pretr_ft}.json` from
github.com/allenai/learning-curve, copied unchanged into `results/transfer/hoiem2021/published/`. Regenerate the
sweep from them with `python -m models.transfer.published`.
"""

from __future__ import annotations

from pathlib import Path

from models.files import read_json
from models.transfer.config import RESULTS, run_key, settings_hash
from models.transfer.records import SweepRecord, TransferRun

PUBLISHED = RESULTS / "hoiem2021"
SOURCE = "github.com/allenai/learning-curve, data/*.json"
CITATION = "Hoiem, Gupta, Li & Shlapentokh-Rothman, Learning Curves for Analysis of Deep Networks, ICML 2021, Fig. 5(a)"
# The authors' file for each curve, and the regime of this lab it corresponds to.
CURVES = {"no_pretr_linear": "random-probe", "no_pretr_ft": "scratch", "pretr_linear": "probe", "pretr_ft": "finetune"}
N = 400  # images per class of the full training set: the paper's e_N and beta_N are stated at N = 400
N_MIN = 25  # the smallest size the paper measured (its files: 25, 50, 100, 200, 400 per class)
# The fits the paper states (e_400, beta_400, gamma), per regime.
PUBLISHED_FITS = {
    "random-probe": {"e_N": 79.29, "beta_N": 1.32, "gamma": -0.84},
    "scratch": {"e_N": 27.91, "beta_N": 18.23, "gamma": -0.41},
    "probe": {"e_N": 32.42, "beta_N": 5.61, "gamma": -0.35},
    "finetune": {"e_N": 18.86, "beta_N": 7.28, "gamma": -0.57},
}


def measured_runs(folder: Path = PUBLISHED) -> list[TransferRun]:
    """One run record per published measurement (partition `seed` of size n), in the sweep's run format."""
    runs = []
    for name, regime in CURVES.items():
        for size in read_json(folder / "published" / f"{name}.json", list):
            n = int(size["num_train_samples"])
            for seed, error in enumerate(size["test_errors"]):
                runs.append(
                    TransferRun(
                        key=run_key(regime, n, seed),
                        regime=regime,
                        n_per_class=n,
                        seed=seed,
                        test_error=float(error),
                        test_loss=float("nan"),
                        device="published",
                        extra={"test_accuracy": 1.0 - float(error) / 100.0},
                    )
                )
    return runs


def write_sweep(folder: Path = PUBLISHED) -> int:
    """Write the sweep (sweep.json and one file per run) from the published files; returns the number of runs."""
    settings = {"task": "cifar100", "encoder": "resnet18", "published": SOURCE}
    runs = measured_runs(folder)
    SweepRecord(
        settings=settings,
        settings_hash=settings_hash(settings),
        published=CITATION,
        task_title="CIFAR-100 (100 classes, up to 400 training images each)",
        encoder_title="ResNet-18",
        encoder_source="ImageNet-pretrained, as in the paper",
        published_fits=PUBLISHED_FITS,
        regimes=tuple(CURVES.values()),
        sizes=tuple(sorted({r.n_per_class for r in runs})),
        seeds=max(r.seed for r in runs) + 1,
        commands=("python -m models.transfer.published",),
        extra={"source": SOURCE, "N": N},
    ).save(folder)
    for r in runs:
        r.save(folder)
    return len(runs)


if __name__ == "__main__":
    print(f"{write_sweep()} published runs written to {PUBLISHED}")
