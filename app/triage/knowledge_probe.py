"""An optional SliCK-style knowledge probe of the application's base model.

Following SliCK (Gekhman et al., 2024, "Does fine-tuning LLMs on new knowledge encourage
hallucinations?"), a fact is *Unknown* to a model when sampling it several times never yields
the correct answer. The probe asks the case's input `samples` times and checks whether the
expected answer's checkable facts (numbers, dates, identifiers, names not already in the
input) appear:

- never (Unknown): evidence of a knowledge gap; the knowledge subcategories' probabilities are
  multiplied by `UNKNOWN_BOOST` (2.0) before renormalising;
- in at least half of the samples (Known): the model has the fact, so the failure is less
  likely a knowledge gap; knowledge probabilities are multiplied by `KNOWN_DAMPING` (0.6);
- sometimes (WeaklyKnown): reported as evidence only.

The probe model is a langchain `BaseChatModel` for the app's base model, configured to sample
(temperature > 0). Cases without an expected answer or without checkable facts are not probed.
A probe call that fails is skipped and counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from app.cases.schemas import KNOWLEDGE_SUBCATEGORIES, SUBCATEGORIES, FailureCase
from app.triage.text_facts import extract_facts, fact_in_text

UNKNOWN_BOOST = 2.0
KNOWN_DAMPING = 0.6
DEFAULT_SAMPLES = 5
_KNOWLEDGE_MASK = np.array([s in KNOWLEDGE_SUBCATEGORIES for s in SUBCATEGORIES])


@dataclass(frozen=True)
class ProbeOutcome:
    samples: int
    hits: int
    targets: tuple[str, ...]

    @property
    def level(self) -> str:
        if self.hits == 0:
            return "unknown"
        return "known" if self.hits * 2 >= self.samples else "weakly_known"

    def evidence(self) -> str:
        shown = ", ".join(f"'{t.split(':', 1)[-1]}'" for t in self.targets[:3])
        if self.level == "unknown":
            return (
                f"knowledge probe: the base model never produced {shown} in {self.samples} "
                "samples (unknown fact)"
            )
        return (
            f"knowledge probe: the base model produced {shown} in {self.hits}/{self.samples} "
            f"samples ({self.level.replace('_', ' ')} fact)"
        )


def probe_targets(case: FailureCase) -> tuple[str, ...]:
    """The expected answer's checkable facts that the input does not already give away."""
    if not case.expected:
        return ()
    expected = extract_facts(case.expected)
    given = extract_facts(case.input)
    lowered_input = case.input.lower()
    hard = sorted(expected.numbers | expected.dates | expected.codes)
    facts = hard or sorted(expected.entities)
    return tuple(f for f in facts if not fact_in_text(f, given, lowered_input))


def sample_recalls(text: str, targets: tuple[str, ...]) -> bool:
    """Whether one sampled answer states at least half of the target facts."""
    found = extract_facts(text)
    lowered = text.lower()
    hits = sum(fact_in_text(t, found, lowered) for t in targets)
    return hits >= math.ceil(len(targets) / 2)


def probe_case(
    model: BaseChatModel, case: FailureCase, *, samples: int = DEFAULT_SAMPLES
) -> ProbeOutcome | None:
    """Sample the base model on the case's input; None when there is nothing to check."""
    targets = probe_targets(case)
    if not targets:
        return None
    answers = model.batch([[HumanMessage(case.input)] for _ in range(samples)])
    texts = [a.content if isinstance(a.content, str) else str(a.content) for a in answers]
    hits = sum(sample_recalls(text, targets) for text in texts)
    return ProbeOutcome(samples=samples, hits=hits, targets=targets)


def apply_probe(probs: np.ndarray, outcome: ProbeOutcome) -> np.ndarray:
    """Shift one row of probabilities toward (unknown) or away from (known) knowledge."""
    factor = {"unknown": UNKNOWN_BOOST, "known": KNOWN_DAMPING}.get(outcome.level, 1.0)
    shifted = np.where(_KNOWLEDGE_MASK, probs * factor, probs)
    return shifted / shifted.sum()
