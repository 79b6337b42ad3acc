"""Submitting, reading and cancelling jobs. Workers change job state in `app.workers.leases`.

Submission is all or nothing: the job row is committed (so a worker can see it), then its id is
sent to the broker. If the broker refuses, the row is deleted and the API answers 503: no job is
left queued but unsent. Should the API process die between the commit and the send, the job
stays queued with ``dispatched_at`` empty and every worker's reaper sends it after
``RUNG_JOB_UNDISPATCHED_AFTER_S``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.config import WorkerPolicy
from app.core.errors import ConflictError, InvalidInputError, NotFoundError
from app.core.sse import StreamRequest, table_stream
from app.datasets import service as datasets
from app.db import utcnow
from app.jobs import model_refs
from app.jobs.dispatch import BrokerUnavailableError, Dispatcher
from app.jobs.events import add_event
from app.jobs.models import RESOURCES_KEY, TERMINAL_STATES, Job, JobEvent
from app.jobs.recipe_configs import check_dataset_kind, recipe_spec, validated_config
from app.jobs.schemas import JobCreate
from app.projects.models import Project


def submit_job(
    session: Session,
    *,
    project: Project,
    data: JobCreate,
    dispatcher: Dispatcher,
    policy: WorkerPolicy,
    models_allow: Sequence[Path] = (),
) -> Job:
    """Validate, store and dispatch a job (see the module doc for the broker-down case)."""
    spec = recipe_spec(data.recipe)
    version = datasets.get_version(session, project=project, ref=data.dataset)
    check_dataset_kind(spec, kind=version.kind)
    holdout_sha = None
    if data.holdout:
        holdout = datasets.get_version(session, project=project, ref=data.holdout)
        if spec.dataset != "rag":
            check_dataset_kind(spec, kind=holdout.kind, what="holdout")
        holdout_sha = holdout.sha256
    overrides = dict(data.config)
    fields = spec.config_class.field_names()
    if data.base_model:
        if "base_model" not in fields:
            raise InvalidInputError(
                f"recipe {spec.name} takes no base_model",
                errors=[{"field": "base_model", "message": "not used by this recipe"}],
            )
        overrides["base_model"] = data.base_model
    # Models and adapters are references (artifact:, job:, hub name, allowed folder), checked
    # here and resolved by the worker; the rest of the config is checked without them.
    refs = model_refs.check_refs(
        session,
        project_id=project.id,
        values={k: overrides[k] for k in model_refs.REF_FIELDS
                if k in fields and overrides.get(k) is not None},
        models_allow=models_allow,
    )
    overrides.update(refs)
    config = validated_config(spec, {k: v for k, v in overrides.items() if k not in refs})
    config.update(refs)
    processes = _processes(spec, data)
    if processes > 1:
        overrides[RESOURCES_KEY] = {"processes": processes}
    job = Job(
        project_id=project.id,
        recipe=spec.name,
        dataset_sha256=version.sha256,
        holdout_sha256=holdout_sha,
        base_model=config.get("base_model"),
        overrides=overrides,
        config=config,
        queue=policy.queue_for(needs_gpu=spec.needs_gpu, processes=processes),
        max_attempts=policy.max_attempts,
    )
    session.add(job)
    session.flush()
    add_event(session, job_id=job.id, type="state", state="queued", queue=job.queue)
    session.commit()  # visible to workers before its id travels
    try:
        dispatcher.send(job.id, queue=job.queue)
    except BrokerUnavailableError:
        session.execute(delete(Job).where(Job.id == job.id))
        session.commit()
        raise
    session.execute(
        update(Job).where(Job.id == job.id, Job.dispatched_at.is_(None))
        .values(dispatched_at=utcnow()).execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(job)
    return job


def _processes(spec: Any, data: JobCreate) -> int:
    """How many training processes the job asks for; 422 for a recipe that runs in one."""
    processes = data.resources.processes if data.resources else 1
    if processes > 1 and spec.kind not in ("adapter", "model"):
        raise InvalidInputError(
            f"recipe {spec.name} runs in one process; resources.processes is for the training "
            "recipes (lora_sft, qlora_sft, dpo, full_sft)",
            errors=[{"field": "resources.processes", "message": "only training recipes"}],
        )
    return processes


def get_job(session: Session, *, project: Project, job_id: str) -> Job:
    job = session.scalar(select(Job).where(Job.id == job_id, Job.project_id == project.id))
    if job is None:
        raise NotFoundError(f"job {job_id!r} not found in project {project.name!r}")
    return job


def follow_events(
    session: Session, *, project: Project, job_id: str, stream: StreamRequest
) -> AsyncIterator[dict[str, Any]]:
    """The job's server-sent events as ``stream`` asks; 404 for another project's job. The
    request's session is released before the stream starts."""
    job = get_job(session, project=project, job_id=job_id)
    session.commit()
    return table_stream(
        stream, events=JobEvent, owner_key=JobEvent.job_id, owner=Job, owner_id=job.id,
        terminal=TERMINAL_STATES,
    )


def list_jobs(
    session: Session, *, project: Project, state: str | None = None, limit: int = 50
) -> list[Job]:
    stmt = select(Job).where(Job.project_id == project.id)
    if state:
        stmt = stmt.where(Job.state == state)
    return list(session.scalars(stmt.order_by(Job.created_at.desc(), Job.id).limit(limit)))


def cancel_job(session: Session, *, project: Project, job_id: str) -> Job:
    """Cancel a queued job now, or ask a running one to stop at its next step (409 if ended)."""
    job = get_job(session, project=project, job_id=job_id)
    now = utcnow()
    queued = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.state == "queued")
        .values(state="cancelled", cancel_requested=True, finished_at=now, updated_at=now,
                error="cancelled on request", error_type="Cancelled")
        .execution_options(synchronize_session=False)
    ).rowcount
    if queued:
        add_event(session, job_id=job.id, type="state", state="cancelled",
                  reason="cancelled on request before it started")
    else:
        running = session.execute(
            update(Job)
            .where(Job.id == job.id, Job.state == "running")
            .values(cancel_requested=True, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not running:
            session.refresh(job)
            if job.state in TERMINAL_STATES:
                raise ConflictError(f"job {job.id} has already ended ({job.state})")
        else:
            add_event(session, job_id=job.id, type="state", state="running",
                      reason="cancel requested; the job stops at its next step")
    session.flush()
    session.refresh(job)
    return job
