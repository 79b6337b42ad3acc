"""POST .../cases only stores: each case is `pending` until the worker triages it; the worker
then stores the recommendation, which GET .../recommendation serves without recomputing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from app.advisory.stored import StoredRecommendation
from app.config import Settings
from app.db import session_scope
from app.workers.triage_worker import TriageWorker
from tests.conftest import LiveServer

P = "/v1/projects/bot"
CASES = [
    {"input": "price of the day pass?", "output": "The day pass is 7 euros.",
     "expected": "Since March the day pass costs 9 euros.", "feedback": "old price"},
    {"input": "reply in JSON please", "output": "Sure! The order shipped.",
     "expected": '{"status": "shipped"}', "feedback": "not JSON"},
    {"input": "how long do refunds take", "output": "3 days", "expected": "5-10 business days",
     "context": ["Refunds are returned within 5-10 business days."]},
]


@pytest.fixture
def manual_worker(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Settings, TriageWorker]]:
    """The app with triage on the worker, whose passes the test runs one at a time."""
    monkeypatch.setattr("app.main.start_triage_process", lambda _settings: None)
    on = settings.model_copy(update={"triage_on_ingest": True, "embedded_worker": False})
    yield on, TriageWorker(settings=on)


def _stored(settings: Settings) -> StoredRecommendation | None:
    with session_scope(settings.resolved_database_url) as session:
        return session.scalar(select(StoredRecommendation))


def test_cases_are_pending_until_the_worker_triages_them(manual_worker, make_team) -> None:  # type: ignore[no-untyped-def]
    settings, worker = manual_worker
    _, key = make_team()
    with LiveServer(settings) as server, httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=120
    ) as api:
        api.post("/v1/projects", json={"name": "bot"})
        ids = api.post(f"{P}/cases", json=CASES).json()["ids"]
        case = api.get(f"{P}/cases/{ids[0]}").json()
        assert case["triage_state"] == "pending" and case["triage"] is None
        rec = api.get(f"{P}/recommendation")
        assert rec.headers["X-Rung-Cases-Pending"] == "3"
        assert rec.json()["counts"]["total"] == 0  # nothing triaged yet, nothing guessed
        assert _stored(settings) is None

        assert worker.step() is True  # one batch: the three cases, then the recommendation
        items = api.get(f"{P}/cases").json()["items"]
        assert [c["triage_state"] for c in items] == ["done"] * 3
        assert all(c["triage"]["category"] in ("knowledge", "behavior") for c in items)
        saved = _stored(settings)
        assert saved is not None and saved.cases_triaged == 3
        rec = api.get(f"{P}/recommendation")
        assert rec.headers["X-Rung-Cases-Pending"] == "0"
        assert rec.json() == saved.recommendation

        # served from storage: what the worker stored is what the API answers
        with session_scope(settings.resolved_database_url) as session:
            row = session.scalar(select(StoredRecommendation))
            row.recommendation = {**row.recommendation, "headline": "from storage"}
        assert api.get(f"{P}/recommendation").json()["headline"] == "from storage"

        # a new case: pending, and the next pass recomputes the stored recommendation
        api.post(f"{P}/cases", json=CASES[:1])
        assert api.get(f"{P}/recommendation").headers["X-Rung-Cases-Pending"] == "1"
        worker.step()
        assert _stored(settings).cases_triaged == 4
        rec = api.get(f"{P}/recommendation").json()
        assert rec["counts"]["total"] == 4 and rec["headline"] != "from storage"


def test_the_worker_thread_wakes_on_new_cases(settings: Settings, make_team) -> None:  # type: ignore[no-untyped-def]
    on = settings.model_copy(update={"triage_on_ingest": True, "embedded_worker": False})
    _, key = make_team()
    with LiveServer(on) as server, httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=120
    ) as api:
        api.post("/v1/projects", json={"name": "bot"})
        api.post(f"{P}/cases", json=CASES)
        deadline = time.monotonic() + 120
        while api.get(f"{P}/recommendation").headers["X-Rung-Cases-Pending"] != "0":
            assert time.monotonic() < deadline, "the worker did not triage the cases"
            time.sleep(0.2)
        deadline = time.monotonic() + 30
        while _stored(on) is None or _stored(on).cases_triaged != 3:
            assert time.monotonic() < deadline, "the worker did not store the recommendation"
            time.sleep(0.2)
