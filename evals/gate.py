"""The promotion gate: compare a candidate run with a baseline run, example by example.

For each gated metric the gate takes the examples scored in both runs, computes the per-example
differences (candidate - baseline) and a paired bootstrap confidence interval of their mean;
the decision reads it as a "gain" (flipped for lower-is-better metrics, so positive is better).
With margin ``m``:

* fail      when the CI's upper bound of the gain is below ``-m`` (a regression, with confidence);
* pass      when the CI's lower bound of the gain is at or above ``-m`` (no regression beyond m);
* undecided otherwise, which fails or warns as the policy says.

Pass/fail (0/1) metrics use McNemar's exact test and its matching exact interval (Clopper-Pearson
on the discordant pairs) instead of the bootstrap; other metrics report a paired t-test p-value.
An unpaired Welch test is reported beside them to show what ignoring the pairing would conclude.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from evals.errors import GateInputError
from evals.policy import GatePolicy, effective_margin
from evals.results import RunResult
from evals.stats import (
    is_binary,
    mcnemar_exact,
    mcnemar_exact_ci,
    paired_bootstrap_ci,
    paired_t_pvalue,
    welch_pvalue,
)

Status = Literal["pass", "fail", "warn", "skipped"]


class MetricDecision(BaseModel):
    """The gate's decision on one metric, with every number it rests on."""

    metric: str
    status: Status
    reason: str
    gated: bool = True
    n: int = 0
    direction: Literal["higher", "lower"] = "higher"
    confidence: float = 0.95
    margin: float | None = None
    baseline_mean: float | None = None
    candidate_mean: float | None = None
    mean_diff: float | None = Field(default=None, description="candidate - baseline")
    ci_low: float | None = Field(default=None, description="CI of candidate - baseline")
    ci_high: float | None = None
    test: str | None = None
    p_value: float | None = None
    unpaired_p_value: float | None = Field(default=None, description="Welch, ignoring pairing")
    lost: int | None = Field(default=None, description="pass->fail examples (0/1 metrics)")
    gained: int | None = Field(default=None, description="fail->pass examples (0/1 metrics)")


class GateReport(BaseModel):
    """Decisions for every metric and the overall verdict."""

    status: Literal["pass", "fail"]
    decisions: list[MetricDecision]
    n_shared: int
    baseline_only: int
    candidate_only: int
    baseline_run: dict[str, Any] = Field(default_factory=dict)
    candidate_run: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    @property
    def failed(self) -> list[MetricDecision]:
        return [d for d in self.decisions if d.status == "fail"]

    @property
    def warnings(self) -> list[MetricDecision]:
        return [d for d in self.decisions if d.status == "warn"]


def compare_runs(
    *, baseline: RunResult, candidate: RunResult, policy: GatePolicy | None = None
) -> GateReport:
    """Gate ``candidate`` against ``baseline`` under ``policy`` (the default policy if None)."""
    policy = policy or GatePolicy()
    base_ids = {e.id for e in baseline.examples}
    cand_ids = {e.id for e in candidate.examples}
    shared = base_ids & cand_ids
    if not shared:
        raise GateInputError(
            f"the runs share no example ids (baseline has {len(base_ids)}, candidate "
            f"{len(cand_ids)}); run both on the same dataset"
        )
    notes: list[str] = []
    if base_ids != cand_ids:
        notes.append(
            f"compared on the {len(shared)} shared examples; {len(base_ids - cand_ids)} only in "
            f"the baseline, {len(cand_ids - base_ids)} only in the candidate"
        )
    base_metrics = set(baseline.metrics())
    cand_metrics = set(candidate.metrics())
    names = sorted(
        base_metrics | cand_metrics | {m for m, p in policy.metrics.items() if p.required}
    )
    if policy.only:
        unknown = [m for m in policy.only if m not in base_metrics | cand_metrics]
        if unknown:
            notes.append(f"policy lists metrics neither run has: {', '.join(unknown)}")
    decisions = [
        _decide(
            metric,
            baseline=baseline,
            candidate=candidate,
            shared=shared,
            policy=policy,
            in_baseline=metric in base_metrics,
            in_candidate=metric in cand_metrics,
        )
        for metric in names
    ]
    status: Literal["pass", "fail"] = (
        "fail" if any(d.status == "fail" for d in decisions) else "pass"
    )
    return GateReport(
        status=status,
        decisions=decisions,
        n_shared=len(shared),
        baseline_only=len(base_ids - cand_ids),
        candidate_only=len(cand_ids - base_ids),
        baseline_run=baseline.run,
        candidate_run=candidate.run,
        notes=notes,
    )


def _decide(
    metric: str,
    *,
    baseline: RunResult,
    candidate: RunResult,
    shared: set[str],
    policy: GatePolicy,
    in_baseline: bool,
    in_candidate: bool,
) -> MetricDecision:
    rules = policy.for_metric(metric)
    common: dict[str, Any] = {
        "metric": metric,
        "direction": rules.direction,
        "confidence": rules.confidence,
        "gated": rules.gate,
    }
    if not (in_baseline and in_candidate):
        missing = "baseline" if not in_baseline else "candidate"
        if rules.required:
            return MetricDecision(
                status="fail", reason=f"required metric missing from the {missing} run", **common
            )
        return MetricDecision(
            status="skipped", reason=f"not in the {missing} run; nothing to compare", **common
        )
    base_scores = baseline.scores_by_id(metric)
    cand_scores = candidate.scores_by_id(metric)
    ids = sorted(i for i in shared if i in base_scores and i in cand_scores)
    if not ids:
        status: Status = "fail" if rules.required else "skipped"
        return MetricDecision(
            status=status, reason="no example is scored on this metric in both runs", **common
        )
    base = np.array([base_scores[i] for i in ids], dtype=float)
    cand = np.array([cand_scores[i] for i in ids], dtype=float)
    diffs = cand - base
    all_base = np.fromiter(base_scores.values(), dtype=float)
    all_cand = np.fromiter(cand_scores.values(), dtype=float)
    unit = bool(
        np.all((all_base >= 0) & (all_base <= 1)) and np.all((all_cand >= 0) & (all_cand <= 1))
    )
    margin = effective_margin(rules, baseline_mean=float(base.mean()), unit_interval=unit)
    numbers: dict[str, Any] = {
        **common,
        "n": len(ids),
        "margin": margin,
        "baseline_mean": float(base.mean()),
        "candidate_mean": float(cand.mean()),
        "mean_diff": float(diffs.mean()),
        "unpaired_p_value": welch_pvalue(cand, base),
    }
    if is_binary(base) and is_binary(cand):
        mcnemar = mcnemar_exact(cand, base)
        ci = mcnemar_exact_ci(cand, base, confidence=rules.confidence)
        numbers.update(
            test="mcnemar_exact", p_value=mcnemar.p_value, lost=mcnemar.lost, gained=mcnemar.gained
        )
    else:
        ci = paired_bootstrap_ci(
            diffs, confidence=rules.confidence, resamples=policy.resamples, seed=policy.seed
        )
        numbers.update(test="paired_t", p_value=paired_t_pvalue(diffs))
    numbers.update(ci_low=ci.low, ci_high=ci.high)
    # The decision is on the gain (candidate better = positive), whatever the direction.
    gain_low, gain_high = (ci.low, ci.high) if rules.direction == "higher" else (-ci.high, -ci.low)
    pct = f"{rules.confidence:.0%}"
    worse = "drop" if rules.direction == "higher" else "rise"
    if not rules.gate:
        return MetricDecision(status="skipped", reason="reported only (gate: false)", **numbers)
    if len(ids) < rules.min_examples:
        return MetricDecision(
            status=rules.on_undecided,
            reason=f"undecided: only {len(ids)} paired examples (policy min_examples="
            f"{rules.min_examples})",
            **numbers,
        )
    if gain_high < -margin:
        return MetricDecision(
            status="fail",
            reason=f"regression: with {pct} confidence the {worse} exceeds the margin {margin:.4g}",
            **numbers,
        )
    if gain_low >= -margin:
        return MetricDecision(
            status="pass",
            reason=f"no {worse} beyond the margin {margin:.4g} at {pct} confidence",
            **numbers,
        )
    return MetricDecision(
        status=rules.on_undecided,
        reason=f"undecided: the {pct} CI straddles the margin {margin:.4g}; more examples "
        "would decide it",
        **numbers,
    )
