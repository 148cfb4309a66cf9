"""The formula-driven pretraining sources: pure functions of their seed, images in range, categories distinct."""

from __future__ import annotations

import numpy as np
import pytest

from models.data import fractals, glyphs


@pytest.mark.parametrize("source", [glyphs, fractals], ids=["glyphs", "fractals"])
def test_sources_are_seeded_and_well_formed(source) -> None:
    cats = source.categories(5, seed=3)
    x, y = source.instances(cats, 4, seed=7, size=32)
    x2, _ = source.instances(source.categories(5, seed=3), 4, seed=7, size=32)
    assert x.shape == (20, 32, 32) and x.dtype == np.float32
    assert np.array_equal(x, x2)
    assert y.tolist() == [c for c in range(5) for _ in range(4)]
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert (x.reshape(20, -1).max(1) > 0.5).all()  # every image has ink
    other, _ = source.instances(cats, 4, seed=8, size=32)
    assert not np.array_equal(x, other)


def test_fractal_categories_pass_the_fill_filter() -> None:
    rng = np.random.default_rng(0)
    for a, b in fractals.categories(5, seed=1):
        assert np.linalg.norm(a, ord=2, axis=(1, 2)).max() < 0.95  # contractive maps
        assert fractals.fill_rate(a, b, rng) >= fractals.MIN_FILL * 0.7  # a fresh draw of the same attractor
