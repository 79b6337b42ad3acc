"""The reaper: re-queues jobs whose worker died, and re-sends jobs no broker took."""

from __future__ import annotations

import logging
import threading

from app.jobs.dispatch import BrokerUnavailableError, Dispatcher
from app.workers import leases
from app.workers.policy import WorkerPolicy

logger = logging.getLogger(__name__)


def reap_once(*, url: str, policy: WorkerPolicy, dispatcher: Dispatcher) -> leases.Reaped:
    """One pass: expired leases, then queued jobs never confirmed by the broker."""
    reaped = leases.reap(url, policy=policy)
    for job_id in reaped.failed:
        logger.warning("job %s failed: its worker died on the last attempt", job_id)
    pending = list(reaped.requeued) + leases.undispatched(url, policy=policy)
    for job_id, queue in _unique(pending):
        try:
            dispatcher.send(job_id, queue=queue)
        except BrokerUnavailableError as exc:
            logger.warning("cannot re-send job %s yet: %s", job_id, exc)
            continue
        leases.mark_dispatched(url, job_id=job_id)
        logger.info("job %s re-sent to queue %s", job_id, queue)
    return reaped


def _unique(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for job_id, queue in pairs:
        seen.setdefault(job_id, queue)
    return list(seen.items())


class Reaper(threading.Thread):
    """Runs `reap_once` every ``policy.reaper_interval_s`` until ``stop`` is set."""

    def __init__(
        self, *, url: str, policy: WorkerPolicy, dispatcher: Dispatcher, stop: threading.Event
    ) -> None:
        super().__init__(name="rung-reaper", daemon=True)
        self.url = url
        self.policy = policy
        self.dispatcher = dispatcher
        self.stop = stop

    def run(self) -> None:
        while not self.stop.wait(self.policy.reaper_interval_s):
            try:
                reap_once(url=self.url, policy=self.policy, dispatcher=self.dispatcher)
            except Exception:  # a DB hiccup must not kill the reaper
                logger.exception("reaper pass failed; trying again in %ss",
                                 self.policy.reaper_interval_s)
