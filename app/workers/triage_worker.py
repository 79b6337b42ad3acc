"""The worker that triages stored cases and keeps each project's recommendation current.

`POST .../cases` only validates and stores; a case is `pending` until this worker has triaged
it. After each batch it recomputes the recommendation of the projects that changed (at most
every `REFRESH_WHILE_PENDING_S` while a project still has pending cases) and stores it, so that
`GET .../recommendation` and `.../report` read one row. Every `SWEEP_S` it also refreshes
projects whose datasets, jobs, evals or deleted cases changed what the advice depends on.

`rung serve` (no broker) runs it in a child process (`start_triage_process`), so that the
engine's CPU work never holds the server's GIL; `rung worker` and Celery workers run it as a
thread (`start_triage_worker`). Both only when RUNG_TRIAGE_ON_INGEST is on. Several may run
against one database: writes are conditional on the case still being untriaged by this engine,
so a case is never triaged twice into different states, and recomputing a recommendation twice
is harmless.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
from multiprocessing.synchronize import Event as ProcessEvent

from sqlalchemy import or_, select, update

from app.advisory import service as advisory
from app.advisory.stored import StoredRecommendation
from app.cases import service as cases
from app.cases.models import Case
from app.config import Settings
from app.db import session_scope
from app.projects.models import Project
from app.triage import service as triage

logger = logging.getLogger(__name__)

BATCH = 64
IDLE_WAIT_S = 1.0
REFRESH_WHILE_PENDING_S = 5.0  # at least; and at least 10x the last refresh's duration
SWEEP_S = 10.0

_wake = threading.Event()
_process_wake: ProcessEvent | None = None


def wake() -> None:
    """New cases are stored: look now instead of at the next poll."""
    _wake.set()
    if _process_wake is not None:
        _process_wake.set()


def triage_batch(settings: Settings, *, batch: int = BATCH) -> dict[str, int]:
    """Triage up to `batch` untriaged cases; returns cases triaged per project id."""
    url = settings.resolved_database_url
    with session_scope(url) as session:
        ids = [case_id for case_id, _ in triage.untriaged_ids(session, limit=batch)]
        if not ids:
            return {}
        rows = list(session.scalars(select(Case).where(Case.id.in_(ids))))
        items = [(r.id, r.project_id, r.triage_version, cases.to_failure_case(r)) for r in rows]
    # CPU (and the LLM, if configured); no transaction open
    results = triage.triage_cases([item for *_, item in items], settings=settings)
    done: dict[str, int] = {}
    with session_scope(url, write=True) as session:
        for (case_id, project_id, seen_version, _), result in zip(items, results, strict=True):
            unchanged = (
                Case.triage_version.is_(None)
                if seen_version is None
                else Case.triage_version == seen_version
            )
            updated = session.execute(
                update(Case)
                .where(Case.id == case_id, unchanged)
                .values(triage=result.model_dump(mode="json"), triage_version=result.engine_version)
            ).rowcount
            if updated:
                done[project_id] = done.get(project_id, 0) + 1
    return done


def refresh(settings: Settings, project_id: str) -> None:
    url = settings.resolved_database_url
    with session_scope(url, write=True) as session:
        project = session.get(Project, project_id)
        if project is not None:
            advisory.refresh_stored(
                session, project=project, settings=settings, engine_version=triage.engine_version()
            )


def stale_projects(settings: Settings) -> list[str]:
    """Projects whose stored recommendation misses a change."""
    with session_scope(settings.resolved_database_url) as session:
        stmt = select(Project).where(
            or_(
                select(Case.id).where(Case.project_id == Project.id).exists(),
                select(StoredRecommendation.project_id)
                .where(StoredRecommendation.project_id == Project.id)
                .exists(),
            )
        )
        return [
            p.id
            for p in session.scalars(stmt)
            if advisory.is_stale(session, project=p, settings=settings)
        ]


def has_pending(settings: Settings, project_id: str) -> bool:
    with session_scope(settings.resolved_database_url) as session:
        stmt = select(Case.id).where(Case.project_id == project_id, Case.triage_version.is_(None))
        return session.scalar(stmt.limit(1)) is not None


class TriageWorker(threading.Thread):
    def __init__(
        self, *, settings: Settings, wake_event: threading.Event | ProcessEvent | None = None
    ) -> None:
        super().__init__(name="rung-triage", daemon=True)
        self.settings = settings
        self.wake = wake_event or _wake
        self.shutdown = threading.Event()
        self._refreshed: dict[str, float] = {}
        self._refresh_cost: dict[str, float] = {}
        self._dirty: set[str] = set()
        self._next_sweep = 0.0

    def run(self) -> None:
        _lower_priority()
        while not self.shutdown.is_set():
            busy = False
            try:
                busy = self.step()
            except Exception:  # a DB hiccup must not kill the worker
                logger.exception("triage worker pass failed; retrying")
            if not busy:
                self.wake.wait(IDLE_WAIT_S)
                self.wake.clear()

    def step(self) -> bool:
        """One pass; True when there may be more to do right away."""
        done = triage_batch(self.settings)
        self._dirty.update(done)
        now = time.monotonic()
        for project_id in sorted(self._dirty):
            pending = bool(done) and has_pending(self.settings, project_id)
            wait = max(REFRESH_WHILE_PENDING_S, 10 * self._refresh_cost.get(project_id, 0.0))
            if pending and now - self._refreshed.get(project_id, 0.0) < wait:
                continue  # more cases are coming: recompute less often than once per batch
            start = time.monotonic()
            refresh(self.settings, project_id)
            self._refreshed[project_id] = time.monotonic()
            self._refresh_cost[project_id] = self._refreshed[project_id] - start
            self._dirty.discard(project_id)
        if not done and now >= self._next_sweep:
            for project_id in stale_projects(self.settings):
                refresh(self.settings, project_id)
            self._next_sweep = time.monotonic() + SWEEP_S
        return bool(done)

    def stop(self, timeout: float = 30) -> None:
        self.shutdown.set()
        self.wake.set()
        self.join(timeout=timeout)


def _lower_priority() -> None:
    """Linux nice is per thread: requests go first (threads torch starts from here inherit it)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class TriageProcess:
    """The worker in a child process of `rung serve`; stopped with the server."""

    def __init__(self, settings: Settings) -> None:
        global _process_wake
        context = multiprocessing.get_context("spawn")
        self.wake = context.Event()
        self.stop_event = context.Event()
        self.process = context.Process(
            target=_process_main,
            args=(settings, self.wake, self.stop_event),
            name="rung-triage",
            daemon=True,
        )
        self.process.start()
        _process_wake = self.wake

    def stop(self, timeout: float = 30) -> None:
        global _process_wake
        _process_wake = None
        self.stop_event.set()
        self.wake.set()
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


def _process_main(settings: Settings, wake_event: ProcessEvent, stop: ProcessEvent) -> None:
    worker = TriageWorker(settings=settings, wake_event=wake_event)
    worker.start()
    stop.wait()
    worker.stop()


def start_triage_process(settings: Settings) -> TriageProcess | None:
    """`rung serve`'s triage worker, in a child process; None when RUNG_TRIAGE_ON_INGEST is off."""
    if not settings.triage_on_ingest:
        return None
    return TriageProcess(settings)


def start_triage_worker(settings: Settings) -> TriageWorker | None:
    """The triage thread of this process, or None when RUNG_TRIAGE_ON_INGEST is off."""
    if not settings.triage_on_ingest:
        return None
    worker = TriageWorker(settings=settings)
    worker.start()
    return worker
