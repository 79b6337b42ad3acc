"""Job events: written in order by whoever changes a job, read by SSE clients and `logs`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import session_scope
from app.jobs.models import JobEvent


def add_event(session: Session, *, job_id: str, type: str, **data: Any) -> JobEvent:
    event = JobEvent(job_id=job_id, type=type, data=jsonable(data))
    session.add(event)
    return event


def record(url: str, *, job_id: str, type: str, **data: Any) -> None:
    """Add one event in its own transaction (workers)."""
    with session_scope(url) as session:
        add_event(session, job_id=job_id, type=type, **data)


def events_after(
    session: Session, *, job_id: str, after: int = 0, limit: int = 500, types: tuple[str, ...] = ()
) -> list[JobEvent]:
    stmt = select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.id > after)
    if types:
        stmt = stmt.where(JobEvent.type.in_(types))
    return list(session.scalars(stmt.order_by(JobEvent.id).limit(limit)))


def format_event(event: JobEvent) -> str:
    """One human line for `rung jobs logs`."""
    data = event.data or {}
    stamp = f"{event.created_at:%Y-%m-%d %H:%M:%S}"
    if event.type == "progress":
        parts = [f"[{data.get('phase', '?')}]"]
        if data.get("total_steps"):
            parts.append(f"step {data.get('step')}/{data.get('total_steps')}")
        if data.get("loss") is not None:
            parts.append(f"loss {data['loss']:.4f}")
        if data.get("eta_s") is not None:
            parts.append(f"eta {data['eta_s']:.0f}s")
        if data.get("message"):
            parts.append(str(data["message"]))
        return f"{stamp} " + " ".join(parts)
    if event.type == "state":
        extra = f" ({data['reason']})" if data.get("reason") else ""
        attempt = f" attempt {data['attempt']}" if data.get("attempt") else ""
        return f"{stamp} [state] {data.get('state')}{attempt}{extra}"
    if event.type == "checkpoint":
        return f"{stamp} [checkpoint] step {data.get('step')} saved as {data.get('digest')}"
    return f"{stamp} [{data.get('level', 'log')}] {data.get('message', '')}"


def jsonable(value: Any) -> Any:
    """``value`` with NaN as None and anything unusual as a string (JSON columns accept it)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN is not valid JSON
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
