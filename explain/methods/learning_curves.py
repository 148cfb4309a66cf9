"""Learning curves as in Hoiem et al., "Learning Curves for Analysis of Deep Networks" (ICML 2021).

e(n) = alpha + eta * n**gamma, with n the training images per class and e the test error in
percent. For a fixed gamma the model is linear in (alpha, eta) and is fitted by weighted least
squares; gamma is searched over [-1, 0) in steps of 0.01, minimising the weighted squared error plus
`penalty` * |gamma + 0.5| as the authors' fitter does (allenai/learning-curve, `lc/curve.py` with
`search_reg_coeff: 5` in its config), which keeps gamma from running to the edge of its grid on
few, noisy sizes; `penalty=0` is the plain grid search. With several seeds per n, the weights
come from a variance model sigma^2(n) = v0 + v1 / n fitted to the per-n sample variances, and the
same model gives the covariance of (alpha, eta), hence the 95% band. The fit is plain numpy: usable from a
notebook, no Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.transfer.published import PUBLISHED_FITS
from models.transfer.published import N as PAPER_N

GAMMAS = np.round(np.arange(-1.0, 0.0, 0.01), 2)
V0 = 0.02  # percent^2: the variance model's fixed floor (the paper's default), so no weight is infinite
MIN_SPAN = 4.0  # a curve fitted to sizes spanning less than this factor is not read (its gamma is not determined)
PENALTY = 5.0  # the authors' search_reg_coeff: the gamma search minimises objective + PENALTY * |gamma + 0.5|
PARAMETER_HELP = {  # the summary table's fitted columns, in words (a walk: their help only repeated the header)
    "alpha": "α: the error floor (% error) the curve tends to as n grows without end",
    "eta": "η: the curve's height above its floor at n = 1 (α + η there: an extrapolation unless n = 1 was measured)",
    "gamma": "γ: how fast the error falls with n (e = α + η n^γ; -0.5 is the textbook rate)",
    "e_N": "e_N: the fitted error at N images per class (the largest size measured, unless set)",
    "beta_N": "β_N: about the error four times fewer images would add at N (e(N/4) ≈ e_N + β_N, exact at γ = -0.5)",
}
PARAMETER_HEADERS = {  # the fitted columns' headers: the formula's letters and what each is (a walk met "alpha, eta,
    # gamma" in the table and α, η, γ in the formula, with no word on them in presenter mode)
    "alpha": "α floor",
    "eta": "η height",
    "gamma": "γ rate",
    "beta_N": "β_N",
}
FIT_HELP = (
    f"ok: more sizes than the curve's three parameters, spanning a factor of {MIN_SPAN:g} or more, and γ inside its "
    "searched range. ok in range: the same, but its error floor α is below zero, which no error can be, so it "
    "holds over the sizes measured only; beyond them it is an extrapolation (the note under the table). with care: "
    "it runs through 3 sizes, as many as its parameters, so none is left to check the curve's shape. unreliable: "
    "the sentence above the table says why; no crossover is stated for it; its curve is drawn faint, without a band."
)


@dataclass(frozen=True)
class LearningCurve:
    """A fitted learning curve; `N` is the training size per class its summary refers to."""

    alpha: float
    eta: float
    gamma: float
    N: float
    covariance: np.ndarray  # 2 x 2, of (alpha, eta) at this gamma
    v0: float = 0.0
    v1: float = 0.0
    objective: float = 0.0
    penalty: float = 0.0  # the gamma search's penalty the curve was fitted with (see `fit`)
    n_range: tuple[float, float] = (0.0, 0.0)  # the smallest and largest n measured (0, 0 for a published curve)
    sizes: int = 0  # how many distinct n were measured (0 for a published curve)

    @property
    def unreliable(self) -> str:
        """Why this fit should not be read (two sizes only: three parameters through two means, gamma then set by
        the search's penalty alone; gamma at the edge of its search grid; or sizes spanning less than a factor of
        MIN_SPAN), or "" when it may be. A published curve (no measured range) is taken as stated."""
        if 0 < self.sizes < 3:
            return f"measured at {self.sizes} sizes only: three parameters through {self.sizes} means"
        if self.n_range[0] > 0 and self.n_range[1] / self.n_range[0] < MIN_SPAN:
            return f"its sizes span less than a factor of {MIN_SPAN:g} ({self.n_range[0]:g} to {self.n_range[1]:g})"
        if self.n_range[0] > 0 and self.gamma in (GAMMAS[0], GAMMAS[-1]):
            return f"γ = {self.gamma:g} is at the edge of the searched range [-1, 0)"
        return ""

    @property
    def weighted(self) -> bool:
        """Whether the fit's errors were weighted by the variance model (replicate seeds at some size); without
        them every weight is 1, and the penalty on γ, set for the authors' variance-weighted errors, weighs
        against squared percentages instead."""
        return not (self.v0 == 0.0 and self.v1 == 0.0)

    @property
    def caveat(self) -> str:
        """What to bear in mind when reading a fit that may be read, or "": three sizes are as many as the curve's
        parameters, so no size is left to check its shape (a walk found such a fit marked 'ok')."""
        if self.sizes != 3:
            return ""
        return "it runs through 3 sizes, as many as its parameters, so no size is left to check its shape"

    @property
    def verdict(self) -> str:
        """The summary table's short word on the fit, FIT_HELP saying what each means (the reasons, longer, were cut
        off at 1280 px): "unreliable" (why is a sentence of `crossovers`, above the table), "with care" (3 sizes),
        "ok in range" for a floor below zero (two walks read a bare 'ok' beside a negative α as 'trust it beyond the
        sizes too'; a third read 'ok, α < 0' beside the note that no error is negative as a contradiction), or
        "ok"."""
        if self.unreliable:
            return "unreliable"
        if self.caveat:
            return "with care"
        return "ok in range" if self.sizes and self.alpha < 0 else "ok"

    def predict(self, n: float | np.ndarray) -> np.ndarray:
        """Predicted test error (percent) at `n` training images per class."""
        return self.alpha + self.eta * np.asarray(n, dtype=float) ** self.gamma

    def std(self, n: float | np.ndarray) -> np.ndarray:
        """Standard deviation of the fitted curve at `n`, from the covariance of (alpha, eta)."""
        basis = np.stack([np.ones_like(np.asarray(n, dtype=float)), np.asarray(n, dtype=float) ** self.gamma], -1)
        return np.sqrt(np.maximum(np.einsum("...i,ij,...j->...", basis, self.covariance, basis), 0.0))

    def band(self, n: float | np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
        """The 95% band (by default) of the fitted curve at `n`: (lower, upper)."""
        mid, half = self.predict(n), z * self.std(n)
        return mid - half, mid + half

    @property
    def e_N(self) -> float:
        """Predicted error at N images per class."""
        return float(self.predict(self.N))

    @property
    def beta_N(self) -> float:
        """The slope of the curve against n^-1/2 at N, times N^-1/2: -2 eta gamma N^gamma, so that
        e(N/4) ~ e_N + beta_N (four times less data costs about beta_N points of error)."""
        return float(-2.0 * self.eta * self.gamma * self.N**self.gamma)


def variance_model(n: np.ndarray, errors: np.ndarray, v0: float = V0) -> tuple[float, float]:
    """(v0, v1) of sigma^2(n) = v0 + v1/n. As in the paper's code (allenai/learning-curve, lc/variance.py), v0 is
    a small fixed floor and v1 the least-squares slope of (sample variance - v0) against 1/n, each n weighted by its
    degrees of freedom. One departure: v1 is clipped at 0, where their code keeps a negative slope, which makes the
    variance at small n fall below the floor, even negative, as a fit's weight cannot be. (0, 0) when no n has two
    measurements. The shipped and published fits have a positive slope: the clip does not change them."""
    x, v, dof = [], [], []
    for value in np.unique(n):
        e = errors[n == value]
        if len(e) > 1:
            x.append(1.0 / value)
            v.append(np.var(e, ddof=1) - v0)
            dof.append(len(e) - 1)
    if not x:
        return 0.0, 0.0
    x, v, dof = np.asarray(x), np.asarray(v), np.asarray(dof, dtype=float)
    return v0, max(0.0, float(np.sum(dof * v * x) / np.sum(dof * x * x)))


def _fit_at(n: np.ndarray, e: np.ndarray, var: np.ndarray, counts: np.ndarray, gamma: float):
    """Weighted least squares of (alpha, eta) at a fixed gamma: parameters, covariance, objective."""
    a = np.stack([np.ones_like(n), n**gamma], 1)
    w = 1.0 / (var * counts)  # each n counts once, however many seeds measured it
    sw = np.sqrt(w)
    m = np.linalg.pinv(a * sw[:, None]) * sw[None, :]
    params = m @ e
    cov = m @ np.diag(var) @ m.T
    objective = float(np.sum(w * (e - a @ params) ** 2))
    return params, cov, objective


def fit(
    n: np.ndarray | list[float], errors: np.ndarray | list[float], N: float | None = None, penalty: float = PENALTY
) -> LearningCurve:
    """Fit e(n) = alpha + eta n^gamma to test errors (percent) measured at n images per class.

    `n` and `errors` are parallel arrays, one entry per trained model (repeat n for seeds). `N`
    defaults to the largest n. Needs at least two distinct n. With a single measurement per n,
    all weights are equal and the band comes from the residual variance. gamma minimises the
    weighted squared error plus `penalty` * |gamma + 0.5| (the authors' default 5; 0 for the plain grid).
    """
    n = np.asarray(n, dtype=float)
    e = np.asarray(errors, dtype=float)
    if n.shape != e.shape or n.ndim != 1:
        raise ValueError("n and errors must be 1-D arrays of the same length")
    if len(np.unique(n)) < 2:
        raise ValueError("a learning curve needs measurements at two or more training sizes")
    if (n <= 0).any():
        raise ValueError("training sizes must be positive")
    N = float(n.max() if N is None else N)
    counts = np.array([np.sum(n == value) for value in n], dtype=float)
    v0, v1 = variance_model(n, e)
    var = np.ones_like(n) if v0 == 0.0 and v1 == 0.0 else v0 + v1 / n
    best = min(((*_fit_at(n, e, var, counts, g), g) for g in GAMMAS), key=lambda r: r[2] + penalty * abs(r[3] + 0.5))
    params, cov, objective, gamma = best
    if v0 == 0.0 and v1 == 0.0 and len(n) > 2:  # no replicate seeds: scale by the residual variance
        a = np.stack([np.ones_like(n), n**gamma], 1)
        cov = cov * float(np.sum((e - a @ params) ** 2) / (len(n) - 2))
    return LearningCurve(
        alpha=float(params[0]),
        eta=float(params[1]),
        gamma=float(gamma),
        N=N,
        covariance=cov,
        v0=v0,
        v1=v1,
        objective=objective,
        penalty=penalty,
        n_range=(float(n.min()), float(n.max())),
        sizes=len(np.unique(n)),
    )


def from_summary(e_N: float, beta_N: float, gamma: float, N: float) -> LearningCurve:
    """The curve with the given published summary (e_N, beta_N, gamma at N), e.g. a paper's fit."""
    eta = -beta_N / (2.0 * gamma * N**gamma)
    return LearningCurve(alpha=e_N - eta * N**gamma, eta=eta, gamma=gamma, N=N, covariance=np.zeros((2, 2)))


# Hoiem et al. 2021, Figure 5(a): ResNet-18, ImageNet -> CIFAR-100, N = 400 images per class; the published
# numbers are kept once, with the shipped measurements, in models.transfer.published.
PAPER_NAMES = {
    "random-probe": "no pretraining, linear",
    "scratch": "no pretraining, fine-tune",
    "probe": "pretrained, linear",
    "finetune": "pretrained, fine-tune",
}
PAPER_FITS: dict[str, LearningCurve] = {
    name: from_summary(**PUBLISHED_FITS[regime], N=PAPER_N) for regime, name in PAPER_NAMES.items()
}


def crossover(a: LearningCurve, b: LearningCurve, n_min: float, n_max: float) -> float | None:
    """The smallest n in [n_min, n_max] where curve `a` stops being worse than `b`, or None when the
    order of the two never changes there. Searched on a fine log grid, refined by bisection."""
    grid = np.geomspace(n_min, n_max, 2000)
    diff = a.predict(grid) - b.predict(grid)
    change = np.nonzero(np.sign(diff[:-1]) != np.sign(diff[1:]))[0]
    if len(change) == 0:
        return None
    lo, hi = grid[change[0]], grid[change[0] + 1]
    for _ in range(50):
        mid = np.sqrt(lo * hi)
        same = np.sign(a.predict(mid) - b.predict(mid)) == np.sign(diff[change[0]])
        lo, hi = (mid, hi) if same else (lo, mid)
    return float(np.sqrt(lo * hi))
