"""Hand a job id to whoever runs jobs: the in-process worker (nothing to send) or a broker.

Implements `app.jobs.dispatch.Dispatcher`; `dispatcher_for` picks one from the settings.
"""

from __future__ import annotations

import logging
import threading

from app.config import Settings
from app.jobs.dispatch import BrokerUnavailableError, Dispatcher

logger = logging.getLogger(__name__)


class LocalDispatcher:
    """No broker: DB-polling workers find queued jobs themselves; ``wake`` makes them look now."""

    def __init__(self) -> None:
        self.wake = threading.Event()

    def send(self, job_id: str, *, queue: str, countdown: float = 0) -> None:
        self.wake.set()


class CeleryDispatcher:
    """Sends the run-job task with ``job_id`` to the job's queue; BrokerUnavailableError if it
    cannot."""

    def __init__(self, settings: Settings) -> None:
        from app.workers.celery_app import celery_for

        assert settings.broker_url
        self.broker_url = settings.broker_url
        self.task_name = settings.job.task_name
        self.app = celery_for(settings)

    def send(self, job_id: str, *, queue: str, countdown: float = 0) -> None:
        try:
            self.app.send_task(
                self.task_name,
                args=[job_id],
                queue=queue,
                countdown=countdown or None,
                retry=False,
            )
        except Exception as exc:  # kombu OperationalError, OSError, redis errors...
            logger.warning("broker %s refused job %s: %s", safe_url(self.broker_url), job_id, exc)
            raise BrokerUnavailableError(
                f"the job broker at {safe_url(self.broker_url)} is unavailable "
                f"({type(exc).__name__}: {exc}); nothing was queued. Retry when it is back, "
                "or check RUNG_BROKER_URL."
            ) from exc


_local = LocalDispatcher()
_celery: dict[tuple[str, float], CeleryDispatcher] = {}
_celery_lock = threading.Lock()


def dispatcher_for(settings: Settings) -> Dispatcher:
    """The process-wide dispatcher for these settings (no broker: the in-process worker)."""
    if not settings.broker_url:
        return _local
    key = (settings.broker_url, settings.job.visibility_timeout_s)
    with _celery_lock:
        if key not in _celery:
            _celery[key] = CeleryDispatcher(settings)
        return _celery[key]


def local_dispatcher() -> LocalDispatcher:
    """The in-process dispatcher (DB-polling workers use it whatever the broker)."""
    return _local


def local_wake_event() -> threading.Event:
    return _local.wake


def safe_url(url: str) -> str:
    """``url`` without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


__all__ = [
    "BrokerUnavailableError",
    "Dispatcher",
    "dispatcher_for",
    "local_dispatcher",
    "local_wake_event",
]
