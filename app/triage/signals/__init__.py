"""Explainable signals computed from one failure case.

`compute_signals(case)` returns numeric features (for the learned model) and the signals that
fired (each supports one subcategory with a weight and carries a human-readable evidence
sentence). Signals use only the case itself: input, output, expected, context, feedback,
source and metadata.

One module per family: `feedback`, `metadata` (source and metadata keys), `facts`, `format`,
`style`, `procedure`; `common` holds the shared types and the case's prepared texts, `weights`
every hand-set weight and threshold with its reason, `wording` the helpers that word evidence.
"""

from __future__ import annotations

import math

from app.cases.schemas import FailureCase
from app.triage.signals.common import CaseTexts, Signal, SignalReport, case_texts
from app.triage.signals.facts import fire_fact_signals, measure_facts
from app.triage.signals.feedback import feedback_signals
from app.triage.signals.format import format_signals
from app.triage.signals.metadata import source_metadata_signals
from app.triage.signals.procedure import procedure_signals
from app.triage.signals.style import style_signals

__all__ = ["CaseTexts", "Signal", "SignalReport", "compute_signals"]


def compute_signals(case: FailureCase) -> SignalReport:
    """All signals and numeric features of one case."""
    t = case_texts(case)
    feats: dict[str, float] = {}
    fired: list[Signal] = []

    def fire(name: str, subcategory: str, weight: float, evidence: str) -> None:
        fired.append(Signal(name, subcategory, weight, evidence))

    feats["has_expected"] = float(t.has_expected)
    feats["has_context"] = float(t.has_context)
    feats["has_feedback"] = float(bool(t.feedback))
    feats["n_context"] = math.log1p(len(case.context or []))
    feats["attempted_prompting"] = float("prompting" in case.attempted)
    feats["attempted_rag"] = float("rag" in case.attempted)
    feats["attempted_tuning"] = float(bool({"lora", "dpo"} & set(case.attempted)))

    feedback_signals(t, feats, fire)
    source_metadata_signals(t, feats, fire)
    fire_fact_signals(measure_facts(t, feats), fire)
    format_signals(t, feats, fire)
    style_signals(t, feats, fire)
    procedure_signals(t, feats, fire)

    report = SignalReport(features=feats, signals=fired)
    for name, value in report.support().items():
        feats[f"support_{name}"] = value
    return report
