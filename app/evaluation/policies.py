"""A project's stored gate policy: versioned, append-only, the one gates and promotions apply.

Version 0 is the built-in default policy (nothing stored yet). A PUT adds version N+1 with who
set it and why; nothing is rewritten. A gate request may carry a policy of its own, merged onto
the stored one field by field, and refused when it loosens anything (`evals.policy.loosenings`).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.errors import InvalidInputError
from app.evaluation.models import GatePolicyVersion
from app.projects.models import Project
from evals.policy import GatePolicy


def parse_policy(data: dict[str, Any]) -> GatePolicy:
    """A policy from JSON, or a 422 that names every bad field."""
    try:
        return GatePolicy.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(map(str, e["loc"])) or "policy", "message": e["msg"]}
            for e in exc.errors()
        ]
        first = errors[0]
        raise InvalidInputError(
            f"policy is not valid: {first['field']}: {first['message']}", errors=errors
        ) from exc


def current(session: Session, *, project: Project) -> tuple[int, GatePolicy]:
    """``(version, policy)`` in force for the project; (0, defaults) when none was stored."""
    row = session.scalar(
        select(GatePolicyVersion)
        .where(GatePolicyVersion.project_id == project.id)
        .order_by(GatePolicyVersion.version.desc())
        .limit(1)
    )
    if row is None:
        return 0, GatePolicy()
    return row.version, GatePolicy.model_validate(row.policy)


def history(session: Session, *, project: Project) -> list[GatePolicyVersion]:
    stmt = select(GatePolicyVersion).where(GatePolicyVersion.project_id == project.id)
    return list(session.scalars(stmt.order_by(GatePolicyVersion.version)))


def store(
    session: Session, *, project: Project, policy: dict[str, Any], reason: str, actor: str
) -> GatePolicyVersion:
    """Validate and append a new version of the project's policy."""
    parsed = parse_policy(policy)
    last = session.scalar(
        select(func.max(GatePolicyVersion.version)).where(
            GatePolicyVersion.project_id == project.id
        )
    )
    row = GatePolicyVersion(
        project_id=project.id,
        version=(last or 0) + 1,
        policy=parsed.model_dump(mode="json", exclude_none=True),
        reason=reason,
        actor=actor,
    )
    session.add(row)
    session.flush()
    return row
