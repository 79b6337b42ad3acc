"""A job's log records, stored as its ``log`` events (what `rung jobs logs` and SSE read)."""

from __future__ import annotations

import logging

from app.jobs import events

MAX_LOG_EVENTS = 1000


class JobLogHandler(logging.Handler):
    """Stores log records of the job's thread as ``log`` events (capped)."""

    def __init__(self, *, url: str, job_id: str, thread_id: int) -> None:
        super().__init__(level=logging.INFO)
        self.url = url
        self.job_id = job_id
        self.thread_id = thread_id
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread_id or self.count >= MAX_LOG_EVENTS:
            return
        if record.name.startswith(("sqlalchemy", "app.workers", "httpx", "celery", "kombu")):
            return
        self.count += 1
        try:
            events.record(
                self.url,
                job_id=self.job_id,
                type="log",
                level=record.levelname,
                logger=record.name,
                message=self.format(record),
            )
        except Exception:  # never let logging break the job
            self.count = MAX_LOG_EVENTS
