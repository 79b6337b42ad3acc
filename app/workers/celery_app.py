"""The Celery app: `celery -A app.workers.celery_app worker -Q gpu` or `rung worker --queue gpu`.

Celery carries job ids only; the database holds the state. Settings for long jobs:

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged only after the
  job finished, so a worker killed mid-job leaves it to be delivered again;
* ``worker_prefetch_multiplier=1``: a worker reserves one job at a time (one per GPU);
* Redis ``visibility_timeout`` (`WorkerPolicy.visibility_timeout_s`): when an unacknowledged
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

from app.config import get_settings
from app.workers.dispatch import QUEUES, TASK_NAME
from app.workers.identity import worker_owner
from app.workers.policy import get_policy

logger = logging.getLogger(__name__)


def make_celery(broker_url: str) -> Celery:
    policy = get_policy()
    celery = Celery("rung", broker=broker_url, set_as_current=False)
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="default",
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
    celery.task(name=TASK_NAME, ignore_result=True)(run_job)
    return celery


def run_job(job_id: str) -> str:
    """The Celery task: run one job to an end state (or skip it if it is not ours to run)."""
    from app.workers.dispatch import dispatcher_for
    from app.workers.runner import execute_job

    settings = get_settings()
    return execute_job(
        job_id=job_id,
        settings=settings,
        policy=get_policy(),
        owner=worker_owner(),
        dispatcher=dispatcher_for(settings.broker_url),
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

    settings = get_settings()
    _reaper = Reaper(
        url=settings.resolved_database_url,
        policy=get_policy(),
        dispatcher=dispatcher_for(settings.broker_url),
        stop=threading.Event(),
    )
    _reaper.start()
    from app.workers.triage_worker import start_triage_worker

    start_triage_worker(settings)  # triage of stored cases (daemon thread; off: None)


@worker_shutdown.connect
def _stop_reaper(**_: Any) -> None:
    if _reaper is not None:
        _reaper.stop.set()


app = make_celery(get_settings().broker_url or "redis://127.0.0.1:6379/0")

__all__ = ["QUEUES", "app", "make_celery"]
