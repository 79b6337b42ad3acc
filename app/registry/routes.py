from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy.orm import Session

from app.core.idempotency import idempotent
from app.deps import Actor, ProjectDep, SessionDep
from app.registry import service
from app.registry.models import AliasEvent, RegisteredModel
from app.registry.schemas import (
    AliasEventRead,
    ModelCreate,
    ModelRead,
    PromoteRequest,
    RollbackRequest,
    VersionCreate,
    VersionRead,
)

router = APIRouter(prefix="/v1/projects/{project}/models", tags=["registry"])


def _event(event: AliasEvent, numbers: dict[str, int]) -> AliasEventRead:
    return AliasEventRead(
        id=event.id,
        alias=event.alias,
        action=event.action,
        version=numbers.get(event.version_id or ""),
        previous_version=numbers.get(event.previous_version_id or ""),
        gate_id=event.gate_id,
        reason=event.reason,
        actor=event.actor,
        created_at=event.created_at,
    )


def _read(session: Session, model: RegisteredModel) -> ModelRead:
    versions = service.versions(session, model=model)
    numbers = {v.id: v.version for v in versions}
    return ModelRead(
        name=model.name,
        aliases={
            alias: numbers.get(vid or "")
            for alias, vid in service.current_aliases(session, model=model).items()
        },
        versions=[VersionRead.model_validate(v) for v in versions],
        history=[_event(e, numbers) for e in service.history(session, model=model)],
    )


@router.post("", status_code=status.HTTP_201_CREATED)
@idempotent
def create_model(body: ModelCreate, project: ProjectDep, session: SessionDep) -> ModelRead:
    return _read(session, service.create_model(session, project=project, name=body.name))


@router.get("/{name}")
def get_model(name: str, project: ProjectDep, session: SessionDep) -> ModelRead:
    """Versions, who holds each alias now, and the full alias history (the audit trail)."""
    return _read(session, service.get_model(session, project=project, name=name))


@router.post("/{name}/versions", status_code=status.HTTP_201_CREATED)
@idempotent
def add_version(
    name: str, body: VersionCreate, project: ProjectDep, session: SessionDep, actor: Actor
) -> VersionRead:
    model = service.get_model(session, project=project, name=name)
    version = service.add_version(
        session,
        project=project,
        model=model,
        source=body.source,
        base_model=body.base_model,
        eval_run_id=body.eval_run,
        description=body.description,
        actor=actor,
        base=body.base,
    )
    return VersionRead.model_validate(version)


@router.post("/{name}/promote")
@idempotent
def promote(
    name: str, body: PromoteRequest, project: ProjectDep, session: SessionDep, actor: Actor
) -> ModelRead:
    """Give an alias to a version; `champion` only through a passed gate of that version's run
    against the champion's run (the base model's, version 0, for the first champion)."""
    model = service.get_model(session, project=project, name=name)
    service.promote(
        session,
        project=project,
        model=model,
        number=body.version,
        alias=body.alias,
        gate_id=body.gate,
        reason=body.reason,
        actor=actor,
    )
    return _read(session, model)


@router.post("/{name}/rollback")
@idempotent
def rollback(
    name: str, body: RollbackRequest, project: ProjectDep, session: SessionDep, actor: Actor
) -> ModelRead:
    """Hand the alias back to the version that held it before; the history keeps both."""
    model = service.get_model(session, project=project, name=name)
    service.rollback(session, model=model, alias=body.alias, reason=body.reason, actor=actor)
    return _read(session, model)
