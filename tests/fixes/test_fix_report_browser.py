"""The report in headless Chromium shows a fix under its plan step (fixed / still failing /
broken, the gate's verdict, the version promoted) and the failures per model version."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser
from sqlalchemy import update

from app.advisory.browser import ChromiumNotFoundError, chromium, chromium_path
from app.config import Settings
from app.db import session_scope, utcnow
from app.fixes.driver import advance_once
from app.fixes.models import Fix
from app.fixes.outcomes import CaseOutcome, summarize
from tests.conftest import service_missing

from .conftest import add_cases, grounding_cases, plan_steps
from .test_fix_run import _runs

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        chromium_path()
    except ChromiumNotFoundError as error:
        if os.environ.get("RUNG_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{error}; RUNG_REQUIRE_SERVICES=1 makes that an error")
        service_missing(str(error))
    with chromium() as launched:
        yield launched


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"embedded_worker": False})


def test_the_report_shows_a_fix_under_its_step_and_failures_by_model_version(
    api: httpx.Client,
    settings: Settings,
    engine_version: str,
    browser: Browser,
    tmp_path: Path,
) -> None:
    cases = grounding_cases(8)
    for i, (_, case) in enumerate(cases):
        case["metadata"] = {
            "model_version": "v1" if i < 5 else "v2",
            "date": f"2026-11-{2 + 7 * (i % 3):02d}",
        }
    add_cases(api, settings, engine_version, "bot", cases)
    step = plan_steps(api, "bot")["lora"]
    fix = api.post("/v1/projects/bot/fixes", json={"step": step, "promote": "assistant"}).json()
    # the champion failed all 40 crafted held-out cases, the candidate 6 of them; 0 broken
    ids = [f"case-{i}" for i in range(40)]
    url = settings.resolved_database_url
    with session_scope(url) as session:
        project_id = session.get(Fix, fix["id"]).project_id
    runs = _runs(settings, project_id, [0.0] * 40, [1.0] * 34 + [0.0] * 6, ids)
    outcome = summarize(
        CaseOutcome(case_id=i, subcategory="grounding", champion_ok=False, candidate_ok=n < 34)
        for n, i in enumerate(ids)
    )
    outcome["criterion"] = "exact match or similarity to expected >= 0.8"
    with session_scope(url) as session:
        session.execute(
            update(Fix)
            .where(Fix.id == fix["id"])
            .values(
                state="gating",
                eval_runs=runs,
                outcome=outcome,
                lease_owner=None,
                lease_expires_at=utcnow() - timedelta(seconds=1),
            )
        )
    assert advance_once(settings=settings, policy=settings.job, owner="driver") == 1
    done = api.get(f"/v1/projects/bot/fixes/{fix['id']}").json()
    assert done["gate_status"] == "pass" and done["promoted_version"] == 1
    assert done["outcome"]["promotion"] == {"model": "assistant", "promoted": 1}
    model = api.get("/v1/projects/bot/models/assistant").json()
    champion = next(v for v in model["versions"] if v["version"] == model["aliases"]["champion"])
    assert champion["eval_run_id"] == runs["candidate"]

    response = api.get("/v1/projects/bot/report")
    assert response.status_code == 200, response.text
    report = tmp_path / "report.html"
    report.write_text(response.text, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(report.as_uri(), wait_until="load")
    block = page.locator(f"#fixes-step-{step}")
    assert block.is_visible()
    text = block.inner_text()
    assert fix["id"][:12] in text
    row = block.locator("table.fix-outcomes tbody tr").first.inner_text()
    cells = [c.strip() for c in row.split("\t")]
    assert cells[2:6] == ["40", "34", "6", "0"], cells
    assert "85%" in row and "pass" in row.lower() and "version 1" in row
    assert "Acceptable: exact match or similarity" in text
    chart = page.locator("#chart-model-versions")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] >= 300
    desc = page.locator("#chart-model-versions-desc").text_content() or ""
    assert "v1" in desc and "v2" in desc
    # the other steps have no fix block
    assert page.locator(".fixes").count() == 1
    page.close()
