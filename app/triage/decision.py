"""From subcategory probabilities and fired signals to a `TriageResult`.

Category is decided first by summing the probabilities of its subcategories; the subcategory is
the most probable one inside that category, so category and subcategory never disagree. The
fix follows the ladder (`app.triage.ladder`). A case is flagged `needs_review` when the
calibrated probability of its label is under the review threshold; the threshold is fitted when
the model is trained (`manifest.json`, `review.operating_point`) so that the cases left unflagged
reach the target accuracy on out-of-fold cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.cases.schemas import KNOWLEDGE_SUBCATEGORIES, SUBCATEGORIES
from app.triage.ladder import category_of, fix_for
from app.triage.result import TriageResult
from app.triage.signals import SignalReport

_KNOWLEDGE_MASK = np.array([s in KNOWLEDGE_SUBCATEGORIES for s in SUBCATEGORIES])


@dataclass(frozen=True)
class ReviewPolicy:
    """When to ask a person to look: the label's calibrated probability is under `threshold`."""

    threshold: float = 0.45


def choose_subcategory(probs: np.ndarray) -> tuple[str, float]:
    """(subcategory, probability of knowledge) for one row of probabilities."""
    p_knowledge = float(probs[_KNOWLEDGE_MASK].sum())
    mask = _KNOWLEDGE_MASK if p_knowledge >= 0.5 else ~_KNOWLEDGE_MASK
    masked = np.where(mask, probs, -1.0)
    return SUBCATEGORIES[int(np.argmax(masked))], p_knowledge


def decide_labels(
    probs: np.ndarray, attempted: Sequence[Sequence[str]]
) -> list[tuple[str, str, str]]:
    """(category, subcategory, fix) per row; used by the engine and by cross-validation."""
    out: list[tuple[str, str, str]] = []
    for row, tried in zip(probs, attempted, strict=True):
        subcategory, _ = choose_subcategory(row)
        out.append(
            (
                category_of(subcategory),
                subcategory,
                fix_for(subcategory=subcategory, attempted=tried),
            )
        )
    return out


def _pretty(name: str) -> str:
    return name.replace("_", " ")


def decide(
    *,
    probs: np.ndarray,
    report: SignalReport,
    attempted: Sequence[str],
    engine_version: str,
    policy: ReviewPolicy,
    comparisons: Sequence[str] = (),
    extra_evidence: Sequence[str] = (),
) -> TriageResult:
    """The triage result of one case."""
    subcategory, p_knowledge = choose_subcategory(probs)
    category = category_of(subcategory)
    confidence = float(probs[SUBCATEGORIES.index(subcategory)])
    ranked = sorted(range(len(SUBCATEGORIES)), key=lambda i: -probs[i])
    runner_up = next(SUBCATEGORIES[i] for i in ranked if SUBCATEGORIES[i] != subcategory)
    runner_p = float(probs[SUBCATEGORIES.index(runner_up)])
    needs_review = confidence < policy.threshold
    own = sorted(
        (s for s in report.signals if s.subcategory == subcategory), key=lambda s: -s.weight
    )
    evidence = list(dict.fromkeys(s.evidence for s in own))[:4]
    evidence.extend(comparisons)
    if subcategory in KNOWLEDGE_SUBCATEGORIES:
        evidence.append(f"knowledge problem: p(knowledge)={p_knowledge:.2f}")
    evidence.append(f"the model reads this as {_pretty(subcategory)} (p={confidence:.2f})")
    evidence.extend(extra_evidence)
    if needs_review:
        against = sorted(
            (s for s in report.signals if s.subcategory == runner_up), key=lambda s: -s.weight
        )
        evidence.append(
            f"review: p={confidence:.2f} is under the review threshold {policy.threshold:.2f}; "
            f"next most likely {_pretty(runner_up)} ({runner_p:.2f})"
        )
        if against:
            evidence.append(f"but for {_pretty(runner_up)}: {against[0].evidence}")
    return TriageResult(
        category=category,
        subcategory=subcategory,  # type: ignore[arg-type]
        fix=fix_for(subcategory=subcategory, attempted=attempted),
        confidence=round(min(max(confidence, 0.0), 1.0), 4),
        evidence=evidence,
        needs_review=needs_review,
        probabilities={
            name: round(float(p), 4) for name, p in zip(SUBCATEGORIES, probs, strict=True)
        },
        engine_version=engine_version,
    )
