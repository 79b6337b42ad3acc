"""The model registry: versions, aliases (champion/challenger), promotion behind the gate, rollback.

Alias history is append-only: every promote and rollback adds an `AliasEvent`; the current
holder of an alias is found by replaying the events, so nothing is ever rewritten.

A version becomes champion only through a passed gate whose candidate is its own eval run and
whose baseline is the current champion's eval run, made under the project's gate policy as it
stands. The first champion is gated against the base model's run: the base is registered as
version 0 and never promoted itself.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.errors import ConflictError, InvalidInputError, NotFoundError
from app.evaluation import policies
from app.evaluation.models import EvalRun, GateDecision
from app.projects.models import Project
from app.registry.models import AliasEvent, ModelVersion, RegisteredModel


def create_model(session: Session, *, project: Project, name: str) -> RegisteredModel:
    if _find(session, project=project, name=name):
        raise ConflictError(f"model {name!r} already exists in project {project.name!r}")
    model = RegisteredModel(project_id=project.id, name=name)
    session.add(model)
    session.flush()
    return model


def get_model(session: Session, *, project: Project, name: str) -> RegisteredModel:
    model = _find(session, project=project, name=name)
    if model is None:
        raise NotFoundError(f"model {name!r} not found in project {project.name!r}")
    return model


def _find(session: Session, *, project: Project, name: str) -> RegisteredModel | None:
    return session.scalar(
        select(RegisteredModel).where(
            RegisteredModel.project_id == project.id, RegisteredModel.name == name
        )
    )


def add_version(
    session: Session,
    *,
    project: Project,
    model: RegisteredModel,
    source: str,
    base_model: str | None,
    eval_run_id: str | None,
    description: str,
    actor: str,
    base: bool = False,
) -> ModelVersion:
    if eval_run_id is not None:
        run = session.get(EvalRun, eval_run_id)
        if run is None or run.project_id != project.id:
            raise NotFoundError(f"eval run {eval_run_id!r} not found in project {project.name!r}")
    if base:
        if eval_run_id is None:
            raise InvalidInputError(
                "the base model (version 0) needs its eval run: the first champion is gated "
                "against it; pass eval_run"
            )
        if _base_version(session, model=model) is not None:
            raise ConflictError(f"model {model.name!r} already has its base model as version 0")
        number = 0
    else:
        last = session.scalar(
            select(func.max(ModelVersion.version)).where(ModelVersion.model_id == model.id)
        )
        number = max(last or 0, 0) + 1
    version = ModelVersion(
        model_id=model.id,
        version=number,
        source=source,
        base_model=base_model,
        eval_run_id=eval_run_id,
        description=description,
        created_by=actor,
    )
    session.add(version)
    session.flush()
    return version


def versions(session: Session, *, model: RegisteredModel) -> list[ModelVersion]:
    stmt = select(ModelVersion).where(ModelVersion.model_id == model.id)
    return list(session.scalars(stmt.order_by(ModelVersion.version)))


def get_version(session: Session, *, model: RegisteredModel, number: int) -> ModelVersion:
    version = session.scalar(
        select(ModelVersion).where(
            ModelVersion.model_id == model.id, ModelVersion.version == number
        )
    )
    if version is None:
        raise NotFoundError(f"model {model.name!r} has no version {number}")
    return version


def history(session: Session, *, model: RegisteredModel) -> list[AliasEvent]:
    stmt = select(AliasEvent).where(AliasEvent.model_id == model.id).order_by(AliasEvent.id)
    return list(session.scalars(stmt))


def _holders(session: Session, *, model: RegisteredModel, alias: str) -> list[str]:
    """The stack of versions that held `alias`: promote pushes, rollback pops."""
    stack: list[str] = []
    for event in history(session, model=model):
        if event.alias != alias:
            continue
        if event.action == "promote" and event.version_id:
            stack.append(event.version_id)
        elif event.action == "rollback" and stack:
            stack.pop()
    return stack


def current_aliases(session: Session, *, model: RegisteredModel) -> dict[str, str | None]:
    return {
        alias: (stack[-1] if (stack := _holders(session, model=model, alias=alias)) else None)
        for alias in ("champion", "challenger")
    }


def promote(
    session: Session,
    *,
    project: Project,
    model: RegisteredModel,
    number: int,
    alias: str,
    gate_id: str | None,
    reason: str,
    actor: str,
) -> AliasEvent:
    """Give `alias` to a version. The champion needs a passed gate of the version's own run
    against the current champion's run (the base model's run for the first champion)."""
    version = get_version(session, model=model, number=number)
    if number == 0:
        raise ConflictError(
            "version 0 is the base model: the baseline of the first champion, never promoted"
        )
    gate: GateDecision | None = None
    if alias == "champion":
        if version.eval_run_id is None:
            raise ConflictError(
                f"version {number} has no eval run, so it is ungated: register it with "
                "`eval_run` and gate that run against the champion's first"
            )
        baseline_run, holder = _champion_baseline(session, project=project, model=model)
        if gate_id is None:
            raise ConflictError(
                f"promoting version {number} to champion needs a passed gate: POST "
                f"/v1/projects/{project.name}/gates with candidate={version.eval_run_id} and "
                f"baseline={baseline_run} ({holder}'s run)"
            )
    if gate_id is not None:
        gate = session.get(GateDecision, gate_id)
        if gate is None or gate.project_id != project.id:
            raise NotFoundError(f"gate decision {gate_id!r} not found in project {project.name!r}")
        if gate.candidate_run_id != version.eval_run_id:
            raise InvalidInputError(
                f"gate {gate_id} judged run {gate.candidate_run_id}, not version {number}'s "
                f"run {version.eval_run_id}"
            )
        if alias == "champion":
            _check_champion_gate(session, project=project, model=model, gate=gate, number=number)
        if gate.status != "pass":
            raise ConflictError(
                f"gate {gate_id} did not pass ({_failed_metrics(gate)}): version {number} cannot "
                "be promoted"
            )
    current = current_aliases(session, model=model)[alias]
    if current == version.id:
        raise ConflictError(f"version {number} already holds {alias!r}")
    event = AliasEvent(
        model_id=model.id,
        alias=alias,
        action="promote",
        version_id=version.id,
        previous_version_id=current,
        gate_id=gate.id if gate else None,
        reason=reason,
        actor=actor,
    )
    session.add(event)
    session.flush()
    return event


def _base_version(session: Session, *, model: RegisteredModel) -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion).where(ModelVersion.model_id == model.id, ModelVersion.version == 0)
    )


def _champion_baseline(
    session: Session, *, project: Project, model: RegisteredModel
) -> tuple[str, str]:
    """``(eval run id, who)`` a champion candidate must be gated against."""
    holder_id = current_aliases(session, model=model)["champion"]
    if holder_id is not None:
        holder = session.get(ModelVersion, holder_id)
        assert holder is not None
        if holder.eval_run_id is None:
            raise ConflictError(
                f"the champion (version {holder.version}) has no eval run to gate against"
            )
        return holder.eval_run_id, f"the champion, version {holder.version}"
    base = _base_version(session, model=model)
    if base is None or base.eval_run_id is None:
        raise ConflictError(
            f"model {model.name!r} has no champion yet and no base model to gate its first "
            "champion against: register the base model as version 0 with its eval run "
            f'(POST /v1/projects/{project.name}/models/{model.name}/versions with "base": true '
            'and "eval_run"), then gate the candidate against that run'
        )
    return base.eval_run_id, "the base model, version 0"


def _check_champion_gate(
    session: Session,
    *,
    project: Project,
    model: RegisteredModel,
    gate: GateDecision,
    number: int,
) -> None:
    """409 unless the gate compared against the champion's run under the policy in force."""
    expected, holder = _champion_baseline(session, project=project, model=model)
    if gate.baseline_run_id != expected:
        raise ConflictError(
            f"gate {gate.id} compared version {number}'s run against run {gate.baseline_run_id}, "
            f"but a champion must beat {holder}, whose run is {expected}: gate "
            f"candidate={gate.candidate_run_id} against baseline={expected}"
        )
    version, _ = policies.current(session, project=project)
    if (gate.policy_version or 0) != version:
        raise ConflictError(
            f"gate {gate.id} applied gate policy version {gate.policy_version or 0}, but the "
            f"project's policy is now version {version}: gate again under the current policy"
        )


def rollback(
    session: Session, *, model: RegisteredModel, alias: str, reason: str, actor: str
) -> AliasEvent:
    """Hand `alias` back to the version that held it before the current one."""
    stack = _holders(session, model=model, alias=alias)
    if len(stack) < 2:
        raise ConflictError(f"model {model.name!r} has no previous {alias} to roll back to")
    event = AliasEvent(
        model_id=model.id,
        alias=alias,
        action="rollback",
        version_id=stack[-2],
        previous_version_id=stack[-1],
        reason=reason,
        actor=actor,
    )
    session.add(event)
    session.flush()
    return event


def _failed_metrics(gate: GateDecision) -> str:
    decisions = gate.report.get("decisions", [])
    parts = []
    for status, label in (("fail", "regressed"), ("undecided", "undecided")):
        names = [d.get("metric", "?") for d in decisions if d.get("status") == status]
        if names:
            parts.append(f"{label}: {', '.join(names)}")
    return "; ".join(parts) if parts else "status " + gate.status
