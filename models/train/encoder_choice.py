"""Choose the transfer lab's pretraining source on the digits' validation split, never on their test set.

    python -m models.train.encoder_choice            # glyphs against fractals at one scale (about 10 min on 2 cores)
    python -m models.train.encoder_choice --categories 20 --per-category 10 --epochs 1 --out /tmp/x   # a quick try

Each source pretrains the same half-width ResNet-18 with the same budget (`python -m models.train.encoder`);
then a logistic-regression probe on its frozen features (the sweep's feature probe, C chosen on validation)
is scored on the validation split at several sizes and seeds. The source with the lower mean validation
error is the choice; test errors are reported beside it, not used. Results go to
results/transfer/encoder_choice.json.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import torch

from models.devices import best_device
from models.files import PROJECT, write_json_atomic
from models.nets.resnet import ResNet18
from models.train import encoder as pretrain
from models.train.cli import command_parser
from models.transfer import Encoder, feature_probe, load_task, subset

OUT = PROJECT / "results" / "transfer" / "encoder_choice.json"


def probe_scores(encoder: Encoder, sizes: tuple[int, ...], seeds: int) -> list[dict[str, float]]:
    """The feature probe of `encoder` on the digits: per (n, seed), its validation error (best C) and test error."""
    task, device = load_task("digits"), best_device()
    rows = []
    for n in sizes:
        for seed in range(seeds):
            out = feature_probe(task, encoder, subset(task.y_train, n, seed), device)
            val = min(c["val_error"] for c in out["candidates"])
            rows.append({"n": n, "seed": seed, "val_error": val, "test_error": 100.0 * (1 - out["test_accuracy"])})
    return rows


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = command_parser("models.train.encoder_choice", __doc__)
    ap.add_argument("--sources", default="glyphs,fractals", help="comma-separated pretraining sources to compare")
    ap.add_argument("--categories", type=int, default=400, help="generated classes per source")
    ap.add_argument("--per-category", type=int, default=75, help="training images per class")
    ap.add_argument("--epochs", type=int, default=10, help="pretraining passes")
    ap.add_argument("--sizes", default="1,5,20,101", help="digits per class the probe trains on")
    ap.add_argument("--seeds", type=int, default=3, help="training windows per size")
    ap.add_argument("--out", default=str(OUT), help="where the comparison is written (JSON)")
    args = ap.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(","))
    results: dict[str, object] = {
        "sources": {},
        "categories": args.categories,
        "per_category": args.per_category,
        "epochs": args.epochs,
        "sizes": list(sizes),
        "seeds": args.seeds,
    }
    for source in args.sources.split(","):
        t0 = time.time()
        with tempfile.TemporaryDirectory() as tmp:
            budget = [
                "--source",
                source,
                "--categories",
                str(args.categories),
                "--per-category",
                str(args.per_category),
            ]
            accuracy = pretrain.main([*budget, "--epochs", str(args.epochs), "--out", tmp])
            name = pretrain.NAME.format(source=source)
            state = torch.load(Path(tmp) / f"{name}.pt", map_location="cpu", weights_only=True)  # written just now
        encoder = Encoder(f"{name}-choice", name, partial(ResNet18, args.categories, width=0.5), state, "trained here")
        rows = probe_scores(encoder, sizes, args.seeds)
        results["sources"][source] = {
            "pretrain_accuracy": accuracy,
            "mean_val_error": statistics.fmean(r["val_error"] for r in rows),
            "mean_test_error": statistics.fmean(r["test_error"] for r in rows),
            "runs": rows,
            "seconds": time.time() - t0,
        }
    scores = results["sources"]
    results["chosen"] = min(scores, key=lambda s: scores[s]["mean_val_error"])
    write_json_atomic(Path(args.out), results)
    for source, score in scores.items():
        by_n = {n: statistics.fmean(r["val_error"] for r in score["runs"] if r["n"] == n) for n in sizes}
        shown = "  ".join(f"n={n}: {e:.1f}%" for n, e in by_n.items())
        print(
            f"{source:>9}: validation error {shown}; mean {score['mean_val_error']:.1f}% "
            f"(test {score['mean_test_error']:.1f}%)"
        )
    print(f"chosen on validation: {results['chosen']}; written to {args.out}")
    return results


if __name__ == "__main__":
    main()
