"""Server-sent events read from a table of events (jobs, fixes): poll, send, end.

`table_stream` is what a domain's service returns: the events of one job (or fix) after an id,
then an ``end`` event once its state is terminal. What the client asked (where to start, whether
to follow) arrives as a `StreamRequest`, which `app.deps.EventStreamDep` builds from the request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from app.db import session_scope

POLL_BATCH = 200  # events read per poll
SSE_POLL_S = 0.5  # how often a follower looks for new events while there are none
EVENT_ID_MAX = 2**63 - 1  # event ids are 64-bit

# poll(after) -> (events after that id as {"id", "type", "data"}, the owner's state or "deleted")
Poll = Callable[[int], tuple[list[dict[str, Any]], str]]


@dataclass(frozen=True)
class StreamRequest:
    """What a client asked of an event stream, and how to read the events and see it leave."""

    url: str  # the database the events are polled from
    after: int  # send the events with a larger id
    follow: bool  # keep sending until the owner ends (else stop at the last event)
    disconnected: Callable[[], Awaitable[bool]]


def event_id(value: str | None) -> int:
    """A ``Last-Event-ID`` header as an event id (0 when absent or not a number)."""
    try:
        return min(max(int(value), 0), EVENT_ID_MAX) if value else 0
    except ValueError:
        return 0


async def poll_stream(
    poll: Poll,
    *,
    after: int,
    follow: bool,
    terminal: Collection[str],
    disconnected: Callable[[], Awaitable[bool]],
) -> AsyncIterator[dict[str, Any]]:
    """Events after ``after``, then an ``end`` event once the owner's state is terminal (or at
    once without ``follow``). ``poll`` runs in the threadpool, each call in its own short
    session; the stream stops when ``disconnected()`` says the client left."""
    last = after
    while True:
        batch, state = await run_in_threadpool(poll, last)
        for event in batch:
            last = event["id"]
            yield {"id": str(event["id"]), "event": event["type"],
                   "data": json.dumps(event["data"])}
        if not batch and (state in terminal or state == "deleted" or not follow):
            yield {"event": "end", "data": json.dumps({"state": state, "last_id": last})}
            return
        if not batch:
            if await disconnected():
                return
            await asyncio.sleep(SSE_POLL_S)


def table_stream(
    stream: StreamRequest,
    *,
    events: Any,
    owner_key: Any,
    owner: Any,
    owner_id: str,
    terminal: Collection[str],
) -> AsyncIterator[dict[str, Any]]:
    """The rows of the event model ``events`` whose ``owner_key`` column is ``owner_id`` and
    whose id is above ``stream.after``, as server-sent events; ends once ``owner``'s row (its
    ``state``) is in ``terminal`` or gone."""

    def poll(last: int) -> tuple[list[dict[str, Any]], str]:
        with session_scope(stream.url) as session:
            rows = session.scalars(
                select(events)
                .where(owner_key == owner_id, events.id > last)
                .order_by(events.id)
                .limit(POLL_BATCH)
            )
            batch = [{"id": e.id, "type": e.type, "data": e.data} for e in rows]
            row = session.get(owner, owner_id)
            return batch, row.state if row is not None else "deleted"

    return poll_stream(
        poll,
        after=stream.after,
        follow=stream.follow,
        terminal=terminal,
        disconnected=stream.disconnected,
    )
