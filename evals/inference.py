"""The gate's inference: paired intervals, the regression p-value, Holm, the detectable drop.

Every function takes arrays whose last axis runs over examples, so the gate (one metric at a
time) and the calibration benchmark (thousands of simulated pairs at once) run the same code.

* Continuous metrics: BCa bootstrap interval of the mean paired difference
  (``scipy.stats.bootstrap(method="BCa")``), which corrects the percentile interval's bias and
  skew; the p-value of "a drop beyond the margin" is a one-sided paired t-test.
* 0/1 metrics: Tango's score interval for a difference of paired proportions (Tango 1998), the
  inversion of a score test that keeps its coverage with few discordant pairs, where the
  conditional McNemar interval falls short; its score test gives the p-value.
* Holm's step-down across the gated metrics, for the regression ("fail") decisions.
* The smallest drop a run of this size and spread can detect at 80% power.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats
from scipy.special import ndtr, ndtri

POWER = 0.80


@dataclass(frozen=True)
class Interval:
    """A two-sided interval of candidate - baseline (arrays in the batch case)."""

    low: np.ndarray
    high: np.ndarray
    confidence: float


def bca_interval(
    differences: np.ndarray, *, confidence: float, resamples: int, seed: int
) -> Interval:
    """BCa bootstrap interval of the mean paired difference, per row of ``differences``.

    Rows whose differences are all equal have no sampling spread to resample: their interval is
    that value (scipy would return NaN for them).
    """
    diffs = np.atleast_2d(np.asarray(differences, dtype=float))
    low = diffs.mean(axis=-1)
    high = low.copy()
    spread = np.ptp(diffs, axis=-1) > 1e-12
    if spread.any():
        result = scipy_stats.bootstrap(
            (diffs[spread],),
            np.mean,
            axis=-1,
            vectorized=True,
            n_resamples=resamples,
            confidence_level=confidence,
            method="BCa",
            rng=np.random.default_rng(seed),
            batch=max(1, 2_000_000 // max(1, diffs[spread].size)),
        )
        low[spread] = result.confidence_interval.low
        high[spread] = result.confidence_interval.high
    # BCa can come out NaN when the bootstrap distribution is (nearly) degenerate.
    low = np.where(np.isnan(low), diffs.min(axis=-1), low)
    high = np.where(np.isnan(high), diffs.max(axis=-1), high)
    shape = np.shape(differences)[:-1]
    return Interval(low=low.reshape(shape), high=high.reshape(shape), confidence=confidence)


def t_regression_pvalue(differences: np.ndarray, *, margin: float) -> np.ndarray:
    """One-sided p-value of H0 "the mean gain is at least -margin" (small = a drop beyond it)."""
    diffs = np.atleast_2d(np.asarray(differences, dtype=float))
    n = diffs.shape[-1]
    mean = diffs.mean(axis=-1)
    sd = diffs.std(axis=-1, ddof=1) if n > 1 else np.zeros_like(mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (mean + margin) / (sd / np.sqrt(n))
    p = np.where(
        sd > 1e-12, scipy_stats.t.cdf(t, df=max(n - 1, 1)), np.where(mean < -margin, 0.0, 1.0)
    )
    return p.reshape(np.shape(differences)[:-1])


def paired_counts(
    candidate: np.ndarray, baseline: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """``(gained, lost, n)`` of paired 0/1 outcomes: gained = baseline 0 -> candidate 1."""
    cand = np.asarray(candidate, dtype=float)
    base = np.asarray(baseline, dtype=float)
    gained = np.sum((cand == 1) & (base == 0), axis=-1)
    lost = np.sum((cand == 0) & (base == 1), axis=-1)
    return gained, lost, cand.shape[-1]


def tango_z(gained: np.ndarray, lost: np.ndarray, n: int, delta0: float | np.ndarray) -> np.ndarray:
    """Tango's score statistic for H0: p(candidate) - p(baseline) = delta0 on paired 0/1 data.

    ``q`` is the restricted maximum-likelihood estimate of P(lost) under H0; Z falls as
    ``delta0`` rises, so the interval is where |Z| < z.
    """
    g = np.asarray(gained, dtype=float)
    lo = np.asarray(lost, dtype=float)
    d = np.asarray(delta0, dtype=float)
    w = -g - lo + (2 * n - g + lo) * d
    q = (np.sqrt(np.maximum(w * w + 8 * n * lo * d * (1 - d), 0.0)) - w) / (4 * n)
    var = n * (2 * q + d * (1 - d))
    num = g - lo - n * d
    with np.errstate(divide="ignore", invalid="ignore"):
        z = num / np.sqrt(var)
    return np.where(var > 1e-15, z, np.where(np.abs(num) < 1e-12, 0.0, np.sign(num) * np.inf))


def tango_interval(gained: np.ndarray, lost: np.ndarray, n: int, *, confidence: float) -> Interval:
    """Tango's score interval for the paired difference in pass rate (bisection, vectorised)."""
    g = np.asarray(gained, dtype=float)
    lo = np.asarray(lost, dtype=float)
    z = float(ndtri(1 - (1 - confidence) / 2))
    estimate = (g - lo) / n

    def solve(target: float, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        # Z(start) - target and Z(stop) - target have opposite signs (or the bound is the edge).
        a, b = start.copy(), stop.copy()
        for _ in range(60):
            mid = (a + b) / 2
            above = tango_z(g, lo, n, mid) > target
            a = np.where(above, mid, a)
            b = np.where(above, b, mid)
        return (a + b) / 2

    edge = 1 - 1e-12
    low = np.where(
        tango_z(g, lo, n, -edge) > z, solve(z, np.full_like(estimate, -edge), estimate), -1.0
    )
    high = np.where(
        tango_z(g, lo, n, edge) < -z, solve(-z, estimate, np.full_like(estimate, edge)), 1.0
    )
    return Interval(low=low, high=high, confidence=confidence)


def tango_regression_pvalue(
    gained: np.ndarray, lost: np.ndarray, n: int, *, margin: float, direction: str = "higher"
) -> np.ndarray:
    """One-sided p-value of H0 "the pass rate fell by at most ``margin``" (score test)."""
    if direction == "higher":
        return ndtr(tango_z(gained, lost, n, -margin))
    return 1 - ndtr(tango_z(gained, lost, n, margin))


def holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values (same order as given)."""
    k = len(p_values)
    order = sorted(range(k), key=lambda i: p_values[i])
    adjusted = [1.0] * k
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (k - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def holm_confidences(confidence: float, k: int) -> list[float]:
    """The two-sided confidence of each Holm step: 1 - alpha/k, 1 - alpha/(k-1), ..."""
    alpha = 1 - confidence
    return [1 - alpha / (k - step) for step in range(k)]


def detectable_drop(
    sd: float, n: int, *, margin: float, confidence: float, tests: int = 1
) -> float | None:
    """The smallest true drop the gate fails with 80% power.

    The gate fails a metric when the upper end of its interval (at the most stringent Holm
    level, 1 - alpha/tests) lies below -margin, so a drop D is seen when
    D >= margin + (t_{1-alpha/(2 tests)} + t_power) * sd / sqrt(n). None without spread.
    """
    if n < 2 or sd <= 0:
        return None
    alpha = (1 - confidence) / tests
    # Student t quantiles (n - 1 degrees of freedom): at small n the normal ones promise too much.
    z = float(scipy_stats.t.ppf(1 - alpha / 2, n - 1) + scipy_stats.t.ppf(POWER, n - 1))
    return margin + z * sd / float(np.sqrt(n))


def classify(
    gain_low: np.ndarray | float, gain_high: np.ndarray | float, margin: float
) -> np.ndarray:
    """The decision rule, on the interval of the gain (candidate better = positive).

    fail: the whole interval lies below -margin (a drop beyond the margin);
    pass: none of it does (no drop beyond the margin); undecided otherwise.
    """
    low = np.asarray(gain_low, dtype=float)
    high = np.asarray(gain_high, dtype=float)
    return np.where(high < -margin, "fail", np.where(low >= -margin, "pass", "undecided"))
