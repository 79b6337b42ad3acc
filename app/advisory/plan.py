"""The per-project recommendation: which rung of the ladder fixes which failures, in what order.

The ladder (LABELS.md): knowledge failures are fixed by retrieval, never by tuning; behaviour
failures first by prompting with validators, then by LoRA SFT once prompting has been tried
(QLoRA when memory is tight); preferences among acceptable answers by DPO (after SFT where both
apply; it needs preference pairs). Steps are ordered by cost-effectiveness: the rungs that need
no training first, then SFT, then DPO; within a tier the step that fixes more cases first.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

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
from app.advisory.schemas import (
    DATA_NEED_NAMES,
    RUNG_NAMES,
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
SUBCATEGORY_NAMES: dict[str, str] = {
    "missing_knowledge": "missing knowledge",
    "stale_knowledge": "stale knowledge",
    "retrieval_gap": "retrieval gaps",
    "format": "format",
    "style": "style",
    "procedure": "procedure",
    "grounding": "grounding",
    "preference": "preference",
}

_ACTIONS: dict[str, str] = {
    "missing_knowledge": "Missing knowledge: index the private sources these answers need "
    "(policies, catalogue, account data) and retrieve them into the prompt.",
    "stale_knowledge": "Stale knowledge: serve changing facts (prices, versions, rules) from a "
    "source that is re-indexed when it changes, with a date on each passage.",
    "retrieval_gap": "Retrieval gaps: the context missed or mis-ranked the fact. Check chunking, "
    "add keyword + embedding (hybrid) search and a reranker, and turn these cases into a "
    "retrieval eval (question -> passage that answers it).",
    "format": "Format: put the output schema and one worked example in the system prompt; "
    "validate every answer (JSON schema, length, language) and retry once with the error.",
    "style": "Style: write the style guide into the system prompt with two or three do/don't "
    "examples; check length and banned phrases automatically.",
    "procedure": "Procedure: state the required steps (ask, escalate, follow the policy) as a "
    "numbered checklist in the prompt and validate that the required step is present.",
    "grounding": "Grounding: instruct the model to answer only from the supplied context and "
    "to quote it; reject answers a faithfulness check cannot support from the context.",
}


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


def _names(subcategories: list[SubcategoryCount]) -> str:
    names = [SUBCATEGORY_NAMES[s.subcategory] for s in subcategories]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _step_text(
    rung: Rung,
    subcategories: list[SubcategoryCount],
    *,
    count: int,
    seeds: int,
    with_sft: bool,
) -> tuple[str, list[str], str, list[str]]:
    """Title, actions, why and preconditions of one step."""
    names = _names(subcategories)
    if rung == "rag":
        return (
            f"Fix retrieval for {names}",
            [_ACTIONS[s.subcategory] for s in subcategories],
            f"{count} failures are facts the model does not have or has out of date. "
            "Retrieval puts the current fact in the prompt; fine-tuning cannot, because facts "
            "trained into weights are frozen at training time and are recalled unreliably.",
            [
                "Access to the source documents behind the failing answers.",
                "A retrieval eval: each failing question with the passage that answers it.",
            ],
        )
    if rung == "prompting":
        return (
            f"Prompt and validate: {names}",
            [_ACTIONS[s.subcategory] for s in subcategories],
            f"{count} behaviour failures have not been tried with prompting yet. Instructions, "
            "worked examples and an automatic validator with one retry fix most of them in "
            "days, with no training, and they can be changed at any time.",
            ["The failing cases re-run against the new prompt to confirm the fix."],
        )
    if rung == "dpo":
        actions = [
            "Collect preference pairs: the same prompt with a preferred and a rejected answer "
            "(from A/B tests, thumbs up/down, reviewers choosing between two drafts).",
            "Train DPO with a LoRA adapter (the base with the adapter off is the reference).",
            "Gate it with a pairwise judge on the holdout against the current model.",
        ]
        pre = [
            "At least 300 preference pairs"
            + (
                f" ({seeds} failure cases with an expected answer are pairs already)."
                if seeds
                else "."
            ),
            "A holdout of prompts with known preferred answers.",
        ]
        if with_sft:
            pre.insert(0, "The SFT step is done: DPO starts from the SFT adapter.")
        return (
            "Teach preferences with DPO",
            actions,
            f"{count} answers are acceptable but people prefer another. That is a ranking "
            "signal, which DPO learns directly from pairs; SFT on single answers cannot.",
            pre,
        )
    method = METHOD_NAMES[rung]
    return (
        f"Fine-tune with {method} for {names}",
        [
            "Curate 50-100 examples per behaviour: the input and the ideal answer, in one chat "
            "format"
            + (
                f"; start from the {seeds} cases that already have an expected answer."
                if seeds
                else "."
            ),
            f"Train a {method} adapter: r=16, alpha=32, learning rate 2e-4, 1 epoch, "
            "all linear layers.",
            "Keep the prompt and validators from the prompting step; compare the adapter "
            "against base + prompt on the holdout and promote only if the gate passes.",
        ],
        f"{count} behaviour failures persisted after prompting was tried. A behaviour that "
        "instructions cannot hold (a house format, a procedure) is learnt from examples; "
        "an adapter changes behaviour without a full copy of the model.",
        [
            "Prompting and validators were tried for these behaviours and are still in place.",
            "A holdout of 30-50 cases never used in training.",
        ],
    )


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
        title, actions, why, preconditions = _step_text(
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


def _step_list(steps: Sequence[PlanStep]) -> str:
    return "; ".join(
        f"{_names(s.subcategories)} with {RUNG_NAMES[s.rung]} ({s.case_count})" for s in steps
    )


def _verdict(
    counts: CaseCounts,
    plan: Sequence[PlanStep],
    data_needs: Sequence[DataNeed],
    tuning: TuningAdvice | None,
) -> tuple[str, FineTuneVerdict]:
    total = counts.total
    if total == 0:
        return (
            "No failure cases yet: nothing to recommend.",
            FineTuneVerdict(
                answer="not yet",
                label="not yet",
                reasoning=["Add the failures your users report; the plan is built from them."],
            ),
        )
    knowledge = counts.by_category["knowledge"]
    knowledge_share = knowledge / total
    tuning_steps = [s for s in plan if s.rung in TUNING_RUNGS]
    tuned_cases = sum(s.case_count for s in tuning_steps)
    sft_steps = [s for s in tuning_steps if s.rung != "dpo"]
    method_name = METHOD_NAMES[tuning.method] if tuning else "LoRA"
    if knowledge_share >= KNOWLEDGE_MAJORITY:
        reasoning = [
            f"{knowledge} of {total} failures ({knowledge_share:.0%}) are knowledge problems: "
            "facts the model lacks, has out of date, or was not given by retrieval.",
            "Fine-tuning does not add reliable, updatable knowledge; retrieval does.",
        ]
        if tuning_steps:
            reasoning.append(
                f"{tuned_cases} behaviour failures may justify tuning later; decide after "
                "retrieval is fixed and re-measured."
            )
        return (
            f"Do not fine-tune; fix retrieval. {knowledge_share:.0%} of failures are missing "
            "or outdated knowledge, which tuning cannot fix.",
            FineTuneVerdict(answer="no", label="no", reasoning=reasoning),
        )
    cheap = [s for s in plan if s.rung not in TUNING_RUNGS]
    cheap_cases = sum(s.case_count for s in cheap)
    if not tuning_steps:
        rungs = " and ".join(
            {"prompting": "prompting with validators", "rag": "retrieval"}[s.rung] for s in cheap
        )
        return (
            f"Not yet: fix these {total} failures with {rungs} first. None of them calls for "
            "fine-tuning yet.",
            FineTuneVerdict(
                answer="not yet",
                label="not yet",
                reasoning=[
                    "No behaviour failure has survived a prompting attempt, and no preference "
                    "signal calls for DPO.",
                    "Tune only the behaviours that the prompting step does not fix; record "
                    "'prompting' in the cases' attempted list when you have tried it.",
                ],
            ),
        )
    labels = []
    if sft_steps:
        labels.append(method_name)
    if any(s.rung == "dpo" for s in tuning_steps):
        labels.append("DPO")
    label = ", then ".join(labels)
    method = tuning.method if tuning and sft_steps else None
    short = [n for n in data_needs if is_short(n)]
    reasoning = [
        f"{tuned_cases} of {total} failures ({tuned_cases / total:.0%}) are behaviours that "
        f"tuning fixes: {_step_list(tuning_steps)}.",
    ]
    if cheap_cases:
        reasoning.append(
            f"The other {cheap_cases} are fixed without training: {_step_list(cheap)}."
        )
    if tuning is not None and tuning.fits is False:
        reasoning.append(f"{method_name} does not fit the GPU at hand (see the memory estimate).")
    if short:
        reasoning += [
            f"Collect {n.to_collect} more {DATA_NEED_NAMES[n.kind]} first "
            f"(have {n.have}, aim for {n.need})."
            for n in short
        ]
        return (
            f"Not yet: {label} is the right fix for {tuned_cases} failures "
            f"({tuned_cases / total:.0%}), but the data to train and test it is missing.",
            FineTuneVerdict(
                answer="not yet", label=f"not yet: {label}", method=method, reasoning=reasoning
            ),
        )
    return (
        f"Yes: fine-tune with {label} for {tuned_cases} behaviour failures "
        f"({tuned_cases / total:.0%}); fix the rest without training.",
        FineTuneVerdict(answer="yes", label=f"yes: {label}", method=method, reasoning=reasoning),
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
