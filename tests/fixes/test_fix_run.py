"""A fix end to end over real HTTP with the in-process worker and the tiny model: its states and
events (SSE), the champion's and the candidate's runs on the held-out cases, the outcome and the
gate; a fix whose driver died is taken up where it stood; the fixed-rate arithmetic."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update

from app.config import Settings
from app.db import session_scope, utcnow
from app.evaluation import service as evaluation
from app.fixes.driver import advance_once
from app.fixes.models import Fix
from app.fixes.outcomes import CaseOutcome, classify, sentence, summarize
from app.jobs.cli import iter_sse
from app.projects.models import Project
from evals.results import ExampleResult, RunResult
from tests.conftest import LiveServer

from .conftest import add_cases, grounding_cases

TINY = {"max_steps": 2, "save_steps": 2, "eval_steps": 2, "lora_r": 4, "logging_steps": 1}


def test_a_fix_runs_its_states_with_events_and_stores_its_outcome(
    api: httpx.Client, settings: Settings, engine_version: str, tiny_model: Path
) -> None:
    add_cases(api, settings, engine_version, "bot", grounding_cases(8))
    created = api.post(
        "/v1/projects/bot/fixes",
        json={"rung": "lora_sft", "config": {**TINY, "base_model": str(tiny_model)}},
    )
    assert created.status_code == 201, created.text
    fix = created.json()
    assert fix["state"] in ("training", "evaluating", "gating", "succeeded")

    with api.stream("GET", f"/v1/projects/bot/fixes/{fix['id']}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = list(iter_sse(response))
    assert events[-1]["event"] == "end" and events[-1]["data"]["state"] == "succeeded", events
    states = [e["data"]["state"] for e in events if e["event"] == "state"]
    assert states == ["built", "training", "evaluating", "gating", "succeeded"]
    ids = [int(e["id"]) for e in events if "id" in e]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert any(e["event"] == "progress" and e["data"].get("phase") == "answer" for e in events)
    outcome_event = next(e["data"] for e in events if e["event"] == "outcome")

    done = api.get(f"/v1/projects/bot/fixes/{fix['id']}").json()
    held = done["cases"]["holdout"]
    totals = done["outcome"]["totals"]
    assert totals["cases"] == len(held) == outcome_event["cases"]
    assert sum(totals[k] for k in ("fixed", "still_failing", "broken", "still_passing")) == len(
        held
    )
    assert {c["case_id"] for c in done["outcome"]["cases"]} == set(held)
    assert set(done["outcome"]["by_subcategory"]) == {"grounding"}
    assert "similarity" in done["outcome"]["criterion"]
    # both runs are stored, on the same held-out cases, and the project's gate judged them
    for side in ("champion", "candidate"):
        run = api.get(f"/v1/evals/{done['eval_runs'][side]}")
        assert run.status_code == 200, run.text
        assert run.json()["n_examples"] == len(held)
    gate = done["outcome"]["gate"]
    assert done["gate_status"] == gate["status"]
    # fewer than 30 held-out cases: the gate cannot decide, and says so per metric
    assert gate["status"] == "undecided"
    assert {t["metric"] for t in gate["paired_tests"]} >= {"acceptable", "similarity"}
    assert done["gate_id"]
    assert api.post(f"/v1/projects/bot/fixes/{fix['id']}/cancel").status_code == 409


def _runs(
    settings: Settings,
    project_id: str,
    champion: list[float],
    candidate: list[float],
    case_ids: list[str],
) -> dict[str, str]:
    with session_scope(settings.resolved_database_url) as session:
        project = session.get(Project, project_id)
        runs = {}
        for side, values in (("champion", champion), ("candidate", candidate)):
            result = RunResult(
                run={"name": side, "dataset_sha256": "a" * 64},
                examples=[
                    ExampleResult(id=i, scores={"acceptable": v, "similarity": v})
                    for i, v in zip(case_ids, values, strict=True)
                ],
            )
            runs[side] = evaluation.store_run(session, project=project, result=result).id
        return runs


def test_a_fix_whose_driver_died_is_taken_up_where_it_stood(
    settings: Settings, make_team: Any, engine_version: str
) -> None:
    # a server without the in-process worker and fix driver: only this test's `advance_once`
    # may take the fix up (a driver in the server raced it for the lapsed lease)
    quiet = settings.model_copy(update={"embedded_worker": False})
    _, key = make_team()
    with (
        LiveServer(quiet) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as api,
    ):
        _take_up_a_dead_drivers_fix(api, settings, quiet, engine_version)


def _take_up_a_dead_drivers_fix(
    api: httpx.Client, settings: Settings, quiet: Settings, engine_version: str
) -> None:
    add_cases(api, settings, engine_version, "bot", grounding_cases(6))
    fix = api.post("/v1/projects/bot/fixes", json={"rung": "lora_sft"}).json()
    ids = [f"case-{i}" for i in range(40)]
    url = settings.resolved_database_url
    with session_scope(url) as session:
        project_id = session.get(Fix, fix["id"]).project_id
    runs = _runs(settings, project_id, [0.0] * 40, [1.0] * 40, ids)
    # a driver died while gating: the state and its (now stale) lease are left behind
    with session_scope(url) as session:
        session.execute(
            update(Fix)
            .where(Fix.id == fix["id"])
            .values(
                state="gating",
                eval_runs=runs,
                lease_owner="dead-driver",
                lease_expires_at=utcnow() + timedelta(seconds=60),
            )
        )
    policy = quiet.job
    assert advance_once(settings=quiet, policy=policy, owner="alive") == 0, "lease still held"
    assert api.get(f"/v1/projects/bot/fixes/{fix['id']}").json()["state"] == "gating"
    with session_scope(url) as session:
        session.execute(
            update(Fix)
            .where(Fix.id == fix["id"])
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    assert advance_once(settings=quiet, policy=policy, owner="alive") == 1
    done = api.get(f"/v1/projects/bot/fixes/{fix['id']}").json()
    assert done["state"] == "succeeded" and done["gate_status"] == "pass"
    log = api.get(f"/v1/projects/bot/fixes/{fix['id']}/log").json()
    assert [e["data"]["state"] for e in log] == ["built", "training", "succeeded"]


def test_fixed_rate_arithmetic_on_crafted_runs() -> None:
    assert classify(champion_ok=False, candidate_ok=True) == "fixed"
    assert classify(champion_ok=False, candidate_ok=False) == "still_failing"
    assert classify(champion_ok=True, candidate_ok=False) == "broken"
    assert classify(champion_ok=True, candidate_ok=True) == "still_passing"
    crafted: list[tuple[str, bool, bool]] = (
        [("format", False, True)] * 41
        + [("format", False, False)] * 8
        + [("format", True, True)] * 3
        + [("style", True, False)] * 2
        + [("style", False, True)] * 1
    )
    items = [
        CaseOutcome(case_id=f"c{i}", subcategory=s, champion_ok=a, candidate_ok=b)
        for i, (s, a, b) in enumerate(crafted)
    ]
    summary: dict[str, Any] = summarize(items)
    totals = summary["totals"]
    assert (
        totals["fixed"],
        totals["still_failing"],
        totals["broken"],
        totals["still_passing"],
    ) == (42, 8, 2, 3)
    assert totals["failing_under_champion"] == 50 and totals["failing_under_candidate"] == 10
    assert totals["fixed_rate"] == 0.84
    fmt = summary["by_subcategory"]["format"]
    assert (fmt["fixed"], fmt["failing_under_champion"], fmt["broken"]) == (41, 49, 0)
    assert summary["by_subcategory"]["style"]["broken"] == 2
    assert sentence(fmt).startswith("fixed 41 of 49 failing held-out case(s) (84%)")
    assert summarize([])["totals"]["fixed_rate"] is None
