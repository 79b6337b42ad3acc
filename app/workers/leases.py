"""Job ownership in the database: claim, heartbeat, finish, retry, reap.

Every change is one conditional UPDATE whose WHERE clause states what must still be true (the
job is queued; the lease is ours; the lease has expired), so two workers can never both run a
job, and a worker that lost its lease cannot overwrite the state its successor wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from app.artifacts.models import Artifact
from app.artifacts.store import StoredArtifact
from app.db import session_scope, utcnow
from app.jobs.events import add_event
from app.jobs.models import Job
from app.workers.policy import WorkerPolicy


@dataclass(frozen=True)
class Claimed:
    job_id: str
    attempt: int
    max_attempts: int


@dataclass(frozen=True)
class Heartbeat:
    lost: bool
    cancel_requested: bool


def _update(session: Session, job_id: str, *conditions: Any, **values: Any) -> bool:
    values.setdefault("updated_at", utcnow())
    stmt = (
        update(Job)
        .where(Job.id == job_id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return session.execute(stmt).rowcount == 1


def claim(url: str, *, job_id: str, owner: str, policy: WorkerPolicy) -> Claimed | None:
    """Take a queued job (atomically); None when it is not queued, not due, or not ours to take."""
    now = utcnow()
    with session_scope(url) as session:
        ok = _update(
            session,
            job_id,
            Job.state == "queued",
            Job.cancel_requested.is_(False),
            Job.attempts < Job.max_attempts,
            or_(Job.not_before.is_(None), Job.not_before <= now),
            state="running",
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=policy.lease_s),
            attempts=Job.attempts + 1,
            started_at=now,
            dispatched_at=now,
        )
        if not ok:
            return None
        job = session.get(Job, job_id)
        assert job is not None
        add_event(session, job_id=job_id, type="state", state="running", attempt=job.attempts,
                  max_attempts=job.max_attempts, worker=owner)
        return Claimed(job_id, job.attempts, job.max_attempts)


def due_jobs(url: str, *, queues: list[str], limit: int = 5) -> list[str]:
    """Ids of queued jobs on ``queues`` that may start now, oldest first (DB-polling workers)."""
    now = utcnow()
    with session_scope(url) as session:
        stmt = (
            select(Job.id)
            .where(
                Job.state == "queued",
                Job.queue.in_(queues),
                Job.cancel_requested.is_(False),
                or_(Job.not_before.is_(None), Job.not_before <= now),
            )
            .order_by(Job.created_at)
            .limit(limit)
        )
        return list(session.scalars(stmt))


def heartbeat(url: str, *, job_id: str, owner: str, policy: WorkerPolicy) -> Heartbeat:
    """Renew our lease; says whether it was lost and whether a cancel was asked for."""
    now = utcnow()
    with session_scope(url) as session:
        ok = _update(
            session,
            job_id,
            Job.lease_owner == owner,
            Job.state == "running",
            lease_expires_at=now + timedelta(seconds=policy.lease_s),
        )
        cancel = session.scalar(select(Job.cancel_requested).where(Job.id == job_id))
        return Heartbeat(lost=not ok, cancel_requested=bool(cancel))


def set_checkpoint(url: str, *, job_id: str, owner: str, digest: str, step: int) -> bool:
    with session_scope(url) as session:
        ok = _update(session, job_id, Job.lease_owner == owner, Job.state == "running",
                     checkpoint_digest=digest, checkpoint_step=step)
        if ok:
            add_event(session, job_id=job_id, type="checkpoint", step=step, digest=digest)
        return ok


def set_progress(url: str, *, job_id: str, owner: str, data: dict[str, Any]) -> None:
    with session_scope(url) as session:
        _update(session, job_id, Job.lease_owner == owner, progress=data)
        add_event(session, job_id=job_id, type="progress", **data)


def finish(
    url: str,
    *,
    job_id: str,
    owner: str,
    state: str,
    error: str | None = None,
    error_type: str | None = None,
    metrics: dict[str, Any] | None = None,
    summary: str | None = None,
    artifacts: list[tuple[StoredArtifact, str, str]] | None = None,
    project_id: str | None = None,
) -> bool:
    """Move our running job to a final state; False when the lease was no longer ours.

    ``artifacts`` ((stored, kind, name) triples) are recorded in the same transaction.
    """
    values: dict[str, Any] = {
        "state": state,
        "finished_at": utcnow(),
        "lease_owner": None,
        "lease_expires_at": None,
        "error": error,
        "error_type": error_type,
    }
    if metrics is not None:
        values["metrics"] = metrics
    if summary is not None:
        values["summary"] = summary
    with session_scope(url) as session:
        ok = _update(session, job_id, Job.lease_owner == owner, Job.state == "running", **values)
        if ok:
            for stored, kind, name in artifacts or []:
                session.add(
                    Artifact(
                        project_id=project_id, job_id=job_id, kind=kind, name=name,
                        digest=stored.digest, is_dir=stored.is_dir,
                        size_bytes=stored.size_bytes, file_count=len(stored.files),
                    )
                )
            add_event(session, job_id=job_id, type="state", state=state, reason=error,
                      error_type=error_type)
        return ok


def requeue(
    url: str, *, job_id: str, owner: str, delay_s: float, reason: str, error_type: str,
    refund_attempt: bool = False,
) -> bool:
    """Give our running job back to the queue (a retry after ``delay_s``, or a shutdown)."""
    values: dict[str, Any] = {
        "state": "queued",
        "lease_owner": None,
        "lease_expires_at": None,
        "not_before": utcnow() + timedelta(seconds=delay_s),
        "dispatched_at": None,
        "error": reason,
        "error_type": error_type,
    }
    if refund_attempt:
        values["attempts"] = Job.attempts - 1
    with session_scope(url) as session:
        ok = _update(session, job_id, Job.lease_owner == owner, Job.state == "running", **values)
        if ok:
            add_event(session, job_id=job_id, type="state", state="queued", reason=reason,
                      retry_in_s=delay_s)
        return ok


def mark_dispatched(url: str, *, job_id: str) -> None:
    with session_scope(url) as session:
        _update(session, job_id, Job.state == "queued", dispatched_at=utcnow())


@dataclass(frozen=True)
class Reaped:
    requeued: list[tuple[str, str]]  # (job id, queue) to send again
    failed: list[str]
    cancelled: list[str]


def reap(url: str, *, policy: WorkerPolicy) -> Reaped:
    """Handle running jobs whose lease expired (their worker died or hung).

    Such a job is re-queued (it resumes from its last checkpoint), or failed when it has used
    all its attempts, or cancelled when a cancel was asked for. Each move is conditional on the
    lease still being expired, so concurrent reapers act once.
    """
    now = utcnow()
    requeued: list[tuple[str, str]] = []
    failed: list[str] = []
    cancelled: list[str] = []
    with session_scope(url) as session:
        expired = list(
            session.execute(
                select(Job.id, Job.queue, Job.attempts, Job.max_attempts, Job.cancel_requested,
                       Job.lease_owner)
                .where(Job.state == "running", Job.lease_expires_at < now)
                .limit(100)
            )
        )
    for job_id, queue, attempts, max_attempts, cancel, owner in expired:
        still_expired = and_(Job.state == "running", Job.lease_expires_at < now)
        with session_scope(url) as session:
            if cancel:
                if _update(session, job_id, still_expired, state="cancelled", finished_at=now,
                           lease_owner=None, lease_expires_at=None):
                    add_event(session, job_id=job_id, type="state", state="cancelled",
                              reason=f"cancelled; its worker {owner} stopped answering")
                    cancelled.append(job_id)
            elif attempts >= max_attempts:
                reason = (
                    f"worker {owner} stopped answering (lease expired) during attempt "
                    f"{attempts} of {max_attempts}; no attempts left"
                )
                if _update(session, job_id, still_expired, state="failed", finished_at=now,
                           lease_owner=None, lease_expires_at=None, error=reason,
                           error_type="WorkerLost"):
                    add_event(session, job_id=job_id, type="state", state="failed", reason=reason,
                              error_type="WorkerLost")
                    failed.append(job_id)
            else:
                reason = (
                    f"worker {owner} stopped answering (lease expired) during attempt "
                    f"{attempts} of {max_attempts}; re-queued to resume from its last checkpoint"
                )
                if _update(session, job_id, still_expired, state="queued", lease_owner=None,
                           lease_expires_at=None, not_before=None, dispatched_at=None,
                           error=reason, error_type="WorkerLost"):
                    add_event(session, job_id=job_id, type="state", state="queued", reason=reason)
                    requeued.append((job_id, queue))
    return Reaped(requeued, failed, cancelled)


def undispatched(url: str, *, policy: WorkerPolicy, limit: int = 100) -> list[tuple[str, str]]:
    """Queued jobs to (re-)send: never confirmed by a broker for ``undispatched_after_s``, or
    sent over ``redispatch_after_s`` ago and still waiting; (id, queue) pairs."""
    now = utcnow()
    never_sent = and_(Job.dispatched_at.is_(None),
                      Job.updated_at < now - timedelta(seconds=policy.undispatched_after_s))
    sent_long_ago = Job.dispatched_at < now - timedelta(seconds=policy.redispatch_after_s)
    with session_scope(url) as session:
        rows = session.execute(
            select(Job.id, Job.queue)
            .where(Job.state == "queued", Job.cancel_requested.is_(False),
                   or_(never_sent, sent_long_ago),
                   or_(Job.not_before.is_(None), Job.not_before <= now))
            .limit(limit)
        )
        return [(job_id, queue) for job_id, queue in rows]


def not_due_for(url: str, *, job_id: str) -> float | None:
    """Seconds until a queued job may start (0 when due); None when it is not queued."""
    with session_scope(url) as session:
        job = session.get(Job, job_id)
        if job is None or job.state != "queued" or job.cancel_requested:
            return None
        if job.not_before is None:
            return 0.0
        not_before = job.not_before
        if not_before.tzinfo is None:  # SQLite returns naive UTC datetimes
            not_before = not_before.replace(tzinfo=utcnow().tzinfo)
        return max((not_before - utcnow()).total_seconds(), 0.0)


def clear_dispatched(url: str, *, job_id: str) -> None:
    with session_scope(url) as session:
        _update(session, job_id, Job.state == "queued", dispatched_at=None)
