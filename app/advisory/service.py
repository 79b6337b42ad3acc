"""The recommendation and report of a stored project: cases, triage and project context."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.advisory import stored
from app.advisory.model_size import params_b_from_name
from app.advisory.plan import build_recommendation
from app.advisory.report import render_report
from app.advisory.schemas import DatasetInfo, EvalInfo, JobInfo, ProjectContext, Recommendation
from app.cases import service as cases
from app.cases.models import Case
from app.config import Settings
from app.datasets.models import DatasetVersion
from app.evaluation.models import EvalRun, GateDecision
from app.evaluation.report_rows import gate_metrics
from app.fixes.report_data import failures_by_model_version, fix_lines
from app.jobs.models import Job
from app.projects.models import Project
from app.teams.models import Team
from app.triage import service as triage
from app.triage.result import TriageResult

_DATASET_KINDS = {"sft", "preference", "holdout", "cases", "documents"}


@dataclass(frozen=True)
class Sizing:
    """A request's base model and GPU memory for the tuning advice (None: not given)."""

    base_model: str | None = None
    gpu_memory_gb: float | None = None


def project_context(
    session: Session, *, project: Project, settings: Settings, sizing: Sizing = Sizing()
) -> ProjectContext:
    """What the advice depends on. The base model and GPU memory come from the request when
    given, else from the project, else from the settings."""
    base_model = sizing.base_model or project.base_model or settings.base_model
    return ProjectContext(
        datasets=_datasets(session, project=project),
        jobs=_jobs(session, project=project),
        evals=_evals(session, project=project),
        base_model=base_model,
        params_b=params_b_from_name(base_model),
        gpu_memory_gb=sizing.gpu_memory_gb or project.gpu_memory_gb or settings.gpu_memory_gb,
    )


def _datasets(session: Session, *, project: Project) -> list[DatasetInfo]:
    """The latest version of each dataset name (older versions are history, not current data)."""
    stmt = (
        select(DatasetVersion)
        .where(DatasetVersion.project_id == project.id)
        .order_by(DatasetVersion.created_at.desc())
    )
    latest: dict[str, DatasetVersion] = {}
    for version in session.scalars(stmt):
        latest.setdefault(version.name, version)
    return [
        DatasetInfo(
            name=v.name,
            kind=v.kind if v.kind in _DATASET_KINDS else "other",
            rows=v.rows_train,
            has_holdout=v.rows_holdout > 0,
            holdout_rows=v.rows_holdout,
            formats=[v.format],
            synthetic_share=v.synthetic_share,
        )
        for v in latest.values()
    ]


def _jobs(session: Session, *, project: Project) -> list[JobInfo]:
    stmt = select(Job).where(Job.project_id == project.id).order_by(Job.created_at)
    rows_by_sha = {
        v.sha256: v.rows_train
        for v in session.scalars(
            select(DatasetVersion).where(DatasetVersion.project_id == project.id)
        )
    }
    return [
        JobInfo(
            id=job.id,
            recipe=job.recipe,
            state=job.state,
            train_rows=rows_by_sha.get(job.dataset_sha256),
            config=job.config or {},
            metrics=job.metrics or {},
        )
        for job in session.scalars(stmt)
    ]


def _means(run: EvalRun) -> dict[str, float]:
    return {
        metric: float(stats["mean"])
        for metric, stats in (run.summary or {}).items()
        if isinstance(stats, dict) and isinstance(stats.get("mean"), int | float)
    }


def _evals(session: Session, *, project: Project) -> list[EvalInfo]:
    """Each gated candidate run with its latest decision, then runs not gated yet."""
    runs = {
        r.id: r for r in session.scalars(select(EvalRun).where(EvalRun.project_id == project.id))
    }
    decisions = session.scalars(
        select(GateDecision)
        .where(GateDecision.project_id == project.id)
        .order_by(GateDecision.created_at)
    )
    latest: dict[str, GateDecision] = {}
    for decision in decisions:
        latest[decision.candidate_run_id] = decision
    infos: list[EvalInfo] = []
    for candidate_id, decision in latest.items():
        candidate, baseline = runs[candidate_id], runs[decision.baseline_run_id]
        reasons = [
            f"{d.get('metric')}: {d.get('reason')}"
            for d in decision.report.get("decisions", [])
            if d.get("status") in ("fail", "undecided")
        ]
        infos.append(
            EvalInfo(
                name=candidate.name or candidate.id,
                candidate=candidate.candidate or candidate.id,
                baseline=baseline.candidate or baseline.name or baseline.id,
                metrics=_means(candidate),
                baseline_metrics=_means(baseline),
                gate_decision=decision.status
                if decision.status in ("pass", "fail", "undecided")
                else "fail",
                gate_reasons=reasons,
                gate_metrics=gate_metrics(decision.report),
                gate_policy=decision.report.get("policy_source"),
            )
        )
    gated = set(latest) | {d.baseline_run_id for d in latest.values()}
    infos.extend(
        EvalInfo(name=run.name or run.id, candidate=run.candidate or run.id, metrics=_means(run))
        for run_id, run in runs.items()
        if run_id not in gated
    )
    return infos


def recommendation(
    session: Session, *, project: Project, settings: Settings, sizing: Sizing = Sizing()
) -> Recommendation:
    """The worker's stored recommendation when it was made for this context (the usual case:
    one row read, however many cases); else computed here from the cases the worker triaged.
    With RUNG_TRIAGE_ON_INGEST=false no worker triages: untriaged cases are triaged here, on
    every read, and nothing is stored."""
    context = project_context(session, project=project, settings=settings, sizing=sizing)
    if settings.triage_on_ingest:
        saved = stored.load(session, project=project, context=context)
        if saved is not None:
            return saved
        return compute(session, project=project, context=context)
    rows = cases.all_cases(session, project=project)
    return build_recommendation(
        cases=[cases.to_failure_case(r) for r in rows],
        results=triage.triaged_now(rows),
        context=context,
    )


def recommendation_json(
    session: Session, *, project: Project, settings: Settings, sizing: Sizing = Sizing()
) -> dict[str, Any]:
    """`recommendation` as JSON; the stored one goes out as stored, without a round trip
    through the model."""
    if settings.triage_on_ingest:
        context = project_context(session, project=project, settings=settings, sizing=sizing)
        saved = stored.load_json(session, project=project, context=context)
        if saved is not None:
            return saved
        return compute(session, project=project, context=context).model_dump(mode="json")
    rec = recommendation(session, project=project, settings=settings, sizing=sizing)
    return rec.model_dump(mode="json")


def compute(session: Session, *, project: Project, context: ProjectContext) -> Recommendation:
    """The recommendation over the cases triaged so far (pending cases are left out)."""
    rows = triaged_cases(session, project=project)
    return build_recommendation(
        cases=[cases.to_failure_case(r) for r in rows],
        results=[TriageResult.model_validate(r.triage) for r in rows],
        context=context,
    )


def triaged_cases(session: Session, *, project: Project) -> list[Case]:
    stmt = (
        select(Case)
        .where(Case.project_id == project.id, Case.triage_version.is_not(None))
        .order_by(Case.created_at, Case.id)
    )
    return list(session.scalars(stmt))


def refresh_stored(
    session: Session, *, project: Project, settings: Settings, engine_version: str
) -> None:
    """Recompute and store the project's recommendation for its default sizing (the worker)."""
    context = project_context(session, project=project, settings=settings)
    rows = triaged_cases(session, project=project)
    rec = build_recommendation(
        cases=[cases.to_failure_case(r) for r in rows],
        results=[TriageResult.model_validate(r.triage) for r in rows],
        context=context,
    )
    stored.save(
        session,
        project_id=project.id,
        context=context,
        engine_version=engine_version,
        cases_triaged=len(rows),
        recommendation=rec,
    )


def is_stale(session: Session, *, project: Project, settings: Settings) -> bool:
    """Whether the stored recommendation misses a change (cases triaged or deleted since, or
    another dataset, job or eval)."""
    row = session.get(stored.StoredRecommendation, project.id)
    if row is None:
        return True
    context = project_context(session, project=project, settings=settings)
    triaged = session.scalar(
        select(func.count()).where(
            Case.project_id == project.id, Case.triage_version.is_not(None)
        )
    )
    return row.context_sha256 != stored.context_key(context) or row.cases_triaged != triaged


def report_html(
    session: Session, *, project: Project, team: Team, settings: Settings, sizing: Sizing = Sizing()
) -> str:
    return render_report(
        recommendation(session, project=project, settings=settings, sizing=sizing),
        project_name=project.name,
        team_name=team.name,
        generated_at=datetime.now(UTC),
        fixes=fix_lines(session, project=project),
        model_versions=failures_by_model_version(session, project=project),
    )
