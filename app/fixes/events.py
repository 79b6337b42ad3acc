"""Fix events: written in order by whoever changes a fix, read by SSE clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.sse import poll_stream
from app.db import session_scope
from app.fixes.models import TERMINAL_FIX_STATES, Fix, FixEvent
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


def sse_stream(
    url: str,
    *,
    fix_id: str,
    after: int,
    follow: bool,
    disconnected: Callable[[], Awaitable[bool]],
) -> AsyncIterator[dict[str, Any]]:
    """Server-sent events of a fix after event ``after``, then ``end`` once the fix has ended."""
    return poll_stream(
        lambda last: _poll(url, fix_id, last), after=after, follow=follow,
        terminal=TERMINAL_FIX_STATES, disconnected=disconnected,
    )


def _poll(url: str, fix_id: str, after: int) -> tuple[list[dict[str, Any]], str]:
    with session_scope(url) as session:
        batch = [
            {"id": e.id, "type": e.type, "data": e.data}
            for e in events_after(session, fix_id=fix_id, after=after)
        ]
        fix = session.get(Fix, fix_id)
        return batch, fix.state if fix is not None else "deleted"
