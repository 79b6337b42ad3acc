"""A worker that finds queued jobs by polling the database (no broker).

It is the in-process worker of `rung serve` when ``RUNG_BROKER_URL`` is unset (started in the
app's lifespan), and `rung worker` without a broker. Several of them (or several `rung serve`
processes) may poll one database: a job is claimed atomically, so it runs once.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from app.config import Settings
from app.workers import leases
from app.workers.dispatch import local_dispatcher, local_wake_event
from app.workers.identity import worker_owner
from app.workers.policy import WorkerPolicy
from app.workers.reaper import reap_once
from app.workers.runner import execute_job

logger = logging.getLogger(__name__)


def default_queues(policy: WorkerPolicy) -> list[str]:
    """``default``, plus ``gpu`` (and ``gpu-N`` up to its GPU count) when this machine has CUDA
    GPUs (counted without importing torch unless it is loaded already, so that starting the
    server stays fast)."""
    from app.workers.launch import gpu_count

    if "torch" in sys.modules:
        cuda = sys.modules["torch"].cuda
        gpus = int(cuda.device_count()) if cuda.is_available() else 0
    else:
        gpus = gpu_count()
    return [policy.queues[0], *policy.gpu_queues(gpus)] if gpus else [policy.queues[0]]


class PollingWorker(threading.Thread):
    def __init__(
        self,
        *,
        settings: Settings,
        policy: WorkerPolicy,
        queues: list[str] | None = None,
        wake: threading.Event | None = None,
    ) -> None:
        super().__init__(name="rung-worker", daemon=True)
        self.settings = settings
        self.policy = policy
        self.queues = queues
        self.wake = wake or local_wake_event()
        self.shutdown = threading.Event()
        self.owner = worker_owner()
        self.jobs_run = 0

    def run(self) -> None:
        url = self.settings.resolved_database_url
        dispatcher = local_dispatcher()
        queues = self.queues or default_queues(self.policy)
        logger.info("worker %s polling queues %s", self.owner, ", ".join(queues))
        next_reap = 0.0
        while not self.shutdown.is_set():
            try:
                if time.monotonic() >= next_reap:
                    reap_once(url=url, policy=self.policy, dispatcher=dispatcher)
                    next_reap = time.monotonic() + self.policy.reaper_interval_s
                ran = False
                for job_id in leases.due_jobs(url, queues=queues):
                    if self.shutdown.is_set():
                        break
                    outcome = execute_job(job_id=job_id, settings=self.settings,
                                          policy=self.policy, owner=self.owner,
                                          dispatcher=dispatcher, shutdown=self.shutdown)
                    if outcome not in ("skipped", "deferred"):
                        self.jobs_run += 1
                        ran = True
                        break
            except Exception:
                logger.exception("worker loop failed; retrying")
                ran = False
            if not ran:
                self.wake.wait(self.policy.poll_interval_s)
                self.wake.clear()

    def stop(self, timeout: float = 60) -> None:
        """Ask the worker to stop; a running job stops at its next step and is re-queued."""
        self.shutdown.set()
        self.wake.set()
        self.join(timeout=timeout)


def start_embedded_worker(settings: Settings) -> PollingWorker | None:
    """The in-process worker for `rung serve`, or None when a broker is configured or it is off
    (``RUNG_EMBEDDED_WORKER=false``)."""
    if settings.broker_url or not settings.embedded_worker:
        return None
    worker = PollingWorker(settings=settings, policy=settings.job)
    worker.start()
    return worker
