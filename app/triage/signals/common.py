"""What every signal family shares: the fired `Signal`, the `SignalReport`, and the case's texts
prepared once (`CaseTexts`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.cases.schemas import SUBCATEGORIES, FailureCase
from app.triage.signals.weights import SUPPORT_CAP

Features = dict[str, float]
FireFn = Callable[[str, str, float, str], None]  # (signal name, subcategory, weight, evidence)


@dataclass(frozen=True)
class Signal:
    """One fired signal: which subcategory it supports, how strongly, and why."""

    name: str
    subcategory: str
    weight: float
    evidence: str


@dataclass
class SignalReport:
    features: dict[str, float]
    signals: list[Signal] = field(default_factory=list)

    def support(self) -> dict[str, float]:
        """Summed signal weight per subcategory (saturating at `SUPPORT_CAP`)."""
        totals = dict.fromkeys(SUBCATEGORIES, 0.0)
        for signal in self.signals:
            totals[signal.subcategory] += signal.weight
        return {name: min(value, SUPPORT_CAP) for name, value in totals.items()}


def normalise(text: str | None) -> str:
    return " ".join((text or "").replace("’", "'").split())


@dataclass
class CaseTexts:
    """The case's fields as plain strings (absent fields are empty)."""

    input: str
    output: str
    expected: str
    context: str
    feedback: str
    source: str
    metadata_keys: str
    metadata_text: str

    @property
    def has_expected(self) -> bool:
        return bool(self.expected.strip())

    @property
    def has_context(self) -> bool:
        return bool(self.context.strip())


def case_texts(case: FailureCase) -> CaseTexts:
    metadata = case.metadata or {}
    return CaseTexts(
        input=case.input or "",
        output=case.output or "",
        expected=case.expected or "",
        context="\n".join(case.context or []),
        feedback=normalise(case.feedback),
        source=(case.source or "").strip().lower(),
        metadata_keys=" ".join(str(k) for k in metadata),
        metadata_text=" ".join(f"{k} {v}" for k, v in metadata.items() if isinstance(v, str)),
    )


def capped(count: float, cap: int) -> float:
    """``count`` as a share of ``cap``, at most 1: how features count hits."""
    return min(count, cap) / float(cap)


def non_ascii_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if ord(c) > 127) / len(letters)
