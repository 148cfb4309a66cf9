"""Download every classifier's pretrained weights into the torch hub cache (for baking an image).

python -m models.train.fetch_weights [NAME ...]
"""

from __future__ import annotations

import sys

from models.classifiers import CLASSIFIERS
from models.hub import weights_cache


def main(names: list[str]) -> int:
    failed = 0
    for name in names or [n for n, s in CLASSIFIERS.items() if s.weights is not None]:
        weights = CLASSIFIERS[name].weights
        if weights is None or weights_cache.is_cached(weights):
            print(f"{name}: nothing to fetch")
            continue
        try:
            path = weights_cache.download(weights, lambda done, total, n=name: print(f"\r{n}: {done >> 20} MB", end=""))
            print(f"\r{name}: {path}")
        except weights_cache.WeightsUnavailable as exc:
            print(f"\r{name}: {exc}")
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
