"""Hand a job id to whoever runs jobs: the in-process worker (nothing to send) or a broker."""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Protocol

from app.core.errors import ServiceUnavailableError

logger = logging.getLogger(__name__)

TASK_NAME = "rung.run_job"
QUEUES = ("default", "gpu")


class BrokerUnavailableError(ServiceUnavailableError):
    """The broker did not take the job; nothing was queued."""


class Dispatcher(Protocol):
    def send(self, job_id: str, *, queue: str, countdown: float = 0) -> None: ...


class LocalDispatcher:
    """No broker: DB-polling workers find queued jobs themselves; ``wake`` makes them look now."""

    def __init__(self) -> None:
        self.wake = threading.Event()

    def send(self, job_id: str, *, queue: str, countdown: float = 0) -> None:
        self.wake.set()


class CeleryDispatcher:
    """Sends ``rung.run_job(job_id)`` to the job's queue; BrokerUnavailableError if it cannot."""

    def __init__(self, broker_url: str) -> None:
        from app.workers.celery_app import make_celery

        self.broker_url = broker_url
        self.app = make_celery(broker_url)

    def send(self, job_id: str, *, queue: str, countdown: float = 0) -> None:
        try:
            self.app.send_task(
                TASK_NAME,
                args=[job_id],
                queue=queue,
                countdown=countdown or None,
                retry=False,
            )
        except Exception as exc:  # kombu OperationalError, OSError, redis errors...
            logger.warning("broker %s refused job %s: %s", _safe(self.broker_url), job_id, exc)
            raise BrokerUnavailableError(
                f"the job broker at {_safe(self.broker_url)} is unavailable ({type(exc).__name__}:"
                f" {exc}); nothing was queued. Retry when it is back, or check RUNG_BROKER_URL."
            ) from exc


_local = LocalDispatcher()


def dispatcher_for(broker_url: str | None) -> Dispatcher:
    """The process-wide dispatcher for a broker URL (None: the in-process worker)."""
    if not broker_url:
        return _local
    return _celery_dispatcher(broker_url)


@lru_cache(maxsize=4)
def _celery_dispatcher(broker_url: str) -> CeleryDispatcher:
    return CeleryDispatcher(broker_url)


def local_wake_event() -> threading.Event:
    return _local.wake


def _safe(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url
