"""The per-project recommendation: which rung of the ladder fixes which failures, in what order.

The ladder (LABELS.md): knowledge failures are fixed by retrieval, never by tuning; behaviour
failures first by prompting with validators, then by LoRA SFT once prompting has been tried
(QLoRA when memory is tight); preferences among acceptable answers by DPO (after SFT where both
apply; it needs preference pairs). Steps are ordered by cost-effectiveness: the rungs that need
no training first, then SFT, then DPO; within a tier the step that fixes more cases first.

The English of the plan (titles, actions, reasons, the verdict's sentences) is in
`app.advisory.plan_wording`; this module decides.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from app.advisory import plan_wording as wording
from app.advisory.antipatterns import detect_antipatterns
from app.advisory.context import job_epochs, recipe_rung
from app.advisory.costs import estimate_cost
from app.advisory.data_needs import (
    DPO_MIN_PAIRS,
    SFT_TARGET_PER_BEHAVIOR,
    dpo_need,
    holdout_need,
    is_short,
    sft_need,
)
from app.advisory.memory import METHOD_NAMES, USABLE_FRACTION
from app.advisory.plan_wording import SUBCATEGORY_NAMES as SUBCATEGORY_NAMES
from app.advisory.schemas import (
    TUNING_RUNGS,
    CaseCounts,
    DataNeed,
    EvalSummary,
    EvidenceCount,
    ExampleCase,
    FineTuneVerdict,
    JobSummary,
    MetricComparison,
    PlanStep,
    ProjectContext,
    Recommendation,
    Rung,
    StepWhen,
    SubcategoryCount,
    TuningAdvice,
    TuningMethod,
)
from app.advisory.tuning import tuning_advice
from app.cases.schemas import SUBCATEGORIES, FailureCase
from app.triage.ladder import category_of, fix_for
from app.triage.result import TriageResult

KNOWLEDGE_MAJORITY = 0.5
MAX_EXAMPLES = 3
MAX_EVIDENCE = 5
EXCERPT_CHARS = 280
RUNG_TIER: dict[str, int] = {
    "prompting": 0,
    "rag": 0,
    "lora": 1,
    "qlora": 1,
    "full_sft": 1,
    "dpo": 2,
}
WHEN: tuple[StepWhen, ...] = ("first", "second")


class AdvisoryInputError(ValueError):
    """The cases and triage results handed to the advisory do not belong together."""


def ladder_rung(case: FailureCase, result: TriageResult, *, tuning_method: TuningMethod) -> Rung:
    """The rung that fixes one triaged case, by the project's ladder (`app.triage.ladder`):
    knowledge -> RAG; preference -> DPO; other behaviour -> prompting, then `tuning_method`
    (LoRA, QLoRA or full SFT, whichever fits the GPU) once prompting is in `attempted`."""
    fix = fix_for(subcategory=result.subcategory, attempted=case.attempted)
    return tuning_method if fix == "lora" else fix


def _excerpt(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1].rstrip() + "…"


def _case_id(case: FailureCase) -> str | None:
    value = getattr(case, "id", None)
    return None if value is None else str(value)


def _examples(members: list[tuple[int, FailureCase, TriageResult]]) -> list[ExampleCase]:
    """Up to three confident, reviewed-free examples, one per subcategory before repeats."""
    ranked = sorted(members, key=lambda m: (m[2].needs_review, -m[2].confidence, m[0]))
    picked: list[tuple[int, FailureCase, TriageResult]] = []
    seen: set[str] = set()
    for member in ranked:
        if member[2].subcategory not in seen:
            picked.append(member)
            seen.add(member[2].subcategory)
    picked += [m for m in ranked if m not in picked]
    return [
        ExampleCase(
            index=index,
            case_id=_case_id(case),
            subcategory=result.subcategory,
            confidence=round(result.confidence, 3),
            needs_review=result.needs_review,
            input=_excerpt(case.input) or "",
            output=_excerpt(case.output) or "",
            expected=_excerpt(case.expected),
            evidence=list(result.evidence),
        )
        for index, case, result in sorted(picked[:MAX_EXAMPLES], key=lambda m: m[0])
    ]


def _subcategory_counts(results: Sequence[TriageResult]) -> list[SubcategoryCount]:
    counts = Counter(r.subcategory for r in results)
    return [
        SubcategoryCount(subcategory=s, count=n)
        for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], SUBCATEGORIES.index(kv[0])))
    ]


# Evidence lines that report the model's own scores or review notes, not something seen in the
# case; they are kept on each case but do not make a step's "most common evidence".
_MODEL_NOTES = ("knowledge problem: p(knowledge)", "review:", "but for ", "no explicit signal")


def _evidence(results: Sequence[TriageResult]) -> list[EvidenceCount]:
    counts = Counter(
        text.strip()
        for r in results
        for text in r.evidence
        if text.strip() and not text.strip().startswith(_MODEL_NOTES)
    )
    return [EvidenceCount(text=t, count=n) for t, n in counts.most_common(MAX_EVIDENCE)]


def _plan(
    cases: Sequence[FailureCase],
    results: Sequence[TriageResult],
    *,
    tuning_method: TuningMethod,
    params_b: float | None,
    gpus_for_tuning: int,
) -> list[PlanStep]:
    groups: dict[Rung, list[tuple[int, FailureCase, TriageResult]]] = {}
    for index, (case, result) in enumerate(zip(cases, results, strict=True)):
        rung = ladder_rung(case, result, tuning_method=tuning_method)
        groups.setdefault(rung, []).append((index, case, result))
    total = len(results)
    ordered = sorted(groups.items(), key=lambda kv: (RUNG_TIER[kv[0]], -len(kv[1])))
    has_sft = any(r in ("lora", "qlora", "full_sft") for r in groups)
    steps = []
    for position, (rung, members) in enumerate(ordered):
        member_results = [m[2] for m in members]
        subcategories = _subcategory_counts(member_results)
        seeds = sum(m[1].expected is not None for m in members)
        title, actions, why, preconditions = wording.step_text(
            rung, subcategories, count=len(members), seeds=seeds, with_sft=has_sft
        )
        examples = 0
        if rung == "dpo":
            examples = DPO_MIN_PAIRS
        elif rung in TUNING_RUNGS:
            examples = SFT_TARGET_PER_BEHAVIOR * len(subcategories)
        steps.append(
            PlanStep(
                order=position + 1,
                when=WHEN[position] if position < len(WHEN) else "later",
                rung=rung,
                title=title,
                what_to_do=actions,
                why=why,
                share=round(len(members) / total, 4),
                case_count=len(members),
                subcategories=subcategories,
                evidence_summary=_evidence(member_results),
                examples=_examples(members),
                cost=estimate_cost(
                    rung=rung,
                    behaviors=len(subcategories),
                    examples=examples,
                    params_b=params_b,
                    gpus=gpus_for_tuning if rung in TUNING_RUNGS else 0,
                ),
                preconditions=preconditions,
            )
        )
    return steps


def _data_needs(
    plan: Sequence[PlanStep],
    cases: Sequence[FailureCase],
    results: Sequence[TriageResult],
    context: ProjectContext | None,
) -> list[DataNeed]:
    if not plan:
        return []
    needs = []
    for step in plan:
        covered = {s.subcategory for s in step.subcategories}
        seeds = sum(
            c.expected is not None
            for c, r in zip(cases, results, strict=True)
            if r.subcategory in covered
        )
        if step.rung == "dpo":
            needs.append(dpo_need(step, context, seeds))
        elif step.rung in TUNING_RUNGS:
            needs.append(sft_need(step, context, seeds))
    needs.append(holdout_need(context, sum(c.expected is not None for c in cases)))
    return needs


def _counts(results: Sequence[TriageResult]) -> CaseCounts:
    by_category = Counter(category_of(r.subcategory) for r in results)
    return CaseCounts(
        total=len(results),
        by_category={"knowledge": by_category["knowledge"], "behavior": by_category["behavior"]},
        by_subcategory={s.subcategory: s.count for s in _subcategory_counts(results)},
        needs_review=sum(r.needs_review for r in results),
        engine_versions=sorted({r.engine_version for r in results}),
    )


def _verdict(
    counts: CaseCounts,
    plan: Sequence[PlanStep],
    data_needs: Sequence[DataNeed],
    tuning: TuningAdvice | None,
) -> tuple[str, FineTuneVerdict]:
    total = counts.total
    if total == 0:
        return wording.NO_CASES_HEADLINE, FineTuneVerdict(
            answer="not yet", label="not yet", reasoning=list(wording.NO_CASES_REASONING)
        )
    knowledge = counts.by_category["knowledge"]
    tuning_steps = [s for s in plan if s.rung in TUNING_RUNGS]
    tuned_cases = sum(s.case_count for s in tuning_steps)
    sft_steps = [s for s in tuning_steps if s.rung != "dpo"]
    method_name = METHOD_NAMES[tuning.method] if tuning else "LoRA"
    if knowledge / total >= KNOWLEDGE_MAJORITY:
        headline, reasoning = wording.knowledge_verdict(
            knowledge=knowledge, total=total, tuned_cases=tuned_cases if tuning_steps else None
        )
        return headline, FineTuneVerdict(answer="no", label="no", reasoning=reasoning)
    cheap = [s for s in plan if s.rung not in TUNING_RUNGS]
    if not tuning_steps:
        return wording.untrained_headline(total, cheap), FineTuneVerdict(
            answer="not yet", label="not yet", reasoning=list(wording.NOT_YET_REASONING)
        )
    labels = []
    if sft_steps:
        labels.append(method_name)
    if any(s.rung == "dpo" for s in tuning_steps):
        labels.append("DPO")
    label = ", then ".join(labels)
    method = tuning.method if tuning and sft_steps else None
    short = [n for n in data_needs if is_short(n)]
    reasoning = wording.tuning_reasoning(
        total=total,
        tuning_steps=tuning_steps,
        cheap=cheap,
        method_name=method_name,
        does_not_fit=tuning is not None and tuning.fits is False,
        short=short,
    )
    headline = wording.tuning_headline(
        label=label, tuned_cases=tuned_cases, total=total, data_missing=bool(short)
    )
    if short:
        return headline, FineTuneVerdict(
            answer="not yet", label=f"not yet: {label}", method=method, reasoning=reasoning
        )
    return headline, FineTuneVerdict(
        answer="yes", label=f"yes: {label}", method=method, reasoning=reasoning
    )


def _eval_summaries(context: ProjectContext | None) -> list[EvalSummary]:
    if context is None:
        return []
    summaries = []
    for ev in context.evals:
        names = list(dict.fromkeys([*ev.metrics, *ev.baseline_metrics]))
        metrics = []
        for name in names:
            candidate = ev.metrics.get(name)
            baseline = ev.baseline_metrics.get(name)
            delta = (
                round(candidate - baseline, 4)
                if candidate is not None and baseline is not None
                else None
            )
            metrics.append(
                MetricComparison(name=name, candidate=candidate, baseline=baseline, delta=delta)
            )
        summaries.append(
            EvalSummary(
                name=ev.name,
                candidate=ev.candidate,
                baseline=ev.baseline,
                metrics=metrics,
                gate_decision=ev.gate_decision,
                gate_reasons=list(ev.gate_reasons),
                gate_metrics=list(ev.gate_metrics),
                gate_policy=ev.gate_policy,
            )
        )
    return summaries


def _job_summaries(context: ProjectContext | None) -> list[JobSummary]:
    if context is None:
        return []
    return [
        JobSummary(
            id=job.id,
            recipe=job.recipe,
            rung=recipe_rung(job.recipe),
            state=job.state,
            epochs=job_epochs(job),
            metrics={
                k: float(v)
                for k, v in job.metrics.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            },
        )
        for job in context.jobs
    ]


def _gpus_needed(tuning: TuningAdvice | None) -> int:
    if tuning is None or tuning.gpu_memory_gb is None or not tuning.memory:
        return 1
    chosen = next(m for m in tuning.memory if m.method == tuning.method)
    return max(1, math.ceil(chosen.total_gb / (tuning.gpu_memory_gb * USABLE_FRACTION)))


def build_recommendation(
    *,
    cases: Sequence[FailureCase],
    results: Sequence[TriageResult],
    context: ProjectContext | None = None,
) -> Recommendation:
    """The recommendation for a project from its failure cases and their triage results.

    `cases[i]` and `results[i]` describe the same failure. Raises AdvisoryInputError when the two
    lists differ in length.
    """
    if len(cases) != len(results):
        raise AdvisoryInputError(
            f"got {len(cases)} cases but {len(results)} triage results: pass one triage result "
            "per case, in the same order"
        )
    needs_tuning = any(
        ladder_rung(c, r, tuning_method="lora") in TUNING_RUNGS
        for c, r in zip(cases, results, strict=True)
    )
    with_dpo = any(r.subcategory == "preference" for r in results)
    tuning = tuning_advice(context=context, with_dpo=with_dpo) if needs_tuning else None
    plan = _plan(
        cases,
        results,
        tuning_method=tuning.method if tuning else "lora",
        params_b=context.params_b if context else None,
        gpus_for_tuning=_gpus_needed(tuning),
    )
    counts = _counts(results)
    data_needs = _data_needs(plan, cases, results, context)
    headline, verdict = _verdict(counts, plan, data_needs, tuning)
    warnings = detect_antipatterns(
        cases=cases, results=results, context=context, plan=plan, data_needs=data_needs
    )
    return Recommendation(
        headline=headline,
        should_fine_tune=verdict,
        counts=counts,
        plan=plan,
        warnings=warnings,
        tuning=tuning,
        data_needs=data_needs,
        evals=_eval_summaries(context),
        jobs=_job_summaries(context),
    )
