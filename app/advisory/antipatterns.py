"""Warnings for the ways teams commonly waste a fine-tuning budget, when the project shows them."""

from __future__ import annotations

from collections.abc import Sequence

from app.advisory.context import (
    datasets,
    has_holdout,
    job_epochs,
    recipe_rung,
    training_formats,
)
from app.advisory.data_needs import DPO_MIN_PAIRS, SFT_MIN_PER_BEHAVIOR, is_short, minimum_for
from app.advisory.schemas import (
    DATA_NEED_NAMES,
    RUNG_NAMES,
    TUNING_RUNGS,
    AntiPatternWarning,
    DataNeed,
    JobInfo,
    PlanStep,
    ProjectContext,
)
from app.cases.schemas import KNOWLEDGE_SUBCATEGORIES, FailureCase
from app.triage.result import TriageResult

MAX_EPOCHS = 2
MAX_FULL_SFT_JOBS = 1
MAX_SYNTHETIC_SHARE = 0.5
REVIEW_SHARE = 0.25
KNOWLEDGE_MAJORITY = 0.5
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def _tuning_jobs(context: ProjectContext | None) -> list[JobInfo]:
    if context is None:
        return []
    return [j for j in context.jobs if recipe_rung(j.recipe) in TUNING_RUNGS]


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "0%"


def _knowledge_tuning(
    cases: Sequence[FailureCase], results: Sequence[TriageResult], tuning_jobs: list[JobInfo]
) -> list[AntiPatternWarning]:
    total = len(results)
    knowledge = [
        (case, result)
        for case, result in zip(cases, results, strict=True)
        if result.subcategory in KNOWLEDGE_SUBCATEGORIES
    ]
    tried = [c for c, _ in knowledge if {"lora", "dpo"} & set(c.attempted)]
    warnings = []
    if tried:
        warnings.append(
            AntiPatternWarning(
                code="tuning_for_knowledge",
                severity="critical",
                message=f"{len(tried)} knowledge failure(s) were already treated with LoRA or "
                "DPO. Tuning teaches a style, not facts: the model will still not know them, "
                "and facts it memorises go stale when they change.",
                what_to_do="Stop tuning for these cases; put the facts in a retrieval index and "
                "measure whether the right passage is retrieved.",
            )
        )
    if tuning_jobs and total and len(knowledge) / total >= KNOWLEDGE_MAJORITY:
        recipes = ", ".join(sorted({j.recipe for j in tuning_jobs}))
        warnings.append(
            AntiPatternWarning(
                code="tuning_for_knowledge",
                severity="critical",
                message=f"The project ran tuning jobs ({recipes}) while "
                f"{_pct(len(knowledge), total)} of its failures are missing, stale or "
                "badly retrieved knowledge, which tuning does not fix.",
                what_to_do="Fix retrieval first; tune only for behaviours that prompting could "
                "not fix, and measure each on a holdout.",
            )
        )
    return warnings


def _stale_in_training(
    results: Sequence[TriageResult], plan: Sequence[PlanStep], tuning_jobs: list[JobInfo]
) -> list[AntiPatternWarning]:
    stale = sum(r.subcategory == "stale_knowledge" for r in results)
    tuning = any(s.rung in TUNING_RUNGS for s in plan) or bool(tuning_jobs)
    if not stale or not tuning:
        return []
    return [
        AntiPatternWarning(
            code="stale_knowledge_in_training",
            severity="warning",
            message=f"{stale} failure(s) ({_pct(stale, len(results))}) are outdated facts "
            "while tuning is on the table. Facts baked into weights are frozen at training "
            "time: prices, versions and policies in training examples will go stale again.",
            what_to_do="Keep changing facts out of the training examples (use placeholders or "
            "retrieved context in them) and serve them from a re-indexed source.",
        )
    ]


def _holdout_and_evals(
    context: ProjectContext | None, plan: Sequence[PlanStep], tuning_jobs: list[JobInfo]
) -> list[AntiPatternWarning]:
    warnings = []
    if plan and not has_holdout(context):
        warnings.append(
            AntiPatternWarning(
                code="no_holdout",
                severity="critical" if tuning_jobs else "warning",
                message="The project has no holdout set: nothing shows whether a prompt, an "
                "index or an adapter made things better or worse."
                + (" Tuning jobs have already run without one." if tuning_jobs else ""),
                what_to_do="Set aside at least 30, better 50, representative cases that are "
                "never trained on, and gate every change on them.",
            )
        )
    finished = [j for j in tuning_jobs if j.state == "succeeded"]
    if finished and context is not None and not context.evals:
        warnings.append(
            AntiPatternWarning(
                code="no_evals",
                severity="warning",
                message=f"{len(finished)} tuning job(s) finished but no candidate was "
                "evaluated against the baseline.",
                what_to_do="Evaluate each candidate against the current model on the holdout "
                "before promoting it.",
            )
        )
    return warnings


def _formats(context: ProjectContext | None) -> list[AntiPatternWarning]:
    formats = training_formats(context)
    if len(formats) <= 1:
        return []
    return [
        AntiPatternWarning(
            code="mixed_formats",
            severity="warning",
            message=f"The training data mixes {len(formats)} record formats "
            f"({', '.join(formats)}). The model learns the inconsistency: answers drift "
            "between templates, and loss masking of the prompt breaks.",
            what_to_do="Convert every record to one chat format (messages with roles) and "
            "render it with the base model's own chat template.",
        )
    ]


def _synthetic(context: ProjectContext | None) -> list[AntiPatternWarning]:
    heavy = [
        d
        for d in datasets(context)
        if d.kind in ("sft", "preference")
        and d.synthetic_share is not None
        and d.synthetic_share > MAX_SYNTHETIC_SHARE
    ]
    if not heavy:
        return []
    names = ", ".join(f"{d.name or d.kind} ({d.synthetic_share:.0%})" for d in heavy)
    return [
        AntiPatternWarning(
            code="mostly_synthetic",
            severity="warning",
            message=f"Training data is mostly synthetic: {names}. A model tuned on another "
            "model's answers learns its quirks, not your users' needs.",
            what_to_do="Review synthetic records by hand and mix in real, curated examples "
            "from the failure cases before training.",
        )
    ]


def _job_minimum(job: JobInfo) -> int:
    return DPO_MIN_PAIRS if recipe_rung(job.recipe) == "dpo" else SFT_MIN_PER_BEHAVIOR


def _too_few(
    data_needs: Sequence[DataNeed], tuning_jobs: list[JobInfo]
) -> list[AntiPatternWarning]:
    warnings = []
    for job in tuning_jobs:
        minimum = _job_minimum(job)
        if job.train_rows is not None and job.train_rows < minimum:
            warnings.append(
                AntiPatternWarning(
                    code="too_few_examples",
                    severity="warning",
                    message=f"Job {job.id or job.recipe} ({job.recipe}) trained on "
                    f"{job.train_rows} records; {minimum} is the least that is worth a run.",
                    what_to_do="Collect and curate more examples before the next run; until "
                    "then, treat its eval results as noise.",
                )
            )
    for need in data_needs:
        if need.kind != "holdout" and is_short(need):
            record = DATA_NEED_NAMES[need.kind]
            minimum = minimum_for(need)
            better = f" (better {need.need})" if need.need > minimum else ""
            rung = RUNG_NAMES[need.for_rung] if need.for_rung else "tuning"
            warnings.append(
                AntiPatternWarning(
                    code="too_few_examples",
                    severity="warning",
                    message=f"The plan calls for {rung} but the project has "
                    f"{need.have} {record}; it needs at least {minimum}{better}.",
                    what_to_do=f"Collect {need.to_collect} more {record}"
                    + (
                        f"; {need.seeds_from_cases} failure cases already carry an expected "
                        "answer and can seed them."
                        if need.seeds_from_cases
                        else "."
                    ),
                )
            )
    return warnings


def _epochs(tuning_jobs: list[JobInfo]) -> list[AntiPatternWarning]:
    warnings = []
    for job in tuning_jobs:
        epochs = job_epochs(job)
        if epochs is not None and epochs > MAX_EPOCHS:
            warnings.append(
                AntiPatternWarning(
                    code="too_many_epochs",
                    severity="warning",
                    message=f"Job {job.id or job.recipe} ({job.recipe}) ran {epochs:g} epochs. "
                    "Past one or two passes a small dataset is memorised: training loss keeps "
                    "falling while the holdout gets worse.",
                    what_to_do="Train 1 epoch (2 at most) and add data rather than passes; "
                    "keep the checkpoint with the best holdout score.",
                )
            )
    return warnings


def _full_copies(tuning_jobs: list[JobInfo]) -> list[AntiPatternWarning]:
    full = [j for j in tuning_jobs if recipe_rung(j.recipe) == "full_sft"]
    if len(full) <= MAX_FULL_SFT_JOBS:
        return []
    return [
        AntiPatternWarning(
            code="full_copies",
            severity="warning",
            message=f"{len(full)} full fine-tuning jobs: each one leaves a complete copy of "
            "the model to store, serve and keep up to date.",
            what_to_do="Train LoRA adapters instead: one base model in memory, a small adapter "
            "per variant, swapped per request.",
        )
    ]


def _review(results: Sequence[TriageResult]) -> list[AntiPatternWarning]:
    flagged = sum(r.needs_review for r in results)
    if not results or flagged / len(results) < REVIEW_SHARE:
        return []
    return [
        AntiPatternWarning(
            code="triage_uncertain",
            severity="info",
            message=f"{flagged} of {len(results)} cases ({_pct(flagged, len(results))}) were "
            "triaged with low confidence; the shares in this plan may move once they are "
            "reviewed.",
            what_to_do="Have someone label the flagged cases; the plan updates with the labels.",
        )
    ]


def detect_antipatterns(
    *,
    cases: Sequence[FailureCase],
    results: Sequence[TriageResult],
    context: ProjectContext | None,
    plan: Sequence[PlanStep],
    data_needs: Sequence[DataNeed],
) -> list[AntiPatternWarning]:
    """Every anti-pattern the project shows, most severe first."""
    tuning_jobs = _tuning_jobs(context)
    warnings = [
        *_knowledge_tuning(cases, results, tuning_jobs),
        *_stale_in_training(results, plan, tuning_jobs),
        *_holdout_and_evals(context, plan, tuning_jobs),
        *_formats(context),
        *_synthetic(context),
        *_too_few(data_needs, tuning_jobs),
        *_epochs(tuning_jobs),
        *_full_copies(tuning_jobs),
        *_review(results),
    ]
    return sorted(warnings, key=lambda w: SEVERITY_ORDER[w.severity])
