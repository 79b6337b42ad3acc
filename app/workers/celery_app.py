"""The ONE Celery app: `celery -A app.workers.celery_app worker -Q gpu`, `rung worker -Q gpu`.

Nothing is built at import time: `celery_for(settings)` builds the app from the settings
(``RUNG_BROKER_URL``, ``settings.job``) the first time it is asked for, and keeps it for the
process; ``app.workers.celery_app.app`` (what ``celery -A`` looks up) is that app for the
process's settings. There is no default broker: without ``RUNG_BROKER_URL`` asking for the app
is an error.

Celery carries job ids only; the database holds the state. Settings for long jobs:

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged only after the
  job finished, so a worker killed mid-job leaves it to be delivered again;
* ``worker_prefetch_multiplier=1``: a worker reserves one job at a time (one per GPU);
* Redis ``visibility_timeout`` (``RUNG_JOB_VISIBILITY_TIMEOUT_S``): when an unacknowledged
  message is redelivered. A redelivery of a job another worker is still running finds the job's
  lease alive and is dropped, so the timeout may be shorter than the longest job;
* each worker process also runs the reaper (`app.workers.reaper`), which re-queues jobs whose
  lease expired and re-sends queued jobs the broker never took.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_ready, worker_shutdown

from app.config import Settings, WorkerPolicy, get_settings

logger = logging.getLogger(__name__)

_apps: dict[tuple[str, WorkerPolicy], Celery] = {}
_apps_lock = threading.Lock()


class NoBrokerError(RuntimeError):
    """A Celery app was asked for without RUNG_BROKER_URL."""


def celery_for(settings: Settings | None = None) -> Celery:
    """The process's Celery app for ``settings`` (default: `get_settings()`), built once."""
    settings = settings or get_settings()
    if not settings.broker_url:
        raise NoBrokerError(
            "RUNG_BROKER_URL is not set: a Celery worker needs a broker (redis://... or "
            "amqp://...). Without one, `rung worker` polls the database instead."
        )
    key = (settings.broker_url, settings.job)
    with _apps_lock:
        if key not in _apps:
            _apps[key] = _build(settings.broker_url, settings.job)
        return _apps[key]


def _build(broker_url: str, policy: WorkerPolicy) -> Celery:
    celery = Celery("rung", broker=broker_url, set_as_current=False)
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=policy.queues[0],
        task_queues=None,
        task_create_missing_queues=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": policy.visibility_timeout_s,
            "socket_connect_timeout": 5,
            "socket_timeout": 30,
        },
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    celery.task(name=policy.task_name, ignore_result=True)(run_job)
    return celery


def run_job(job_id: str) -> str:
    """The Celery task: run one job to an end state (or skip it if it is not ours to run)."""
    from app.workers.dispatch import dispatcher_for
    from app.workers.identity import worker_owner
    from app.workers.runner import execute_job

    settings = get_settings()
    return execute_job(
        job_id=job_id,
        settings=settings,
        policy=settings.job,
        owner=worker_owner(),
        dispatcher=dispatcher_for(settings),
    )


_reaper: Any = None


@worker_process_init.connect
def _pin_gpu(**_: Any) -> None:
    """With --concurrency N on the gpu queue, prefork child i sees only GPU i."""
    if os.environ.get("RUNG_PIN_GPU_PER_PROCESS") == "1":
        from billiard.process import current_process

        index = getattr(current_process(), "index", None)
        if index is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = str(index)


@worker_ready.connect
def _start_reaper(**_: Any) -> None:
    global _reaper
    from app.workers.dispatch import dispatcher_for
    from app.workers.reaper import Reaper
    from app.workers.triage_worker import start_triage_worker

    settings = get_settings()
    _reaper = Reaper(
        url=settings.resolved_database_url,
        policy=settings.job,
        dispatcher=dispatcher_for(settings),
        stop=threading.Event(),
    )
    _reaper.start()
    start_triage_worker(settings)  # triage of stored cases (daemon thread; off: None)


@worker_shutdown.connect
def _stop_reaper(**_: Any) -> None:
    if _reaper is not None:
        _reaper.stop.set()


def __getattr__(name: str) -> Celery:
    """``app``/``celery`` (what ``celery -A app.workers.celery_app`` looks up), built on demand."""
    if name in ("app", "celery"):
        return celery_for()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["NoBrokerError", "celery_for", "run_job"]
