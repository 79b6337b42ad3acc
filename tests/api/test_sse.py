"""The SSE loop shared by jobs and fixes (`app.core.sse`): Last-Event-ID parsing and when a
stream ends. The loop's logic is driven by a scripted poll here; the streams themselves run
over real HTTP in tests/jobs/test_jobs_api.py and tests/fixes/test_fix_run.py."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from app.core import sse


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, 0),
        ("", 0),
        ("17", 17),
        (" 17 ", 17),
        ("-5", 0),
        ("abc", 0),
        ("1.5", 0),
        (str(2**70), sse.EVENT_ID_MAX),
    ],
)
def test_last_event_id_header(header: str | None, expected: int) -> None:
    assert sse.event_id(header) == expected


def _collect(script: list[tuple[list[dict[str, Any]], str]], **kwargs: Any) -> list[dict]:
    polls: list[int] = []
    client_gone = kwargs.pop("_gone", False)

    def poll(after: int) -> tuple[list[dict[str, Any]], str]:
        polls.append(after)
        return script.pop(0)

    async def gone() -> bool:
        return client_gone

    async def run() -> list[dict]:
        return [e async for e in sse.poll_stream(poll, disconnected=gone, **kwargs)]

    out = asyncio.run(run())
    out.append({"polled_after": polls})
    return out


def test_events_then_end_once_the_owner_is_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse, "SSE_POLL_S", 0.0)
    ev = {"id": 4, "type": "progress", "data": {"step": 1}}
    out = _collect(
        [([ev], "running"), ([], "running"), ([], "succeeded")],
        after=3, follow=True, terminal={"succeeded"},
    )
    assert out[0] == {"id": "4", "event": "progress", "data": json.dumps({"step": 1})}
    assert out[1] == {"event": "end", "data": json.dumps({"state": "succeeded", "last_id": 4})}
    assert out[2] == {"polled_after": [3, 4, 4]}  # each poll continues after the last event sent


def test_without_follow_or_once_deleted_the_stream_ends_at_once() -> None:
    out = _collect([([], "running")], after=0, follow=False, terminal={"succeeded"})
    assert json.loads(out[0]["data"]) == {"state": "running", "last_id": 0}
    out = _collect([([], "deleted")], after=9, follow=True, terminal={"succeeded"})
    assert json.loads(out[0]["data"]) == {"state": "deleted", "last_id": 9}


def test_a_client_that_left_stops_the_stream_without_an_end_event() -> None:
    out = _collect([([], "running")], after=0, follow=True, terminal={"succeeded"}, _gone=True)
    assert out == [{"polled_after": [0]}]
