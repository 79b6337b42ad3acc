"""Creating, reading and cancelling fixes. The driver (`app.fixes.driver`) advances them.

`create_fix` does the quick part in the request: pick the step's cases, store the datasets built
from them, queue the recipe job through the job service, and store the fix (state
``training``). Everything slow (training, answering the holdout, the gate) happens on the worker.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.artifacts.store import store_for
from app.config import Settings, WorkerPolicy
from app.core.errors import ConflictError, NotFoundError
from app.core.sse import StreamRequest, table_stream
from app.db import utcnow
from app.fixes.builders import build_data
from app.fixes.events import add_event
from app.fixes.models import TERMINAL_FIX_STATES, Fix, FixEvent
from app.fixes.schemas import FixCreate
from app.fixes.selection import check_enough, select_step
from app.jobs import service as jobs
from app.jobs.dispatch import Dispatcher
from app.jobs.models import TERMINAL_STATES as JOB_TERMINAL_STATES
from app.jobs.schemas import JobCreate
from app.projects.models import Project


def create_fix(
    session: Session,
    *,
    project: Project,
    settings: Settings,
    data: FixCreate,
    dispatcher: Dispatcher,
    policy: WorkerPolicy,
    models_allow: Sequence[Path] = (),
) -> Fix:
    """Build the step's data, queue its recipe job, store the fix (see the module doc)."""
    selection = select_step(
        session,
        project=project,
        settings=settings,
        step=data.step,
        rung=data.rung,
        holdout_fraction=data.holdout_fraction,
    )
    check_enough(selection, project=project)
    store = store_for(settings.resolved_artifacts_url)
    built = build_data(
        session, project=project, selection=selection, store=store, settings=settings
    )
    config = {**built.config, **data.config}
    if selection.recipe in ("prompting", "rag"):
        config.setdefault("eval_limit", max(1, len(selection.holdout)))
    job = jobs.submit_job(
        session,
        project=project,
        data=JobCreate(
            recipe=selection.recipe, dataset=built.dataset, holdout=built.holdout, config=config
        ),
        dispatcher=dispatcher,
        policy=policy,
        models_allow=models_allow,
    )
    subcategories = sorted({m.subcategory for m in selection.members})
    fix = Fix(
        project_id=project.id,
        step=selection.step.order if selection.step else None,
        rung=selection.rung,
        recipe=selection.recipe,
        title=selection.title[:300],
        state="training",
        subcategories=subcategories,
        triage_version=selection.triage_version,
        cases={
            "total": len(selection.members),
            "usable": len(selection.usable),
            "train": [m.case.id for m in selection.train],
            "holdout": [m.case.id for m in selection.holdout],
            "subcategory": {m.case.id: m.subcategory for m in selection.usable},
        },
        datasets=built.versions,
        config=config,
        job_id=job.id,
        promote_model=data.promote,
    )
    session.add(fix)
    session.flush()
    add_event(
        session,
        fix_id=fix.id,
        type="state",
        state="built",
        message=f"{len(selection.train)} training and {len(selection.holdout)} held-out "
        f"case(s) of {len(selection.members)} in {selection.label}",
        datasets={k: v["sha256"] for k, v in built.versions.items()},
    )
    add_event(
        session,
        fix_id=fix.id,
        type="state",
        state="training",
        job_id=job.id,
        recipe=selection.recipe,
    )
    session.flush()
    return fix


def get_fix(session: Session, *, project: Project, fix_id: str) -> Fix:
    fix = session.scalar(select(Fix).where(Fix.id == fix_id, Fix.project_id == project.id))
    if fix is None:
        raise NotFoundError(f"fix {fix_id!r} not found in project {project.name!r}")
    return fix


def follow_events(
    session: Session, *, project: Project, fix_id: str, stream: StreamRequest
) -> AsyncIterator[dict[str, Any]]:
    """The fix's server-sent events as ``stream`` asks; 404 for another project's fix. The
    request's session is released before the stream starts."""
    fix = get_fix(session, project=project, fix_id=fix_id)
    session.commit()
    return table_stream(
        stream, events=FixEvent, owner_key=FixEvent.fix_id, owner=Fix, owner_id=fix.id,
        terminal=TERMINAL_FIX_STATES,
    )


def list_fixes(session: Session, *, project: Project, limit: int = 100) -> list[Fix]:
    stmt = (
        select(Fix)
        .where(Fix.project_id == project.id)
        .order_by(Fix.created_at.desc(), Fix.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def cancel_fix(session: Session, *, project: Project, fix_id: str) -> Fix:
    """Cancel a fix that has not ended (409 if it has); its job is cancelled too."""
    fix = get_fix(session, project=project, fix_id=fix_id)
    now = utcnow()
    changed = session.execute(
        update(Fix)
        .where(Fix.id == fix.id, Fix.state.not_in(TERMINAL_FIX_STATES))
        .values(
            state="cancelled",
            cancel_requested=True,
            finished_at=now,
            updated_at=now,
            error="cancelled on request",
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        session.refresh(fix)
        raise ConflictError(f"fix {fix.id} has already ended ({fix.state})")
    add_event(
        session, fix_id=fix.id, type="state", state="cancelled", reason="cancelled on request"
    )
    if fix.job_id:
        job = jobs.get_job(session, project=project, job_id=fix.job_id)
        if job.state not in JOB_TERMINAL_STATES:
            with contextlib.suppress(ConflictError):  # it ended meanwhile
                jobs.cancel_job(session, project=project, job_id=fix.job_id)
    session.flush()
    session.refresh(fix)
    return fix
