from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from sqlalchemy.orm import Session

from app.core.idempotency import idempotent
from app.deps import Actor, CurrentTeam, ProjectDep, SessionDep
from app.evaluation import policies, service
from app.evaluation.schemas import (
    EvalRunCreate,
    EvalRunRead,
    GateCreate,
    GatePolicyRead,
    GatePolicyVersionRead,
    GatePolicyWrite,
    GateRead,
)
from app.projects.models import Project

router = APIRouter(tags=["evals"])


@router.post("/v1/projects/{project}/evals", status_code=status.HTTP_201_CREATED)
@idempotent
def create_run(body: EvalRunCreate, project: ProjectDep, session: SessionDep) -> EvalRunRead:
    """Store an eval run's per-example results (the JSON `rung eval run --out` writes)."""
    result = service.parse_result(body.result)
    run = service.store_run(
        session,
        project=project,
        result=result,
        name=body.name,
        candidate=body.candidate,
        dataset=body.dataset,
    )
    return EvalRunRead.model_validate(run)


@router.get("/v1/projects/{project}/evals")
def list_runs(project: ProjectDep, session: SessionDep) -> list[EvalRunRead]:
    return [EvalRunRead.model_validate(r) for r in service.list_runs(session, project=project)]


@router.get("/v1/evals/{run_id}")
def get_run(run_id: str, team: CurrentTeam, session: SessionDep) -> EvalRunRead:
    return EvalRunRead.model_validate(service.get_run(session, team=team, run_id=run_id))


@router.get("/v1/evals/{run_id}/result")
def get_run_result(run_id: str, team: CurrentTeam, session: SessionDep) -> dict[str, Any]:
    """The run in the results-file format, for `rung eval gate` and other tools."""
    run = service.get_run(session, team=team, run_id=run_id)
    return service.run_result(session, run=run).model_dump(mode="json")


@router.post("/v1/projects/{project}/gates", status_code=status.HTTP_201_CREATED)
@idempotent
def create_gate(
    body: GateCreate, project: ProjectDep, team: CurrentTeam, session: SessionDep, actor: Actor
) -> GateRead:
    """Gate a candidate run against a baseline run of the same dataset, under the project's gate
    policy (the request may only tighten it); the decision is stored for promotion."""
    decision = service.gate(
        session,
        project=project,
        team=team,
        baseline_id=body.baseline,
        candidate_id=body.candidate,
        policy=body.policy,
        actor=actor,
    )
    return GateRead.model_validate(decision)


@router.get("/v1/projects/{project}/gates/{gate_id}")
def get_gate(gate_id: str, project: ProjectDep, session: SessionDep) -> GateRead:
    return GateRead.model_validate(service.get_gate(session, project=project, gate_id=gate_id))


@router.get("/v1/projects/{project}/gate-policy")
def get_gate_policy(project: ProjectDep, session: SessionDep) -> GatePolicyRead:
    """The gate policy in force and its history (version 0: the built-in defaults)."""
    return _policy_read(session, project)


@router.put("/v1/projects/{project}/gate-policy")
def put_gate_policy(
    body: GatePolicyWrite, project: ProjectDep, session: SessionDep, actor: Actor
) -> GatePolicyRead:
    """Store a new version of the project's gate policy; gates and promotions use it from now."""
    policies.store(session, project=project, policy=body.policy, reason=body.reason, actor=actor)
    return _policy_read(session, project)


def _policy_read(session: Session, project: Project) -> GatePolicyRead:
    version, policy = policies.current(session, project=project)
    return GatePolicyRead(
        version=version,
        policy=policy.model_dump(mode="json", exclude_none=True),
        defaults_in_force=policy.for_metric("(a metric the policy does not name)").model_dump(
            mode="json"
        ),
        history=[
            GatePolicyVersionRead.model_validate(v)
            for v in policies.history(session, project=project)
        ],
    )
