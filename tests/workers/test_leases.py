"""Job ownership in the database (SQLite and PostgreSQL): atomic claims, heartbeats, the
reaper, and the retry policy's decisions."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from app.db import session_scope, utcnow
from app.jobs.models import Job
from app.projects.models import Project
from app.teams import service as teams
from app.workers import leases
from app.workers.policy import WorkerPolicy, is_retryable
from recipes.errors import (
    RecipeCancelledError,
    RecipeConfigError,
    RecipeEnvironmentError,
    RecipeRuntimeError,
)

POLICY = WorkerPolicy(lease_s=60, heartbeat_s=1, max_attempts=2, retry_backoff_s=10,
                      retry_backoff_max_s=25)


def make_job(url: str) -> str:
    with session_scope(url) as session:
        team, _ = teams.create_team(session, name="lease-team")
        project = Project(team_id=team.id, name="p")
        session.add(project)
        session.flush()
        job = Job(project_id=project.id, recipe="lora_sft", dataset_sha256="0" * 64,
                  max_attempts=POLICY.max_attempts)
        session.add(job)
        session.flush()
        return job.id


def expire(url: str, job_id: str) -> None:
    with session_scope(url) as session:
        session.execute(update(Job).where(Job.id == job_id)
                        .values(lease_expires_at=utcnow() - timedelta(seconds=1)))


def state(url: str, job_id: str) -> Job:
    with session_scope(url) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_a_job_is_claimed_once_and_only_its_owner_renews_it(db_url: str) -> None:
    job_id = make_job(db_url)
    first = leases.claim(db_url, job_id=job_id, owner="a", policy=POLICY)
    assert first is not None and first.attempt == 1
    assert leases.claim(db_url, job_id=job_id, owner="b", policy=POLICY) is None
    assert leases.heartbeat(db_url, job_id=job_id, owner="b", policy=POLICY).lost
    beat = leases.heartbeat(db_url, job_id=job_id, owner="a", policy=POLICY)
    assert not beat.lost and not beat.cancel_requested


def test_a_dead_workers_job_is_requeued_then_failed_when_attempts_run_out(db_url: str) -> None:
    job_id = make_job(db_url)
    leases.claim(db_url, job_id=job_id, owner="a", policy=POLICY)
    expire(db_url, job_id)
    reaped = leases.reap(db_url, policy=POLICY)
    assert [j for j, _ in reaped.requeued] == [job_id]
    assert state(db_url, job_id).state == "queued"
    assert leases.reap(db_url, policy=POLICY).requeued == [], "a reaper acts once"

    # The old owner wakes up: it cannot write over the new state.
    assert not leases.finish(db_url, job_id=job_id, owner="a", state="succeeded")
    second = leases.claim(db_url, job_id=job_id, owner="b", policy=POLICY)
    assert second is not None and second.attempt == 2
    assert not leases.finish(db_url, job_id=job_id, owner="a", state="failed")
    assert state(db_url, job_id).lease_owner == "b"

    expire(db_url, job_id)
    reaped = leases.reap(db_url, policy=POLICY)
    assert reaped.failed == [job_id]
    job = state(db_url, job_id)
    assert (job.state, job.error_type) == ("failed", "WorkerLost")
    assert "attempt 2 of 2" in (job.error or "")


def test_a_retry_waits_for_its_backoff(db_url: str) -> None:
    job_id = make_job(db_url)
    leases.claim(db_url, job_id=job_id, owner="a", policy=POLICY)
    assert leases.requeue(db_url, job_id=job_id, owner="a", delay_s=30, reason="boom",
                          error_type="RuntimeError")
    assert leases.claim(db_url, job_id=job_id, owner="b", policy=POLICY) is None
    assert 25 < (leases.not_due_for(db_url, job_id=job_id) or 0) <= 30


def test_retry_decisions_come_from_the_error_type() -> None:
    assert not is_retryable(RecipeConfigError("bad key"))
    assert not is_retryable(RecipeEnvironmentError("no GPU"))
    assert not is_retryable(RecipeCancelledError("stop"))
    assert not is_retryable(RecipeRuntimeError("out of memory", retryable=False))
    assert is_retryable(RecipeRuntimeError("NaN loss", retryable=True))
    assert is_retryable(ConnectionError("database went away"))
    assert [POLICY.retry_delay(n) for n in (1, 2, 3)] == [10, 20, 25]
