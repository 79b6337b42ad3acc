"""Stored eval runs and gate decisions. The statistics live in `evals/`; this is persistence."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import InvalidInputError, NotFoundError
from app.evaluation.models import EvalExample, EvalRun, GateDecision
from app.projects.models import Project
from app.teams.models import Team
from evals.errors import EvalError
from evals.gate import compare_runs
from evals.policy import GatePolicy
from evals.results import ExampleResult, RunResult, summarize

_KNOWN_EXAMPLE_FIELDS = {"id", "scores", "output"}


def parse_result(data: dict[str, Any]) -> RunResult:
    try:
        result = RunResult.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        raise InvalidInputError(
            f"result is not a run result: {errors[0]['field']}: {errors[0]['message']}",
            errors=errors,
        ) from exc
    ids = [e.id for e in result.examples]
    if not ids:
        raise InvalidInputError("result has no examples")
    if len(ids) != len(set(ids)):
        raise InvalidInputError("example ids must be unique within a run")
    return result


def store_run(
    session: Session,
    *,
    project: Project,
    result: RunResult,
    name: str = "",
    candidate: str = "",
    dataset: str = "",
) -> EvalRun:
    summary = result.summary or summarize(result.examples)
    run = EvalRun(
        project_id=project.id,
        name=name or str(result.run.get("name", "")),
        candidate=candidate or str(result.run.get("model", result.run.get("candidate", ""))),
        dataset=dataset or str(result.run.get("dataset", "")),
        meta=result.run,
        summary={k: v.model_dump() for k, v in summary.items()},
        judge=result.judge,
        n_examples=len(result.examples),
    )
    session.add(run)
    session.flush()
    session.add_all(
        EvalExample(
            run_id=run.id,
            example_id=example.id,
            scores=example.scores,
            output=example.output,
            extra=example.model_dump(mode="json", exclude=_KNOWN_EXAMPLE_FIELDS),
        )
        for example in result.examples
    )
    session.flush()
    return run


def get_run(session: Session, *, team: Team, run_id: str) -> EvalRun:
    """A run of any of the team's projects; another team's run is 404."""
    stmt = (
        select(EvalRun)
        .join(Project, Project.id == EvalRun.project_id)
        .where(EvalRun.id == run_id, Project.team_id == team.id)
    )
    run = session.scalar(stmt)
    if run is None:
        raise NotFoundError(f"eval run {run_id!r} not found")
    return run


def list_runs(session: Session, *, project: Project) -> list[EvalRun]:
    stmt = (
        select(EvalRun)
        .where(EvalRun.project_id == project.id)
        .order_by(EvalRun.created_at.desc(), EvalRun.id)
    )
    return list(session.scalars(stmt))


def run_result(session: Session, *, run: EvalRun) -> RunResult:
    rows = session.scalars(
        select(EvalExample).where(EvalExample.run_id == run.id).order_by(EvalExample.id)
    )
    examples = [
        ExampleResult.model_validate(
            {**row.extra, "id": row.example_id, "scores": row.scores, "output": row.output}
        )
        for row in rows
    ]
    return RunResult(
        run={**run.meta, "id": run.id, "name": run.name, "candidate": run.candidate},
        examples=examples,
        summary=summarize(examples),
        judge=run.judge,
    )


def gate(
    session: Session,
    *,
    project: Project,
    team: Team,
    baseline_id: str,
    candidate_id: str,
    policy: dict[str, Any] | None,
    actor: str,
) -> GateDecision:
    baseline = get_run(session, team=team, run_id=baseline_id)
    candidate = get_run(session, team=team, run_id=candidate_id)
    for run in (baseline, candidate):
        if run.project_id != project.id:
            raise NotFoundError(f"eval run {run.id!r} not found in project {project.name!r}")
    try:
        parsed_policy = GatePolicy.model_validate(policy or {})
    except ValidationError as exc:
        raise InvalidInputError(
            f"policy is not valid: {exc.errors()[0]['msg']}",
            errors=[
                {"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()
            ],
        ) from exc
    try:
        report = compare_runs(
            baseline=run_result(session, run=baseline),
            candidate=run_result(session, run=candidate),
            policy=parsed_policy,
        )
    except EvalError as exc:
        raise InvalidInputError(str(exc)) from exc
    decision = GateDecision(
        project_id=project.id,
        baseline_run_id=baseline.id,
        candidate_run_id=candidate.id,
        status=report.status,
        report=report.model_dump(mode="json"),
        policy=parsed_policy.model_dump(mode="json"),
        actor=actor,
    )
    session.add(decision)
    session.flush()
    return decision


def get_gate(session: Session, *, project: Project, gate_id: str) -> GateDecision:
    decision = session.scalar(
        select(GateDecision).where(
            GateDecision.id == gate_id, GateDecision.project_id == project.id
        )
    )
    if decision is None:
        raise NotFoundError(f"gate decision {gate_id!r} not found in project {project.name!r}")
    return decision
