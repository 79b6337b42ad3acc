"""Stored eval runs and gate decisions. The statistics live in `evals/`; this is persistence."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import tracking
from app.core.errors import ConflictError, InvalidInputError, NotFoundError
from app.evaluation import policies
from app.evaluation.models import EvalExample, EvalRun, GateDecision
from app.projects.models import Project
from app.teams.models import Team
from evals.errors import EvalError, PolicyError
from evals.gate import compare_runs, metric_scales
from evals.policy import loosenings, merge_policy
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
    tracked = tracking.log_eval_run(
        run_id=run.id,
        project=project.name,
        name=run.name,
        candidate=run.candidate,
        dataset=run.dataset,
        n_examples=run.n_examples,
        summary=run.summary,
        judge=run.judge,
    )
    if tracked:
        run.meta = {**(run.meta or {}), "mlflow_run_id": tracked}
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
    """Gate a candidate run against a baseline run of the same dataset under the project's
    stored policy, which the request's ``policy`` may tighten but never loosen."""
    if baseline_id == candidate_id:
        raise InvalidInputError(
            f"run {candidate_id} cannot be gated against itself (every difference is 0): use the "
            "champion's run as the baseline, or the base model's run (version 0) for a first "
            "champion"
        )
    baseline = get_run(session, team=team, run_id=baseline_id)
    candidate = get_run(session, team=team, run_id=candidate_id)
    for run in (baseline, candidate):
        if run.project_id != project.id:
            raise NotFoundError(f"eval run {run.id!r} not found in project {project.name!r}")
    base_result = run_result(session, run=baseline)
    cand_result = run_result(session, run=candidate)
    _same_dataset(baseline, candidate, base_result, cand_result)
    version, stored = policies.current(session, project=project)
    try:
        effective = merge_policy(stored, policy)
    except PolicyError as exc:
        raise InvalidInputError(str(exc)) from exc
    looser = loosenings(stored, effective, scales=metric_scales(base_result, cand_result))
    if looser:
        raise InvalidInputError(
            f"the request's policy loosens the project's gate policy (version {version}): "
            + "; ".join(looser)
            + f". A request may only tighten it; change the policy itself with PUT "
            f"/v1/projects/{project.name}/gate-policy",
            errors=[{"field": "policy", "message": problem} for problem in looser],
        )
    source = f"project {project.name!r} gate policy version {version}" + (
        " (built-in defaults)" if version == 0 else ""
    )
    if policy:
        source += ", tightened by the request"
    try:
        report = compare_runs(
            baseline=base_result, candidate=cand_result, policy=effective, policy_source=source
        )
    except EvalError as exc:
        raise InvalidInputError(str(exc)) from exc
    if not [d for d in report.decisions if d.gated and d.status != "skipped"]:
        raise InvalidInputError(
            "every metric was skipped, so this gate could never pass: gate at least one metric "
            f"both runs carry ({', '.join(base_result.metrics()) or 'none'}) in the policy"
        )
    decision = GateDecision(
        project_id=project.id,
        baseline_run_id=baseline.id,
        candidate_run_id=candidate.id,
        status=report.status,
        report=report.model_dump(mode="json"),
        policy=effective.model_dump(mode="json"),
        policy_version=version,
        actor=actor,
    )
    session.add(decision)
    session.flush()
    tracking.log_gate_decision(
        decision_id=decision.id,
        project=project.name,
        baseline_run=baseline.id,
        candidate_run=candidate.id,
        report=decision.report,
        policy_version=version,
    )
    return decision


def _same_dataset(
    baseline: EvalRun, candidate: EvalRun, base_result: RunResult, cand_result: RunResult
) -> None:
    """409 unless both runs scored the same dataset version: same hash, same example ids."""
    base_hash = baseline.meta.get("dataset_sha256")
    cand_hash = candidate.meta.get("dataset_sha256")
    if base_hash and cand_hash and base_hash != cand_hash:
        raise ConflictError(
            f"the runs scored different datasets: baseline {baseline.id} has dataset hash "
            f"{str(base_hash)[:12]}, candidate {candidate.id} has {str(cand_hash)[:12]}; "
            "evaluate the candidate on the baseline's dataset version"
        )
    base_ids = {e.id for e in base_result.examples}
    cand_ids = {e.id for e in cand_result.examples}
    if base_ids != cand_ids:
        only_base = sorted(base_ids - cand_ids)
        only_cand = sorted(cand_ids - base_ids)
        raise ConflictError(
            f"the runs scored different examples: {len(only_base)} only in baseline "
            f"{baseline.id} (e.g. {', '.join(only_base[:3]) or '-'}), {len(only_cand)} only in "
            f"candidate {candidate.id} (e.g. {', '.join(only_cand[:3]) or '-'}); evaluate both "
            "on the same dataset version"
        )


def get_gate(session: Session, *, project: Project, gate_id: str) -> GateDecision:
    decision = session.scalar(
        select(GateDecision).where(
            GateDecision.id == gate_id, GateDecision.project_id == project.id
        )
    )
    if decision is None:
        raise NotFoundError(f"gate decision {gate_id!r} not found in project {project.name!r}")
    return decision
