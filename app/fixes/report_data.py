"""What the report shows of fixes: each fix's outcome for its plan step, and the failures
reported per model version over time (cases' ``metadata.model_version``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cases.models import Case
from app.fixes.models import Fix
from app.projects.models import Project


@dataclass(frozen=True)
class FixLine:
    """One fix as the report lists it under its plan step."""

    id: str
    step: int | None
    rung: str
    recipe: str
    state: str
    created: str
    held_out: int = 0
    fixed: int = 0
    still_failing: int = 0
    broken: int = 0
    still_passing: int = 0
    fixed_rate: float | None = None
    gate: str = "not gated"
    promoted_version: int | None = None
    criterion: str = ""
    error: str | None = None
    measured: bool = False
    by_subcategory: list[dict[str, Any]] = field(default_factory=list)


def fix_lines(session: Session, *, project: Project, limit: int = 50) -> list[FixLine]:
    """The project's fixes, oldest first (the order they were run in)."""
    rows = session.scalars(
        select(Fix)
        .where(Fix.project_id == project.id)
        .order_by(Fix.created_at.desc(), Fix.id)
        .limit(limit)
    )
    lines = []
    for fix in reversed(list(rows)):
        outcome = fix.outcome or {}
        totals = outcome.get("totals") or {}
        gate = (outcome.get("gate") or {}).get("status") or (
            "gate error" if (outcome.get("gate") or {}).get("gate_error") else "not gated"
        )
        lines.append(
            FixLine(
                id=fix.id,
                step=fix.step,
                rung=fix.rung,
                recipe=fix.recipe,
                state=fix.state,
                created=f"{fix.created_at:%Y-%m-%d %H:%M}",
                held_out=int(totals.get("cases", len((fix.cases or {}).get("holdout", [])))),
                fixed=int(totals.get("fixed", 0)),
                still_failing=int(totals.get("still_failing", 0)),
                broken=int(totals.get("broken", 0)),
                still_passing=int(totals.get("still_passing", 0)),
                fixed_rate=totals.get("fixed_rate"),
                gate=gate,
                promoted_version=fix.promoted_version,
                criterion=outcome.get("criterion", ""),
                error=fix.error,
                measured=bool(totals),
                by_subcategory=[
                    {"subcategory": sub, **counts}
                    for sub, counts in (outcome.get("by_subcategory") or {}).items()
                ],
            )
        )
    return lines


@dataclass(frozen=True)
class TrendPoint:
    model_version: str
    week: str  # the Monday of the ISO week, YYYY-MM-DD
    failures: int


def _day(case: Case) -> date:
    raw = (case.meta or {}).get("date")
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw[:10]).date()
        except ValueError:
            pass
    return case.created_at.date()


def failures_by_model_version(session: Session, *, project: Project) -> list[TrendPoint]:
    """Failures reported per week (``metadata.date``, else when stored) for each
    ``metadata.model_version``; cases without one are left out. Empty: no case has one."""
    counts: dict[tuple[str, str], int] = {}
    for case in session.scalars(select(Case).where(Case.project_id == project.id)):
        version = (case.meta or {}).get("model_version")
        if not isinstance(version, str | int | float) or not str(version).strip():
            continue
        day = _day(case)
        week = (day - timedelta(days=day.weekday())).isoformat()
        key = (str(version).strip()[:40], week)
        counts[key] = counts.get(key, 0) + 1
    return [
        TrendPoint(model_version=v, week=w, failures=n)
        for (v, w), n in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]
