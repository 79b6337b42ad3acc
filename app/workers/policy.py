"""Which failed jobs are tried again. The numbers (attempts, leases, back-off, time limits) and the
queue and task names are `app.config.WorkerPolicy`, read with the other settings
(``settings.job``, from ``RUNG_JOB_<NAME>``); the API, the in-process worker and every Celery
worker take them from there.

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

from app.config import WorkerPolicy


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


__all__ = ["WorkerPolicy", "is_retryable"]
