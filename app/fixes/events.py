"""Fix events: written in order by whoever changes a fix, read by SSE clients."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import session_scope
from app.fixes.models import FixEvent
from app.jobs.events import jsonable


def add_event(session: Session, *, fix_id: str, type: str, **data: Any) -> FixEvent:
    event = FixEvent(fix_id=fix_id, type=type, data=jsonable(data))
    session.add(event)
    return event


def record(url: str, *, fix_id: str, type: str, **data: Any) -> None:
    """Add one event in its own transaction (the driver)."""
    with session_scope(url) as session:
        add_event(session, fix_id=fix_id, type=type, **data)


def events_after(
    session: Session, *, fix_id: str, after: int = 0, limit: int = 500
) -> list[FixEvent]:
    stmt = select(FixEvent).where(FixEvent.fix_id == fix_id, FixEvent.id > after)
    return list(session.scalars(stmt.order_by(FixEvent.id).limit(limit)))
