"""Retries, leases and time limits: the ONE place they are configured.

Every value can be set by an environment variable ``RUNG_JOB_<NAME>`` (e.g.
``RUNG_JOB_MAX_ATTEMPTS=5``); the API, the in-process worker and every Celery worker read it here.

Which errors are retried (decided by type, dramatiq style, in `is_retryable`):

* `RecipeConfigError` (bad config or data): never; the user must change something.
* `RecipeEnvironmentError` (no GPU, missing package or model): never on this worker.
* `RecipeRuntimeError`: as its ``retryable`` flag says (e.g. out of memory: no).
* `RecipeCancelledError`: never (the job is cancelled, or was stopped by its time limit).
* anything else (a bug, a lost DB connection, a killed process): yes, from the last checkpoint.

A job gets at most ``max_attempts`` attempts in all, counting attempts whose worker died (an
expired lease). Retry ``n`` waits ``retry_backoff_s * 2**(n-1)`` seconds, at most
``retry_backoff_max_s``.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerPolicy(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNG_JOB_", extra="ignore", frozen=True)

    max_attempts: int = Field(default=3, ge=1, description="attempts per job, lost workers count")
    lease_s: float = Field(
        default=120, gt=0, description="a running job's lease; a dead worker's job is re-queued "
        "this long after its last heartbeat"
    )
    heartbeat_s: float = Field(
        default=15, gt=0, description="lease renewal period; also how fast cancel is noticed"
    )
    reaper_interval_s: float = Field(default=30, gt=0, description="expired-lease scan period")
    retry_backoff_s: float = Field(default=30, ge=0, description="first retry delay")
    retry_backoff_max_s: float = Field(default=600, ge=0, description="longest retry delay")
    time_limit_s: float = Field(
        default=24 * 3600, gt=0, description="wall-clock limit of one attempt; then failed"
    )
    poll_interval_s: float = Field(
        default=2, gt=0, description="how often a DB-polling worker looks for queued jobs"
    )
    visibility_timeout_s: float = Field(
        default=6 * 3600, gt=0, description="Redis broker: redeliver an unacked message after this"
    )
    undispatched_after_s: float = Field(
        default=60, gt=0, description="re-send a queued job the broker never confirmed after this"
    )
    redispatch_after_s: float = Field(
        default=3600, gt=0, description="re-send a job still queued this long after it was sent "
        "(a broker restarted without persistence loses messages; a duplicate is harmless)"
    )

    def check(self) -> WorkerPolicy:
        if self.heartbeat_s >= self.lease_s:
            raise ValueError(
                f"RUNG_JOB_HEARTBEAT_S ({self.heartbeat_s}) must be shorter than "
                f"RUNG_JOB_LEASE_S ({self.lease_s}), or leases expire while jobs run"
            )
        return self

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` after attempt ``attempt`` failed."""
        return min(self.retry_backoff_s * 2 ** max(attempt - 1, 0), self.retry_backoff_max_s)


def is_retryable(exc: BaseException) -> bool:
    """Whether a job that raised ``exc`` should be tried again (see the module doc)."""
    from recipes.errors import (
        RecipeCancelledError,
        RecipeConfigError,
        RecipeEnvironmentError,
        RecipeRuntimeError,
    )

    if isinstance(exc, RecipeConfigError | RecipeEnvironmentError | RecipeCancelledError):
        return False
    if isinstance(exc, RecipeRuntimeError):
        return bool(exc.retryable)
    from app.core.errors import RungError

    if isinstance(exc, RungError):
        return exc.status >= 500
    return isinstance(exc, Exception)


@lru_cache
def get_policy() -> WorkerPolicy:
    return WorkerPolicy().check()
