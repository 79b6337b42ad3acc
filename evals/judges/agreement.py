"""Checks on the judge itself: agreement with human labels, and judging its own outputs."""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Agreement:
    """How often the judge agrees with human labels, raw and beyond chance (Cohen's kappa)."""

    n: int
    accuracy: float | None
    kappa: float | None
    weighted_kappa: float | None = None  # quadratic, for ordinal labels (the 1-5 scale)
    labels: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _kappa(
    judge: Sequence[Hashable], human: Sequence[Hashable], weights: str | None
) -> float | None:
    labels = sorted(set(judge) | set(human), key=str)
    if len(labels) < 2:
        return None  # undefined: both raters used a single label
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sklearn.metrics import cohen_kappa_score  # ~2.5 s to import: only when a judge ran

        value = cohen_kappa_score(list(human), list(judge), labels=labels, weights=weights)
    return None if math.isnan(value) else float(value)


def judge_agreement(
    judge: Sequence[Hashable],
    human: Sequence[Hashable],
    *,
    ordinal: bool = False,
    labels: str = "",
) -> Agreement:
    """Accuracy and Cohen's kappa of paired judge/human labels (plus quadratic kappa if ordinal)."""
    if len(judge) != len(human):
        raise ValueError("judge and human labels must pair up")
    n = len(judge)
    if n == 0:
        return Agreement(n=0, accuracy=None, kappa=None, labels=labels)
    accuracy = sum(j == h for j, h in zip(judge, human, strict=True)) / n
    return Agreement(
        n=n,
        accuracy=accuracy,
        kappa=_kappa(judge, human, None),
        weighted_kappa=_kappa(judge, human, "quadratic") if ordinal else None,
        labels=labels,
    )


def human_label_kind(value: Any) -> str | None:
    """``"scale"`` (an int grade), ``"pass_fail"`` (bool or pass/fail), ``"preference"``
    (win/tie/loss) or None for labels the judges cannot be compared with."""
    if isinstance(value, bool):
        return "pass_fail"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "scale"
    if isinstance(value, str):
        key = value.strip().lower()
        if key in {"pass", "fail"}:
            return "pass_fail"
        if key in {"win", "tie", "loss"}:
            return "preference"
    return None


def as_pass(value: Any) -> bool:
    """A pass/fail human label as a bool."""
    return value if isinstance(value, bool) else str(value).strip().lower() == "pass"


def same_model_warning(*, candidate: str | None, judge: str | None) -> str | None:
    """A warning when the judge is the model being judged (self-preference bias)."""
    if not candidate or not judge:
        return None
    if candidate.strip().lower() == judge.strip().lower():
        return (
            f"the judge is the same model as the candidate ({judge}): LLM judges favour their "
            "own outputs; use a different (ideally stronger) judge model for promotion decisions"
        )
    return None
