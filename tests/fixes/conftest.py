"""Projects whose cases carry a known triage, so that each plan step holds known cases.

Cases go in over HTTP; their triage is then written as the triage worker writes it (the result
and the current engine's version), so the plan and the fix read it as stored instead of
re-triaging: each case lands in the step its subcategory sends it to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from app.cases.models import Case
from app.config import Settings
from app.db import session_scope
from app.triage.ladder import category_of, fix_for

FAST_POLICY = {
    "RUNG_JOB_HEARTBEAT_S": "0.3",
    "RUNG_JOB_LEASE_S": "10",
    "RUNG_JOB_POLL_INTERVAL_S": "0.2",
    "RUNG_JOB_RETRY_BACKOFF_S": "0",
}


@pytest.fixture(autouse=True)
def fast_policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Quick heartbeats and polling for the in-process worker and the fix driver."""
    for key, value in FAST_POLICY.items():
        monkeypatch.setenv(key, value)
    yield


@pytest.fixture(scope="session")
def engine_version() -> str:
    from app.triage.service import engine_version as version

    return version()


def add_cases(
    api: httpx.Client,
    settings: Settings,
    engine_version: str,
    project: str,
    cases: list[tuple[str, dict[str, Any]]],
) -> list[str]:
    """Store (subcategory, case) pairs over HTTP, then their triage; returns the case ids."""
    api.post("/v1/projects", json={"name": project})
    response = api.post(f"/v1/projects/{project}/cases", json=[c for _, c in cases])
    assert response.status_code == 201, response.text
    ids = response.json()["ids"]
    with session_scope(settings.resolved_database_url) as session:
        for case_id, (subcategory, case) in zip(ids, cases, strict=True):
            result = {
                "category": category_of(subcategory),
                "subcategory": subcategory,
                "fix": fix_for(subcategory=subcategory, attempted=case.get("attempted", [])),
                "confidence": 0.9,
                "evidence": ["set by the test"],
                "engine_version": engine_version,
            }
            session.execute(
                update(Case)
                .where(Case.id == case_id)
                .values(triage=result, triage_version=engine_version)
            )
    return ids


def format_cases(n: int, *, start: int = 0) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "format",
            {
                "input": f"Status of parcel PP{100 + i} as JSON",
                "output": f"Parcel PP{100 + i} is in transit.",
                "expected": json.dumps(
                    {"parcel": f"PP{100 + i}", "status": "in_transit", "eta_days": i % 4 + 1}
                ),
                "feedback": "the app needs JSON",
            },
        )
        for i in range(start, start + n)
    ]


def grounding_cases(n: int, *, with_expected: bool = True) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "grounding",
            {
                "input": f"Can I send a parcel of {i + 2} kg to locker {i}?",
                "output": "Yes, any weight is fine.",
                "expected": (
                    f"No: locker {i} takes parcels up to 2 kg, and yours weighs {i + 2} kg."
                )
                if with_expected
                else None,
                "context": [f"Locker {i} accepts parcels up to 2 kg."],
                "attempted": ["prompting"],
            },
        )
        for i in range(n)
    ]


def preference_cases(n: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "preference",
            {
                "input": f"Where is my parcel number {i}?",
                "output": f"PARCEL {i}: IN DEPOT. NO FURTHER INFO.",
                "expected": f"Your parcel {i} is at our depot and should reach you tomorrow.",
                "source": "pairwise",
            },
        )
        for i in range(n)
    ]


def knowledge_cases(n: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "missing_knowledge",
            {
                "input": f"What does insurance level {i} cover?",
                "output": "I don't know.",
                "expected": f"Insurance level {i} covers parcels worth up to {i + 1}00 euros.",
            },
        )
        for i in range(n)
    ]


def plan_steps(api: httpx.Client, project: str) -> dict[str, int]:
    """rung -> step number of the project's plan."""
    rec = api.get(f"/v1/projects/{project}/recommendation").json()
    return {step["rung"]: step["order"] for step in rec["plan"]}
