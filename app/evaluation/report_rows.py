"""A stored gate report as the report's per-metric rows (effect, CI, verdict, detectable drop)."""

from __future__ import annotations

from typing import Any

from app.advisory.schemas import GateMetric
from evals.gate import MetricDecision, detectable_sentence, judge_summary


def gate_metrics(report: dict[str, Any]) -> list[GateMetric]:
    """One row per metric the gate decided or reported (skipped metrics are left out)."""
    rows: list[GateMetric] = []
    for raw in report.get("decisions", []):
        try:
            decision = MetricDecision.model_validate(raw)
        except ValueError:  # a decision stored by an older gate: show what it has
            continue
        if decision.status == "skipped":
            continue
        rows.append(
            GateMetric(
                metric=decision.metric,
                status=decision.status,
                effect=decision.mean_diff,
                ci_low=decision.ci_low,
                ci_high=decision.ci_high,
                confidence=decision.confidence,
                margin=decision.margin,
                n=decision.n,
                detectable_drop=decision.detectable_drop,
                detectable=detectable_sentence(decision) if decision.n else "",
                p_value=decision.p_value,
                p_holm=decision.p_holm,
                reason=decision.reason,
                judge=judge_summary(decision),
            )
        )
    return rows
