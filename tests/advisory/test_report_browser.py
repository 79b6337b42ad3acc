"""The report in a real headless Chromium: visible, laid out, printable, and offline."""

from __future__ import annotations

import struct
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from app.advisory.browser import ChromiumNotFoundError, chromium, chromium_path
from app.advisory.plan import build_recommendation
from app.advisory.report import render_report
from app.advisory.schemas import DatasetInfo, EvalInfo, JobInfo, ProjectContext, Recommendation
from app.advisory.screenshot import capture, main
from tests.conftest import service_missing

from .corpus import split

pytestmark = pytest.mark.browser

CONTEXT = ProjectContext(
    base_model="Llama-3.1-8B-Instruct",
    params_b=8,
    gpu_memory_gb=24,
    datasets=[DatasetInfo(kind="sft", rows=120, formats=["chatml", "alpaca"])],
    jobs=[JobInfo(id="job-7", recipe="lora_sft", state="succeeded", epochs=3)],
    evals=[
        EvalInfo(
            name="support-holdout",
            candidate="lora-job-7",
            baseline="base+prompt",
            metrics={"format_pass": 0.82},
            baseline_metrics={"format_pass": 0.61},
            gate_decision="fail",
        )
    ],
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        chromium_path()
    except ChromiumNotFoundError as error:
        service_missing(str(error))
    with chromium() as launched:
        yield launched


@pytest.fixture
def recommendation(corpus) -> Recommendation:
    cases, results = split(corpus)
    return build_recommendation(cases=cases, results=results, context=CONTEXT)


@pytest.fixture
def report_file(tmp_path: Path, recommendation: Recommendation) -> Path:
    path = tmp_path / "report.html"
    html = render_report(
        recommendation,
        project_name="Acme Support Copilot",
        team_name="Customer Platform",
        generated_at=datetime(2026, 11, 28, 14, 5, tzinfo=UTC),
    )
    path.write_text(html, encoding="utf-8")
    return path


def _open(browser: Browser, report: Path, *, width: int = 1200) -> tuple[Page, list[str]]:
    page = browser.new_page(viewport={"width": width, "height": 900})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(report.as_uri(), wait_until="load")
    return page, requests


def _box(page: Page, selector: str) -> dict[str, float]:
    locator = page.locator(selector)
    assert locator.is_visible(), selector
    box = locator.bounding_box()
    assert box is not None, selector
    assert box["width"] > 0 and box["height"] > 0, selector
    return box


def test_verdict_plan_and_charts_are_visible(
    browser: Browser, report_file: Path, recommendation: Recommendation
) -> None:
    page, requests = _open(browser, report_file)
    verdict = _box(page, "#verdict")
    assert page.locator("#verdict-answer").inner_text().startswith("NOT YET")
    assert recommendation.headline in page.locator("#verdict").inner_text()
    # the verdict is the first thing on the page, above the fold
    assert verdict["y"] < 300

    steps = page.locator("ol.steps > li.step")
    assert steps.count() == len(recommendation.plan)
    for step in recommendation.plan:
        box = _box(page, f"#step-{step.order}")
        assert box["y"] > verdict["y"]
        assert step.title in page.locator(f"#step-{step.order} h3").inner_text()

    charts = ["#chart-breakdown", "#chart-ladder", "#chart-cost", "#chart-memory"]
    assert page.locator("svg.chart").count() == len(charts)
    for selector in charts:
        box = _box(page, selector)
        assert box["width"] >= 300
        assert page.locator(f"{selector} > title").count() == 1
        label = page.locator(f"{selector} text").first
        label_box = label.bounding_box()
        assert label_box is not None and label_box["width"] > 0

    for section in ("#evals", "#jobs", "#caveats", "#tuning", "#data"):
        _box(page, section)
    assert "support-holdout" in page.locator("#evals").inner_text()

    assert requests and all(url.startswith("file:") for url in requests), requests
    page.close()


@pytest.mark.parametrize("width", [1200, 768])
def test_no_horizontal_overflow(browser: Browser, report_file: Path, width: int) -> None:
    page, _ = _open(browser, report_file, width=width)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width
    page.close()


def test_print_layout_keeps_the_verdict_and_charts(browser: Browser, report_file: Path) -> None:
    page, requests = _open(browser, report_file)
    page.emulate_media(media="print")
    _box(page, "#verdict")
    _box(page, "#chart-ladder")
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") + pdf.count(b"/Type/Page") >= 2
    assert all(url.startswith("file:") for url in requests), requests
    page.close()


def test_screenshot_module_writes_a_png(
    browser: Browser, report_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "shots" / "report.png"
    command = [sys.executable, "-m", "app.advisory.screenshot", str(report_file), str(out)]
    done = subprocess.run(
        [*command, "--width", "1000"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "blocked" not in done.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1000
    assert height > 2000  # the whole page, not one screen


def test_screenshot_blocks_and_reports_outside_requests(browser: Browser, tmp_path: Path) -> None:
    page = tmp_path / "leaky.html"
    page.write_text(
        '<!doctype html><title>x</title><img src="http://example.invalid/pixel.png" alt="">',
        encoding="utf-8",
    )
    blocked = capture(page, tmp_path / "leaky.png", browser=browser)
    assert blocked == ["http://example.invalid/pixel.png"]
    assert (tmp_path / "leaky.png").read_bytes()[:4] == b"\x89PNG"


def test_screenshot_of_a_missing_report_fails_clearly(tmp_path: Path) -> None:
    assert main([str(tmp_path / "missing.html"), str(tmp_path / "x.png")]) == 2
