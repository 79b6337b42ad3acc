"""Paired statistics for comparing two runs on the same examples.

The gate works on per-example differences (candidate - baseline on the same example id), which
cancel the example-to-example variance that dominates an unpaired comparison of two means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

DEFAULT_RESAMPLES = 10_000
_CHUNK = 1_000


@dataclass(frozen=True)
class ConfidenceInterval:
    """A two-sided interval for the mean of the paired differences."""

    low: float
    high: float
    confidence: float


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's exact test on paired pass/fail outcomes.

    ``lost`` counts examples the baseline passed and the candidate failed; ``gained`` the reverse.
    """

    lost: int
    gained: int
    p_value: float


def paired_differences(candidate: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Per-example ``candidate - baseline`` (arrays aligned on example id)."""
    candidate = np.asarray(candidate, dtype=float)
    baseline = np.asarray(baseline, dtype=float)
    if candidate.shape != baseline.shape or candidate.ndim != 1:
        raise ValueError("candidate and baseline must be 1-D arrays of the same length")
    return candidate - baseline


def paired_bootstrap_ci(
    differences: np.ndarray,
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> ConfidenceInterval:
    """Percentile bootstrap CI of the mean paired difference (resampling examples, seeded)."""
    diffs = np.asarray(differences, dtype=float)
    if diffs.size == 0:
        raise ValueError("need at least one paired difference")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if np.all(diffs == diffs[0]):
        value = float(diffs[0])
        return ConfidenceInterval(low=value, high=value, confidence=confidence)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples, dtype=float)
    n = diffs.size
    for start in range(0, resamples, _CHUNK):
        stop = min(start + _CHUNK, resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = diffs[idx].mean(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return ConfidenceInterval(low=float(low), high=float(high), confidence=confidence)


def mcnemar_exact(candidate: np.ndarray, baseline: np.ndarray) -> McNemarResult:
    """McNemar's exact (binomial) two-sided test for paired 0/1 outcomes."""
    cand = np.asarray(candidate, dtype=float)
    base = np.asarray(baseline, dtype=float)
    if not (is_binary(cand) and is_binary(base)):
        raise ValueError("McNemar's test needs 0/1 outcomes")
    lost = int(np.sum((base == 1) & (cand == 0)))
    gained = int(np.sum((base == 0) & (cand == 1)))
    discordant = lost + gained
    if discordant == 0:
        return McNemarResult(lost=0, gained=0, p_value=1.0)
    p_value = scipy_stats.binomtest(min(lost, gained), discordant, 0.5).pvalue
    return McNemarResult(lost=lost, gained=gained, p_value=float(min(1.0, p_value)))


def mcnemar_exact_ci(
    candidate: np.ndarray, baseline: np.ndarray, *, confidence: float = 0.95
) -> ConfidenceInterval:
    """Exact CI of the paired difference in pass rate (candidate - baseline) for 0/1 outcomes.

    Conditional on the D discordant pairs, ``gained ~ Binomial(D, p)`` and the difference is
    ``D/n * (2p - 1)``; the Clopper-Pearson interval for ``p`` maps onto it. The interval excludes
    0 exactly when McNemar's exact test rejects at ``1 - confidence``, so the two never disagree
    (a percentile bootstrap is anti-conservative with few discordant pairs).
    """
    cand = np.asarray(candidate, dtype=float)
    base = np.asarray(baseline, dtype=float)
    result = mcnemar_exact(cand, base)
    discordant = result.lost + result.gained
    if discordant == 0:
        return ConfidenceInterval(low=0.0, high=0.0, confidence=confidence)
    ci = scipy_stats.binomtest(result.gained, discordant, 0.5).proportion_ci(
        confidence_level=confidence, method="exact"
    )
    scale = discordant / cand.size
    return ConfidenceInterval(
        low=float(scale * (2 * ci.low - 1)),
        high=float(scale * (2 * ci.high - 1)),
        confidence=confidence,
    )


def paired_t_pvalue(differences: np.ndarray) -> float | None:
    """Two-sided one-sample t-test p-value of the paired differences (None when undefined)."""
    diffs = np.asarray(differences, dtype=float)
    if diffs.size < 2:
        return None
    if np.ptp(diffs) <= 1e-12 * max(1.0, float(np.abs(diffs).max())):  # (nearly) constant
        return None if abs(diffs[0]) <= 1e-12 else 0.0
    return float(scipy_stats.ttest_1samp(diffs, 0.0).pvalue)


def welch_pvalue(candidate: np.ndarray, baseline: np.ndarray) -> float | None:
    """Unpaired Welch t-test p-value: what a comparison that ignores the pairing would say."""
    cand = np.asarray(candidate, dtype=float)
    base = np.asarray(baseline, dtype=float)
    if cand.size < 2 or base.size < 2:
        return None
    if cand.std() == 0 and base.std() == 0:
        return None if cand.mean() == base.mean() else 0.0
    return float(scipy_stats.ttest_ind(cand, base, equal_var=False).pvalue)


def is_binary(values: np.ndarray) -> bool:
    """True when every value is 0 or 1."""
    array = np.asarray(values, dtype=float)
    return bool(array.size) and bool(np.all((array == 0.0) | (array == 1.0)))
