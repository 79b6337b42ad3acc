"""The promotion gate: compare a candidate run with a baseline run, example by example.

For each gated metric the gate takes the examples scored in both runs and an interval of the
paired change (candidate - baseline), read as a "gain" (flipped for lower-is-better metrics, so
positive is better). With margin ``m``:

* fail       when the interval's upper end of the gain is below ``-m`` (a drop beyond m, with
             confidence; Holm's step-down across the gated metrics keeps the chance of failing
             an unchanged candidate at the nominal level however many metrics are gated);
* pass       when its lower end is at or above ``-m`` (no drop beyond m);
* undecided  otherwise, and always when fewer than ``min_examples`` pairs were scored or a judge
             metric's judge was unreliable. Undecided is never a pass.

Continuous metrics use a BCa bootstrap interval; 0/1 metrics Tango's score interval for paired
proportions (`evals.inference`). Each decision carries the smallest drop the run could detect
at 80% power. The gate passes only when no metric fails or is undecided and one passed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from evals.errors import GateInputError
from evals.inference import (
    bca_interval,
    classify,
    detectable_drop,
    holm,
    holm_confidences,
    paired_counts,
    t_regression_pvalue,
    tango_interval,
    tango_regression_pvalue,
)
from evals.policy import GatePolicy, ResolvedMetricPolicy, effective_margin
from evals.results import RunResult
from evals.stats import is_binary, welch_pvalue

Status = Literal["pass", "fail", "undecided", "skipped"]
Overall = Literal["pass", "fail", "undecided"]


class JudgeFigures(BaseModel):
    """How far a judge metric's judge can be trusted, worst of the two runs."""

    unparsed_share: float | None = None
    flip_rate: float | None = None
    kappa: float | None = Field(default=None, description="agreement with human labels")
    kappa_n: int | None = None


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
    mean_diff: float | None = Field(default=None, description="effect: candidate - baseline")
    ci_low: float | None = Field(default=None, description="CI of candidate - baseline")
    ci_high: float | None = None
    test: str | None = None
    p_value: float | None = Field(
        default=None, description="one-sided p of 'no drop beyond the margin' (small = drop)"
    )
    p_holm: float | None = Field(default=None, description="p_value, Holm-adjusted")
    fail_confidence: float | None = Field(
        default=None, description="confidence of the interval the fail decision used (Holm)"
    )
    detectable_drop: float | None = Field(
        default=None, description="smallest drop this run would fail at 80% power"
    )
    sd_diff: float | None = None
    unpaired_p_value: float | None = Field(default=None, description="Welch, ignoring pairing")
    lost: int | None = Field(default=None, description="pass->fail examples (0/1 metrics)")
    gained: int | None = Field(default=None, description="fail->pass examples (0/1 metrics)")
    judge: JudgeFigures | None = None

    @property
    def detectable_sentence(self) -> str:
        """'with 48 examples this gate cannot see a drop under 0.09' (or why it cannot say)."""
        return detectable_sentence(self)


class GateReport(BaseModel):
    """Decisions for every metric and the overall verdict."""

    status: Overall
    decisions: list[MetricDecision]
    n_shared: int
    baseline_only: int
    candidate_only: int
    baseline_run: dict[str, Any] = Field(default_factory=dict)
    candidate_run: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    policy_source: str = "built-in default policy"
    holm_tests: int = 0

    @property
    def failed(self) -> list[MetricDecision]:
        return [d for d in self.decisions if d.status == "fail"]

    @property
    def undecided(self) -> list[MetricDecision]:
        return [d for d in self.decisions if d.status == "undecided"]


def detectable_sentence(d: MetricDecision) -> str:
    worse = "drop" if d.direction == "higher" else "rise"
    if d.detectable_drop is None:
        if d.n and d.sd_diff == 0:
            return (
                f"with {d.n} examples and no change on any of them, this run cannot estimate "
                f"the smallest {worse} it would see"
            )
        return "no detectable-drop estimate (nothing paired)"
    return f"with {d.n} examples this gate cannot see a {worse} under {d.detectable_drop:.2g}"


def judge_summary(d: MetricDecision) -> str:
    """'judge: unparsed 3%, swap flips 12%, kappa vs humans 0.41 (n=20)' ('' without a judge)."""
    figures = d.judge
    if figures is None:
        return ""
    parts = []
    if figures.unparsed_share is not None:
        parts.append(f"unparsed {figures.unparsed_share:.0%}")
    if figures.flip_rate is not None:
        parts.append(f"swap flips {figures.flip_rate:.0%}")
    if figures.kappa is not None:
        parts.append(f"kappa vs humans {figures.kappa:.2f} (n={figures.kappa_n})")
    return "judge: " + ", ".join(parts) if parts else ""


@dataclass
class _Tested:
    """A metric that reached the statistical test, before Holm."""

    index: int
    gain_diffs: np.ndarray
    cand: np.ndarray
    base: np.ndarray
    binary: bool
    rules: ResolvedMetricPolicy
    margin: float
    p_value: float


def metric_scales(baseline: RunResult, candidate: RunResult) -> dict[str, tuple[float, bool]]:
    """Per metric of the baseline: (baseline mean, every score of both runs within [0, 1])."""
    scales: dict[str, tuple[float, bool]] = {}
    for metric in baseline.metrics():
        base = np.fromiter(baseline.scores_by_id(metric).values(), dtype=float)
        cand = np.fromiter(candidate.scores_by_id(metric).values(), dtype=float)
        both = np.concatenate([base, cand])
        scales[metric] = (float(base.mean()), bool(np.all((both >= 0) & (both <= 1))))
    return scales


def scorer_version(run: RunResult, metric: str) -> int:
    """The version of the scorer that wrote ``metric`` in ``run`` (1 when the run predates it)."""
    versions = run.run.get("scorer_versions")
    value = versions.get(metric) if isinstance(versions, dict) else None
    return value if isinstance(value, int) else 1


def _check_scorer_versions(baseline: RunResult, candidate: RunResult, metrics: set[str]) -> None:
    for metric in sorted(metrics):
        base, cand = scorer_version(baseline, metric), scorer_version(candidate, metric)
        if base != cand:
            raise GateInputError(
                f"{metric} was scored by version {base} of its scorer in the baseline and "
                f"version {cand} in the candidate, so their scores do not compare; re-run the "
                "older one with `rung eval run` (cached replies are reused, only scoring reruns)"
            )


def compare_runs(
    *,
    baseline: RunResult,
    candidate: RunResult,
    policy: GatePolicy | None = None,
    policy_source: str | None = None,
) -> GateReport:
    """Gate ``candidate`` against ``baseline`` under ``policy`` (the default policy if None)."""
    policy = policy or GatePolicy()
    base_id, cand_id = baseline.run.get("id"), candidate.run.get("id")
    if base_id and base_id == cand_id:
        raise GateInputError(
            f"run {base_id} cannot be gated against itself: every difference is 0; gate it "
            "against the champion's run (or the base model's run for a first champion)"
        )
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
    _check_scorer_versions(baseline, candidate, base_metrics & cand_metrics)
    names = sorted(
        base_metrics | cand_metrics | {m for m, p in policy.metrics.items() if p.required}
    )
    if policy.only:
        unknown = [m for m in policy.only if m not in base_metrics | cand_metrics]
        if unknown:
            notes.append(f"policy lists metrics neither run has: {', '.join(unknown)}")
    decisions: list[MetricDecision] = []
    tested: list[_Tested] = []
    for metric in names:
        decision, test = _prepare(
            metric,
            baseline=baseline,
            candidate=candidate,
            shared=shared,
            policy=policy,
            in_baseline=metric in base_metrics,
            in_candidate=metric in cand_metrics,
            index=len(decisions),
        )
        decisions.append(decision)
        if test is not None:
            tested.append(test)
    _decide_with_holm(decisions, tested, policy)
    gated = [d for d in decisions if d.gated and d.status != "skipped"]
    if not gated:
        notes.append(
            "no metric was gated (all skipped), so this gate cannot pass: gate at least one metric"
        )
    status: Overall
    if any(d.status == "fail" for d in decisions):
        status = "fail"
    elif not gated or any(d.status == "undecided" for d in gated):
        status = "undecided"
    else:
        status = "pass"
    return GateReport(
        status=status,
        decisions=decisions,
        n_shared=len(shared),
        baseline_only=len(base_ids - cand_ids),
        candidate_only=len(cand_ids - base_ids),
        baseline_run=baseline.run,
        candidate_run=candidate.run,
        notes=notes,
        policy_source=policy_source or "built-in default policy",
        holm_tests=len(tested),
    )


def _prepare(
    metric: str,
    *,
    baseline: RunResult,
    candidate: RunResult,
    shared: set[str],
    policy: GatePolicy,
    in_baseline: bool,
    in_candidate: bool,
    index: int,
) -> tuple[MetricDecision, _Tested | None]:
    """The metric's numbers and, when it is gated and testable, its place in the Holm family."""
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
            ), None
        return MetricDecision(
            status="skipped",
            reason=f"not in the {missing} run; nothing to compare",
            **{**common, "gated": False},
        ), None
    base_scores = baseline.scores_by_id(metric)
    cand_scores = candidate.scores_by_id(metric)
    ids = sorted(i for i in shared if i in base_scores and i in cand_scores)
    if not ids:
        status: Status = "fail" if rules.required else "skipped"
        return MetricDecision(
            status=status, reason="no example is scored on this metric in both runs", **common
        ), None
    base = np.array([base_scores[i] for i in ids], dtype=float)
    cand = np.array([cand_scores[i] for i in ids], dtype=float)
    diffs = cand - base
    sign = 1.0 if rules.direction == "higher" else -1.0
    gain_diffs = sign * diffs
    all_base = np.fromiter(base_scores.values(), dtype=float)
    all_cand = np.fromiter(cand_scores.values(), dtype=float)
    unit = bool(
        np.all((all_base >= 0) & (all_base <= 1)) and np.all((all_cand >= 0) & (all_cand <= 1))
    )
    margin = effective_margin(rules, baseline_mean=float(base.mean()), unit_interval=unit)
    binary = is_binary(base) and is_binary(cand)
    sd = float(diffs.std(ddof=1)) if diffs.size > 1 else 0.0
    if sd == 0.0 and diffs.size > 1:  # no paired spread seen: fall back on the runs' own spread
        sd = float(np.sqrt(base.var(ddof=1) + cand.var(ddof=1)))
    numbers: dict[str, Any] = {
        **common,
        "n": len(ids),
        "margin": margin,
        "baseline_mean": float(base.mean()),
        "candidate_mean": float(cand.mean()),
        "mean_diff": float(diffs.mean()),
        "sd_diff": sd,
        "unpaired_p_value": _welch(cand, base),
        "judge": _judge_figures(metric, baseline, candidate),
    }
    if binary:
        gained, lost, n = paired_counts(cand, base)
        ci = tango_interval(gained, lost, n, confidence=rules.confidence)
        p_value = float(
            tango_regression_pvalue(gained, lost, n, margin=margin, direction=rules.direction)
        )
        numbers.update(test="tango_score", lost=int(lost), gained=int(gained))
    else:
        ci = bca_interval(
            diffs, confidence=rules.confidence, resamples=policy.resamples, seed=policy.seed
        )
        p_value = float(t_regression_pvalue(gain_diffs, margin=margin))
        numbers.update(test="bca_bootstrap")
    numbers.update(
        ci_low=float(ci.low),
        ci_high=float(ci.high),
        p_value=p_value,
        detectable_drop=detectable_drop(sd, len(ids), margin=margin, confidence=rules.confidence),
    )
    if not rules.gate:
        return MetricDecision(
            status="skipped", reason="reported only (gate: false)", **numbers
        ), None
    if len(ids) < rules.min_examples:
        sentence = detectable_sentence(MetricDecision(status="undecided", reason="", **numbers))
        return _undecided(
            f"undecided: too few examples ({len(ids)} paired, policy min_examples "
            f"{rules.min_examples}); {sentence}",
            rules,
            numbers,
        ), None
    unreliable = _judge_unreliable(numbers["judge"], policy)
    if unreliable:
        return _undecided(f"undecided: judge unreliable ({unreliable})", rules, numbers), None
    placeholder = MetricDecision(status="undecided", reason="", **numbers)
    return placeholder, _Tested(
        index=index,
        gain_diffs=gain_diffs,
        cand=cand,
        base=base,
        binary=binary,
        rules=rules,
        margin=margin,
        p_value=p_value,
    )


def _welch(cand: np.ndarray, base: np.ndarray) -> float | None:
    with warnings.catch_warnings():  # scipy warns on (nearly) constant scores; the p is still set
        warnings.simplefilter("ignore", RuntimeWarning)
        return welch_pvalue(cand, base)


def _undecided(reason: str, rules: ResolvedMetricPolicy, numbers: dict[str, Any]) -> MetricDecision:
    if rules.on_undecided == "fail":
        return MetricDecision(
            status="fail", reason=reason + " — policy on_undecided: fail", **numbers
        )
    return MetricDecision(status="undecided", reason=reason, **numbers)


def _gain_interval(test: _Tested, confidence: float, policy: GatePolicy) -> tuple[float, float]:
    """The interval of the gain at ``confidence`` (the same bootstrap draws at every level)."""
    if test.binary:
        gained, lost, n = paired_counts(test.cand, test.base)
        ci = tango_interval(gained, lost, n, confidence=confidence)
    else:
        ci = bca_interval(
            test.cand - test.base,
            confidence=confidence,
            resamples=policy.resamples,
            seed=policy.seed,
        )
    low, high = float(ci.low), float(ci.high)
    return (low, high) if test.rules.direction == "higher" else (-high, -low)


def _decide_with_holm(
    decisions: list[MetricDecision], tested: list[_Tested], policy: GatePolicy
) -> None:
    """Pass/fail/undecided for the tested metrics, Holm's step-down on the fail decisions.

    Metrics are taken in order of their regression p-value; step j of k fails its metric only
    when the interval at confidence 1 - alpha/(k - j) lies below -margin, and the first metric
    that does not fail ends the stepping (no later one can fail). Pass uses the nominal interval:
    the gate passes only when every metric passes, which needs no multiplicity correction.
    """
    k = len(tested)
    adjusted = holm([t.p_value for t in tested])
    stepping = True
    for rank, position in enumerate(sorted(range(k), key=lambda i: tested[i].p_value)):
        test = tested[position]
        confidence = test.rules.confidence
        decision = decisions[test.index]
        decision = decision.model_copy(
            update={
                "detectable_drop": detectable_drop(
                    decision.sd_diff or 0.0,
                    decision.n,
                    margin=test.margin,
                    confidence=confidence,
                    tests=k,
                )
            }
        )
        pct = f"{confidence:.0%}"
        worse = "drop" if test.rules.direction == "higher" else "rise"
        fail_confidence = holm_confidences(confidence, k)[rank]
        low, high = _gain_interval(test, confidence, policy)
        nominal = str(classify(low, high, test.margin))
        status: Status
        if stepping and nominal == "fail":
            if fail_confidence > confidence:
                _, high_adj = _gain_interval(test, fail_confidence, policy)
            else:
                high_adj = high
            if high_adj < -test.margin:
                status = "fail"
                reason = (
                    f"regression: the {worse} exceeds the margin {test.margin:.4g} with "
                    f"{pct} confidence"
                    + (f" ({fail_confidence:.2%} after Holm across {k} metrics)" if k > 1 else "")
                )
            else:
                stepping = False
                status = "undecided"
                reason = (
                    f"undecided: a {worse} beyond the margin {test.margin:.4g} at {pct}, but not "
                    f"at the {fail_confidence:.2%} Holm needs across {k} metrics"
                )
        else:
            stepping = False
            if nominal == "fail":
                status = "undecided"
                reason = (
                    f"undecided: a {worse} beyond the margin {test.margin:.4g} at {pct}, but "
                    f"Holm's step-down across {k} metrics stopped before it"
                )
            elif nominal == "pass":
                status = "pass"
                reason = f"no {worse} beyond the margin {test.margin:.4g} at {pct} confidence"
            else:
                status = "undecided"
                reason = (
                    f"undecided: the {pct} CI straddles the margin {test.margin:.4g}; "
                    + detectable_sentence(decision)
                )
        if status == "undecided" and test.rules.on_undecided == "fail":
            status = "fail"
            reason += " — policy on_undecided: fail"
        decisions[test.index] = decision.model_copy(
            update={
                "status": status,
                "reason": reason,
                "p_holm": adjusted[position],
                "fail_confidence": fail_confidence,
            }
        )


def _judge_figures(metric: str, *runs: RunResult) -> JudgeFigures | None:
    """Unparsed share, swap-flip rate and kappa of the judge behind ``metric``, if it has one."""
    found = False
    figures = JudgeFigures()
    for run in runs:
        section = run.judge or {}
        agreement = section.get("agreement") or {}
        for kind, agreement_keys in (
            ("rubric", ("rubric_pass_fail", "rubric_scale")),
            ("pairwise", ("pairwise",)),
        ):
            judge = section.get(kind)
            if not isinstance(judge, dict) or judge.get("metric") != metric:
                continue
            found = True
            unparsed = int(judge.get("unparsed") or 0)
            total = (
                int(judge.get("judged") or 0)
                if kind == "rubric"
                else (int(judge.get("n") or 0) + unparsed)
            )
            if total:
                share = unparsed / total
                figures.unparsed_share = max(figures.unparsed_share or 0.0, share)
            flip = judge.get("flip_rate")
            if isinstance(flip, int | float):
                figures.flip_rate = max(figures.flip_rate or 0.0, float(flip))
            for key in agreement_keys:
                entry = agreement.get(key)
                if isinstance(entry, dict) and isinstance(entry.get("kappa"), int | float):
                    figures.kappa, figures.kappa_n = float(entry["kappa"]), entry.get("n")
                    break
    return figures if found else None


def _judge_unreliable(figures: JudgeFigures | None, policy: GatePolicy) -> str | None:
    if figures is None:
        return None
    problems = []
    limits = policy.judge
    if figures.unparsed_share is not None and figures.unparsed_share > limits.max_unparsed:
        problems.append(
            f"{figures.unparsed_share:.0%} of verdicts unparsed, limit {limits.max_unparsed:.0%}"
        )
    if figures.flip_rate is not None and figures.flip_rate > limits.max_flip_rate:
        problems.append(
            f"{figures.flip_rate:.0%} of verdicts flip when the order is swapped, limit "
            f"{limits.max_flip_rate:.0%}"
        )
    if problems and figures.kappa is not None:
        problems.append(f"kappa vs human labels {figures.kappa:.2f}")
    return "; ".join(problems) or None
