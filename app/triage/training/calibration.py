"""Calibrated probabilities and an abstention threshold that means something.

Both are fitted on out-of-fold probabilities (cases the model did not train on):

- `fit_temperature` picks the temperature T that minimises the negative log-likelihood of the
  true subcategory under p ** (1/T);
- `risk_coverage` gives, for each threshold on the chosen label's calibrated probability, the
  share of cases left unflagged and the accuracy on them;
- `choose_threshold` takes the lowest threshold whose unflagged cases reach the target category
  accuracy while flagging at most `max_flagged`; if none does, the threshold that flags exactly
  `max_flagged`, and says the target was missed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from app.cases.schemas import SUBCATEGORIES
from app.triage.classifier import calibrate
from app.triage.decision import choose_subcategory
from app.triage.ladder import category_of

TEMPERATURES = np.round(np.arange(0.4, 3.01, 0.05), 2)
TARGET_CATEGORY_ACCURACY = 0.95
MAX_FLAGGED = 0.20


def fit_temperature(probs: np.ndarray, labels: Sequence[str]) -> float:
    """The temperature that minimises out-of-fold negative log-likelihood."""
    truth = np.array([SUBCATEGORIES.index(label) for label in labels])
    best_t, best_nll = 1.0, float("inf")
    for t in TEMPERATURES:
        calibrated = calibrate(probs, float(t))
        nll = -float(np.mean(np.log(np.clip(calibrated[np.arange(len(truth)), truth], 1e-12, 1))))
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def expected_calibration_error(probs: np.ndarray, labels: Sequence[str], bins: int = 10) -> float:
    """ECE of the top subcategory's probability (equal-width bins)."""
    chosen = [choose_subcategory(row)[0] for row in probs]
    confidence = np.array(
        [row[SUBCATEGORIES.index(c)] for row, c in zip(probs, chosen, strict=True)]
    )
    correct = np.array([c == t for c, t in zip(chosen, labels, strict=True)], dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def risk_coverage(probs: np.ndarray, labels: Sequence[str]) -> list[dict[str, float]]:
    """Per threshold (0.20 to 0.95): share flagged, and category / subcategory accuracy of the
    cases not flagged. A case is flagged when its label's calibrated probability is below the
    threshold."""
    chosen = [choose_subcategory(row)[0] for row in probs]
    confidence = np.array(
        [row[SUBCATEGORIES.index(c)] for row, c in zip(probs, chosen, strict=True)]
    )
    cat_ok = np.array(
        [category_of(c) == category_of(t) for c, t in zip(chosen, labels, strict=True)]
    )
    sub_ok = np.array([c == t for c, t in zip(chosen, labels, strict=True)])
    curve: list[dict[str, float]] = []
    for threshold in np.round(np.arange(0.20, 0.951, 0.025), 3):
        kept = confidence >= threshold
        curve.append(
            {
                "threshold": float(threshold),
                "flagged": round(float(1 - kept.mean()), 4),
                "category_accuracy": round(float(cat_ok[kept].mean()), 4) if kept.any() else 1.0,
                "subcategory_accuracy": round(float(sub_ok[kept].mean()), 4) if kept.any() else 1.0,
            }
        )
    return curve


def choose_threshold(
    curve: Sequence[dict[str, float]],
    *,
    target: float = TARGET_CATEGORY_ACCURACY,
    max_flagged: float = MAX_FLAGGED,
) -> dict[str, Any]:
    """The operating point to ship (see the module docstring)."""
    allowed = [p for p in curve if p["flagged"] <= max_flagged]
    if not allowed:
        point = dict(curve[0])
        return {**point, "met": point["category_accuracy"] >= target}
    meeting = [p for p in allowed if p["category_accuracy"] >= target]
    point = dict(meeting[0] if meeting else allowed[-1])
    return {**point, "met": bool(meeting)}
