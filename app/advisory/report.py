"""The CTO report: one self-contained HTML page (inline CSS and SVG, no scripts, no requests)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from app.advisory.charts import (
    SUBCATEGORY_LABELS,
    breakdown_chart,
    cost_chart,
    ladder_chart,
    memory_chart,
    model_version_chart,
)
from app.advisory.memory import METHOD_NAMES
from app.advisory.schemas import DATA_NEED_NAMES, RUNG_NAMES, Recommendation
from app.triage.artefact import review_point

TEMPLATES = Path(__file__).parent / "templates"


def _pct(value: float, whole: float | None = None) -> str:
    if whole is not None:
        value = value / whole if whole else 0.0
    return f"{value:.0%}"


def _usd(value: float) -> str:
    return f"${value:,.0f}"


def _days(value: float) -> str:
    return f"{value:g} engineer-day" + ("" if value == 1 else "s")


def _num(value: float) -> str:
    return f"{value:g}"


def _metric(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"


def _delta(value: float | None) -> str:
    if value is None:
        return "—"
    return ("+" if value > 0 else "") + _metric(value)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(pct=_pct, usd=_usd, days=_days, num=_num, metric=_metric, delta=_delta)
    return env


_ENV = _environment()


def render_report(
    recommendation: Recommendation,
    *,
    project_name: str,
    team_name: str,
    generated_at: datetime,
    fixes: Sequence[Any] = (),
    model_versions: Sequence[Any] = (),
) -> str:
    """The report as one HTML document (UTF-8 text). ``fixes`` (`app.fixes.report_data.FixLine`)
    are listed under their plan step; ``model_versions`` (``TrendPoint``) draw the failures
    reported per week by model version."""
    verdict = recommendation.should_fine_tune
    detail = verdict.label.split(":", 1)[1].strip() if ":" in verdict.label else ""
    counts = recommendation.counts
    tuning = recommendation.tuning
    return _ENV.get_template("report.html").render(
        rec=recommendation,
        verdict=verdict,
        verdict_word=verdict.answer.upper(),
        verdict_detail=detail,
        verdict_class=verdict.answer.replace(" ", "-"),
        counts=counts,
        plan=recommendation.plan,
        tuning=tuning,
        data_needs=recommendation.data_needs,
        evals=recommendation.evals,
        jobs=recommendation.jobs,
        warnings=recommendation.warnings,
        project_name=project_name,
        team_name=team_name,
        generated=generated_at.strftime("%d %B %Y, %H:%M")
        + (f" {generated_at.tzname()}" if generated_at.tzinfo else ""),
        engine_versions=", ".join(counts.engine_versions) or "none",
        review_point=review_point(),
        breakdown_svg=breakdown_chart(counts),
        ladder_svg=ladder_chart(recommendation.plan, total=counts.total),
        cost_svg=cost_chart(recommendation.plan),
        memory_svg=memory_chart(tuning) if tuning else None,
        rung_names=RUNG_NAMES,
        method_names=METHOD_NAMES,
        data_need_names=DATA_NEED_NAMES,
        subcategory_names=SUBCATEGORY_LABELS,
        fixes=list(fixes),
        model_version_svg=model_version_chart(model_versions),
    )


def recommendation_json(recommendation: Recommendation) -> dict[str, Any]:
    """The recommendation as plain JSON-ready data (what the API returns)."""
    return recommendation.model_dump(mode="json")
