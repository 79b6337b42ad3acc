"""Simulated A/A and A/B gates: how often the gate fails a candidate that is no worse, and how
often it catches one that is worse by twice the margin.

The simulation calls the gate's own interval and decision functions (`evals.inference`), on
thousands of simulated pairs at once; a gate of one metric has no Holm step, so this is exactly
the decision `evals.gate.compare_runs` makes for it.

Continuous metric: each example has a difficulty d ~ U(0.2, 0.8); a run scores d + N(0, 0.15)
(the candidate minus the drop). 0/1 metric: each example passes with p ~ U(0.3, 1.0) in the
baseline and p - drop in the candidate, independently given p.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from evals.inference import bca_interval, classify, paired_counts, tango_interval

Kind = Literal["continuous", "binary"]
NOISE_SD = 0.15


@dataclass(frozen=True)
class Rates:
    """Share of simulated gates that ended in each status."""

    fail: float
    passed: float
    undecided: float
    pairs: int


def simulate_pairs(
    kind: Kind, *, n: int, pairs: int, drop: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``(baseline, candidate)`` score arrays of shape (pairs, n)."""
    if kind == "continuous":
        difficulty = rng.uniform(0.2, 0.8, size=(pairs, n))
        base = difficulty + rng.normal(0, NOISE_SD, size=(pairs, n))
        cand = difficulty - drop + rng.normal(0, NOISE_SD, size=(pairs, n))
        return base, cand
    p = rng.uniform(0.3, 1.0, size=(pairs, n))
    base = (rng.random((pairs, n)) < p).astype(float)
    cand = (rng.random((pairs, n)) < p - drop).astype(float)
    return base, cand


def gate_statuses(
    kind: Kind,
    base: np.ndarray,
    cand: np.ndarray,
    *,
    margin: float,
    confidence: float = 0.95,
    resamples: int = 9_999,
    seed: int = 0,
) -> np.ndarray:
    """The gate's status for each simulated pair (rows), higher-is-better metric."""
    if kind == "continuous":
        ci = bca_interval(cand - base, confidence=confidence, resamples=resamples, seed=seed)
    else:
        gained, lost, n = paired_counts(cand, base)
        ci = tango_interval(gained, lost, n, confidence=confidence)
    return classify(ci.low, ci.high, margin)


def rates(
    kind: Kind,
    *,
    n: int,
    pairs: int,
    drop: float,
    margin: float,
    seed: int = 0,
    resamples: int = 9_999,
) -> Rates:
    """Fail/pass/undecided shares over ``pairs`` simulated gates."""
    rng = np.random.default_rng(seed)
    base, cand = simulate_pairs(kind, n=n, pairs=pairs, drop=drop, rng=rng)
    statuses = gate_statuses(kind, base, cand, margin=margin, resamples=resamples, seed=seed)
    return Rates(
        fail=float(np.mean(statuses == "fail")),
        passed=float(np.mean(statuses == "pass")),
        undecided=float(np.mean(statuses == "undecided")),
        pairs=pairs,
    )
