"""The SVG charts and the HTML report, parsed (the browser test renders them for real)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from app.advisory.charts import breakdown_chart, cost_chart, ladder_chart, memory_chart
from app.advisory.plan import build_recommendation
from app.advisory.report import render_report
from app.advisory.schemas import (
    DatasetInfo,
    EvalInfo,
    JobInfo,
    ProjectContext,
    Recommendation,
)
from app.cases.schemas import FailureCase

from .corpus import Pair, pairs_with, split

SVG = "{http://www.w3.org/2000/svg}"
WHEN = datetime(2026, 11, 28, 14, 5, tzinfo=UTC)
CONTEXT = ProjectContext(
    base_model="Llama-3.1-8B-Instruct",
    params_b=8,
    gpu_memory_gb=24,
    datasets=[DatasetInfo(kind="sft", rows=120, formats=["chatml"])],
    jobs=[
        JobInfo(id="job-7", recipe="lora_sft", state="succeeded", epochs=1, metrics={"loss": 0.4})
    ],
    evals=[
        EvalInfo(
            name="support-holdout",
            candidate="lora-job-7",
            baseline="base+prompt",
            metrics={"format_pass": 0.82},
            baseline_metrics={"format_pass": 0.61},
            gate_decision="pass",
        )
    ],
)


def _recommendation(pairs: list[Pair], context: ProjectContext | None = None) -> Recommendation:
    cases, results = split(pairs)
    return build_recommendation(cases=cases, results=results, context=context)


def _svg_texts(markup: str) -> tuple[ET.Element, list[str]]:
    root = ET.fromstring(str(markup))
    return root, [t.text or "" for t in root.iter(f"{SVG}text")]


def _check_accessible(root: ET.Element) -> None:
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text
    assert desc is not None and desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"


# ----------------------------------------------------------------------------- charts


def test_breakdown_chart_labels_every_subcategory_with_its_count(corpus) -> None:
    rec = _recommendation(corpus)
    root, texts = _svg_texts(breakdown_chart(rec.counts))
    _check_accessible(root)
    assert "Format" in texts and "Missing knowledge" in texts
    assert "6  (20%)" in texts  # 6 format cases of 30
    assert "30%" in texts and "70%" in texts  # knowledge vs behaviour split
    desc = root.find(f"{SVG}desc").text
    assert "9 knowledge (30%)" in desc


def test_ladder_chart_shows_each_planned_rung_and_the_ones_not_needed(corpus) -> None:
    rec = _recommendation(pairs_with(corpus, "format", "style"))
    root, texts = _svg_texts(ladder_chart(rec.plan, total=rec.counts.total))
    _check_accessible(root)
    assert texts.count("not needed") == 2  # retrieval and DPO
    for step in rec.plan:
        assert f"step {step.order}" in texts
        assert f"{step.case_count} cases · {step.share:.0%}" in texts


def test_memory_chart_draws_the_three_methods_against_the_gpu(corpus) -> None:
    rec = _recommendation(pairs_with(corpus, "format"), CONTEXT)
    assert rec.tuning is not None
    root, texts = _svg_texts(memory_chart(rec.tuning))
    _check_accessible(root)
    assert "GPU: 24 GB" in texts
    assert "LoRA (chosen)" in texts
    assert any("does not fit" in t for t in texts)  # full SFT of 8B on 24 GB
    assert root.find(f"{SVG}line") is not None
    unknown = rec.tuning.model_copy(update={"memory": []})
    assert memory_chart(unknown) is None


def test_memory_chart_without_gpu_memory_has_no_gpu_line(corpus) -> None:
    rec = _recommendation(pairs_with(corpus, "format"), ProjectContext(params_b=8))
    assert rec.tuning is not None and rec.tuning.fits is None
    root, texts = _svg_texts(memory_chart(rec.tuning))
    assert root.find(f"{SVG}line") is None
    assert not any("fit" in t for t in texts)
    assert len(root.findall(f"{SVG}rect")) == 3


def test_cost_chart_shows_dollars_per_step(corpus) -> None:
    rec = _recommendation(corpus)
    root, texts = _svg_texts(cost_chart(rec.plan))
    _check_accessible(root)
    for step in rec.plan:
        assert any(t.startswith(f"${step.cost.total_usd:,.0f}") for t in texts)


# ----------------------------------------------------------------------------- report


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _render(rec: Recommendation, **names: str) -> str:
    return render_report(
        rec,
        project_name=names.get("project_name", "Acme Support Copilot"),
        team_name=names.get("team_name", "Customer Platform"),
        generated_at=WHEN,
    )


def test_report_puts_the_verdict_first_then_charts_then_plan(corpus) -> None:
    rec = _recommendation(corpus, CONTEXT)
    html = _render(rec)
    positions = [
        html.index('id="verdict"'),
        html.index('id="chart-breakdown"'),
        html.index('id="chart-ladder"'),
        html.index('id="plan"'),
        html.index('id="evals"'),
        html.index('id="jobs"'),
        html.index('id="caveats"'),
    ]
    assert positions == sorted(positions)
    assert "NOT YET" in html
    for step in rec.plan:
        assert f'id="step-{step.order}"' in html
    assert "28 November 2026, 14:05 UTC" in html
    assert "triage-0.3.1" in html


def test_report_is_self_contained(corpus) -> None:
    html = _render(_recommendation(corpus, CONTEXT))
    parser = _Collector()
    parser.feed(html)
    tags = {tag for tag, _ in parser.tags}
    assert "script" not in tags and "link" not in tags and "img" not in tags
    for _, attrs in parser.tags:
        for name in ("src", "href", "action"):
            assert attrs.get(name) is None, attrs
    # the SVG namespace is the only URL, and it is never fetched
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}
    assert "@import" not in html and "url(" not in html


def test_report_escapes_everything_it_is_given(corpus) -> None:
    evil = "<script>alert('x')</script>"
    case = FailureCase(input=f"tell me {evil}", output=f"<img src=x onerror=alert(1)>{evil}")
    (_, result) = pairs_with(corpus, "format")[0]
    rec = _recommendation([(case, result), *corpus[:5]])
    html = _render(rec, project_name=evil, team_name=evil)
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html


def test_report_without_evals_or_jobs_says_what_to_run(corpus) -> None:
    html = _render(_recommendation(corpus))
    assert "No evals yet" in html and "<code>rung eval</code>" in html
    assert "No recipe has run for this project yet." in html
    assert 'id="tuning"' in html  # LoRA defaults even without a model size
    assert 'id="chart-memory"' not in html  # but no memory chart without one


def test_report_shows_evals_jobs_and_warnings(corpus) -> None:
    context = CONTEXT.model_copy(
        update={"jobs": [*CONTEXT.jobs, JobInfo(recipe="full_sft", state="failed", epochs=4)]}
    )
    rec = _recommendation(corpus, context)
    html = _render(rec)
    assert "support-holdout" in html and "+0.210" in html and "badge-pass" in html
    assert "job-7" in html and "full_sft" in html
    for warning in rec.warnings:
        assert f'data-code="{warning.code}"' in html
    assert 'id="chart-memory"' in html


@pytest.mark.parametrize(
    ("subcategories", "word"),
    [
        (("missing_knowledge", "stale_knowledge", "retrieval_gap"), "NO"),
        (("style",), "NOT YET"),
    ],
)
def test_report_verdict_word(corpus, subcategories: tuple[str, ...], word: str) -> None:
    html = _render(_recommendation(pairs_with(corpus, *subcategories)))
    match = re.search(r'<p class="answer" id="verdict-answer">([^<]+)', html)
    assert match is not None
    assert match.group(1).strip() == word


def test_empty_project_report(corpus) -> None:
    html = _render(_recommendation([]))
    assert "No failure cases yet" in html
