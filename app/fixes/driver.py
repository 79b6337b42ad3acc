"""The fix driver: advances fixes on the worker, one state at a time, under a lease.

States: ``training`` (the recipe job runs; the driver waits for it) -> ``evaluating`` (the
champion and the candidate answer the held-out cases; both runs are stored) -> ``gating`` (the
project's gate on the two runs) -> ``succeeded``; ``failed`` when a step fails (the job failed,
an error), ``cancelled`` on request.

A driver claims a fix with one conditional UPDATE (no owner, or the owner's lease expired), so
one driver works on a fix at a time; a heartbeat renews the lease while it works. Every state
change is a conditional UPDATE on the state it started from and its own lease, so a fix
cancelled meanwhile, or taken over after a lapsed lease, is never overwritten. A driver that dies
(even SIGKILL) leaves the fix in the state it stood in; once the lease lapses another driver (or
the restarted one) takes it up there: a finished job is not run again; the eval runs, the
outcome and the move to ``gating`` commit in one transaction, so answering is redone whole.

The driver runs beside the in-process job worker (`rung serve`, started by the fixes router's
lifespan); it uses the job worker's lease and poll settings (`RUNG_JOB_*`).
"""

from __future__ import annotations

import logging
import shutil
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.artifacts.store import store_for
from app.cases.models import Case
from app.config import Settings, WorkerPolicy
from app.core.errors import NotFoundError, RungError
from app.db import session_scope, utcnow
from app.evaluation import service as evaluation
from app.fixes import evaluation as answering
from app.fixes.events import add_event, record
from app.fixes.models import TERMINAL_FIX_STATES, Fix
from app.fixes.outcomes import sentence, summarize
from app.jobs.models import Job
from app.projects.models import Project
from app.registry import service as registry
from app.teams.models import Team
from app.workers.identity import worker_owner
from evals.results import ExampleResult, RunResult

logger = logging.getLogger(__name__)
ACTIVE = ("training", "evaluating", "gating")


class LeaseLostError(RuntimeError):
    """The fix changed under the driver (cancelled, or taken over): stop, write nothing."""


def claim(url: str, *, fix_id: str, owner: str, policy: WorkerPolicy) -> bool:
    now = utcnow()
    with session_scope(url, write=True) as session:
        claimed = session.execute(
            update(Fix)
            .where(
                Fix.id == fix_id,
                Fix.state.in_(ACTIVE),
                or_(
                    Fix.lease_owner.is_(None), Fix.lease_owner == owner, Fix.lease_expires_at < now
                ),
            )
            .values(
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=policy.lease_s),
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
    return bool(claimed)


def release(url: str, *, fix_id: str, owner: str) -> None:
    with session_scope(url, write=True) as session:
        session.execute(
            update(Fix)
            .where(Fix.id == fix_id, Fix.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )


def due_fixes(url: str, *, limit: int = 20) -> list[str]:
    now = utcnow()
    with session_scope(url) as session:
        stmt = (
            select(Fix.id)
            .where(
                Fix.state.in_(ACTIVE), or_(Fix.lease_owner.is_(None), Fix.lease_expires_at < now)
            )
            .order_by(Fix.created_at)
            .limit(limit)
        )
        return list(session.scalars(stmt))


class FixRun:
    """One turn of the driver on one claimed fix: advance it as far as it goes now."""

    def __init__(
        self,
        *,
        settings: Settings,
        policy: WorkerPolicy,
        owner: str,
        fix_id: str,
        shutdown: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.url = settings.resolved_database_url
        self.policy = policy
        self.owner = owner
        self.fix_id = fix_id
        self.done = threading.Event()
        self.shutdown = shutdown or threading.Event()
        self.store = store_for(settings.resolved_artifacts_url)

    # -- lease -----------------------------------------------------------------------------
    def _heartbeat(self) -> None:
        while not self.done.wait(self.policy.heartbeat_s):
            try:
                with session_scope(self.url, write=True) as session:
                    now = utcnow()
                    session.execute(
                        update(Fix)
                        .where(Fix.id == self.fix_id, Fix.lease_owner == self.owner)
                        .values(lease_expires_at=now + timedelta(seconds=self.policy.lease_s))
                        .execution_options(synchronize_session=False)
                    )
            except Exception:
                logger.exception("heartbeat of fix %s failed; retrying", self.fix_id)

    def _move(
        self, *, from_state: str, to_state: str, event: dict[str, Any] | None = None, **values: Any
    ) -> None:
        """Change the state if it is still ``from_state`` and ours; else LeaseLostError."""
        now = utcnow()
        if to_state in TERMINAL_FIX_STATES:
            values.update(finished_at=now, lease_owner=None, lease_expires_at=None)
        with session_scope(self.url, write=True) as session:
            changed = session.execute(
                update(Fix)
                .where(
                    Fix.id == self.fix_id, Fix.state == from_state, Fix.lease_owner == self.owner
                )
                .values(state=to_state, updated_at=now, **values)
                .execution_options(synchronize_session=False)
            ).rowcount
            if not changed:
                raise LeaseLostError(self.fix_id)
            add_event(session, fix_id=self.fix_id, type="state", state=to_state, **(event or {}))

    def _progress(self, message: str, **data: Any) -> None:
        record(self.url, fix_id=self.fix_id, type="progress", message=message, **data)

    # -- the run ---------------------------------------------------------------------------
    def execute(self) -> str:
        beat = threading.Thread(
            target=self._heartbeat, name=f"fix-heartbeat-{self.fix_id}", daemon=True
        )
        beat.start()
        try:
            for _ in range(len(ACTIVE) + 1):
                state = self._state()
                if state == "training":
                    if not self._training():
                        return "waiting"
                elif state == "evaluating":
                    self._evaluating()
                elif state == "gating":
                    self._gating()
                else:
                    return state or "gone"
                if self.shutdown.is_set():
                    return "stopped"
            return self._state() or "gone"
        except LeaseLostError:
            return "lost"
        except Exception as exc:
            logger.exception("fix %s failed", self.fix_id)
            state = self._state()
            if state in ACTIVE:
                try:
                    self._move(
                        from_state=state,
                        to_state="failed",
                        event={"reason": f"{type(exc).__name__}: {exc}"},
                        error=f"{state}: {type(exc).__name__}: {exc}",
                    )
                except LeaseLostError:
                    return "lost"
            return "failed"
        finally:
            self.done.set()
            beat.join(timeout=5)
            release(self.url, fix_id=self.fix_id, owner=self.owner)

    def _state(self) -> str | None:
        with session_scope(self.url) as session:
            fix = session.get(Fix, self.fix_id)
            return fix.state if fix is not None else None

    def _training(self) -> bool:
        """True once the job succeeded and the fix moved on; False while it runs."""
        with session_scope(self.url) as session:
            fix = session.get(Fix, self.fix_id)
            assert fix is not None
            job = session.get(Job, fix.job_id) if fix.job_id else None
            job_state = job.state if job is not None else "deleted"
            job_error = job.error if job is not None else "the job was deleted"
            summary = job.summary if job is not None else None
        if job_state == "succeeded":
            self._move(
                from_state="training",
                to_state="evaluating",
                event={"job_state": job_state, "summary": summary},
            )
            return True
        if job_state in ("failed", "cancelled", "deleted"):
            to_state = "cancelled" if job_state == "cancelled" else "failed"
            self._move(
                from_state="training",
                to_state=to_state,
                event={"job_state": job_state, "reason": job_error},
                error=f"the recipe job {job_state}: {job_error}",
            )
            return True
        return False

    def _evaluating(self) -> None:
        with session_scope(self.url) as session:
            fix = session.get(Fix, self.fix_id)
            assert fix is not None
            project = session.get(Project, fix.project_id)
            job = session.get(Job, fix.job_id)
            assert project is not None and job is not None
            subcategory = fix.cases.get("subcategory", {})
            ids = list(fix.cases.get("holdout", []))
            rows = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(ids)))}
            holdout = [(rows[i], subcategory.get(i, "")) for i in ids if i in rows]
            work_dir = self.settings.home_dir / "fixes" / fix.id
            work_dir.mkdir(parents=True, exist_ok=True)
            self._progress(
                f"answering {len(holdout)} held-out case(s) with the champion and the candidate",
                phase="answer",
                total=len(holdout),
            )
            if fix.recipe in ("prompting", "rag"):
                answers = answering.recipe_answers(
                    session,
                    project=project,
                    store=self.store,
                    job=job,
                    holdout=holdout,
                    work_dir=work_dir,
                )
            else:
                answers = answering.generated_answers(
                    session,
                    project=project,
                    store=self.store,
                    settings=self.settings,
                    job=job,
                    holdout=holdout,
                    work_dir=work_dir,
                    progress=lambda done, total: self._progress(
                        f"answered {done} of {total}", phase="answer", step=done, total=total
                    ),
                )
            if not answers:
                raise RuntimeError("no held-out case was answered")
            scored = answering.score_answers(answers, recipe=fix.recipe, settings=self.settings)
            holdout_sha = (fix.datasets.get("holdout") or fix.datasets.get("train") or {}).get(
                "sha256", ""
            )
            runs: dict[str, str] = {}
            for side in ("champion", "candidate"):
                result = RunResult(
                    run={
                        "name": f"{fix.id}-{side}",
                        "model": side,
                        "fix": fix.id,
                        "dataset": f"fix {fix.id} holdout",
                        "dataset_sha256": holdout_sha,
                    },
                    examples=[
                        ExampleResult(id=a.case.id, scores=s, output=getattr(a, side))
                        for a, s in zip(answers, getattr(scored, side), strict=True)
                    ],
                )
                run = evaluation.store_run(
                    session,
                    project=project,
                    result=result,
                    name=f"{fix.id}-{side}",
                    candidate=f"{fix.recipe} {side}",
                    dataset=f"fix {fix.id} holdout",
                )
                runs[side] = run.id
            summary = summarize(scored.outcomes)
            summary["criterion"] = scored.criterion
            if scored.judge:
                summary["judge"] = scored.judge
            now = utcnow()
            changed = session.execute(
                update(Fix)
                .where(
                    Fix.id == self.fix_id, Fix.state == "evaluating", Fix.lease_owner == self.owner
                )
                .values(state="gating", eval_runs=runs, outcome=summary, updated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if not changed:
                session.rollback()
                raise LeaseLostError(self.fix_id)
            add_event(
                session,
                fix_id=self.fix_id,
                type="outcome",
                **summary["totals"],
                sentence=sentence(summary["totals"]),
                criterion=scored.criterion,
            )
            add_event(session, fix_id=self.fix_id, type="state", state="gating", eval_runs=runs)
        shutil.rmtree(work_dir, ignore_errors=True)

    def _gating(self) -> None:
        with session_scope(self.url) as session:
            fix = session.get(Fix, self.fix_id)
            assert fix is not None
            project = session.get(Project, fix.project_id)
            assert project is not None
            team = session.get(Team, project.team_id)
            runs = fix.eval_runs
            gate_id = status = None
            note: dict[str, Any] = {}
            try:
                decision = evaluation.gate(
                    session,
                    project=project,
                    team=team,
                    baseline_id=runs["champion"],
                    candidate_id=runs["candidate"],
                    policy=None,
                    actor=f"fix {fix.id}",
                )
            except Exception as exc:  # e.g. every metric skipped: the verdict says why
                note = {"gate_error": str(getattr(exc, "message", exc))}
                session.rollback()
            else:
                gate_id, status = decision.id, decision.status
                note = {
                    "paired_tests": [
                        {
                            k: d.get(k)
                            for k in (
                                "metric",
                                "status",
                                "test",
                                "n",
                                "baseline_mean",
                                "candidate_mean",
                                "mean_diff",
                                "ci_low",
                                "ci_high",
                                "p_holm",
                                "reason",
                            )
                        }
                        for d in decision.report.get("decisions", [])
                    ]
                }
            fix = session.get(Fix, self.fix_id)
            assert fix is not None
            outcome = {**(fix.outcome or {}), "gate": {"id": gate_id, "status": status, **note}}
            promoted: int | None = None
            if fix.promote_model and status == "pass" and gate_id:
                promoted, outcome["promotion"] = promote_candidate(
                    session, project=project, fix=fix, gate_id=gate_id
                )
            elif fix.promote_model:
                outcome["promotion"] = {
                    "model": fix.promote_model,
                    "promoted": None,
                    "reason": f"not promoted: the gate is {status or 'not decided'}",
                }
            now = utcnow()
            changed = session.execute(
                update(Fix)
                .where(Fix.id == self.fix_id, Fix.state == "gating", Fix.lease_owner == self.owner)
                .values(
                    state="succeeded",
                    gate_id=gate_id,
                    gate_status=status,
                    outcome=outcome,
                    promoted_version=promoted,
                    updated_at=now,
                    finished_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            if not changed:
                session.rollback()
                raise LeaseLostError(self.fix_id)
            add_event(
                session,
                fix_id=self.fix_id,
                type="state",
                state="succeeded",
                gate=status or "not gated",
                gate_id=gate_id,
                promotion=outcome.get("promotion"),
                **note,
            )


def promote_candidate(
    session: Session, *, project: Project, fix: Fix, gate_id: str
) -> tuple[int | None, dict[str, Any]]:
    """Register the candidate as the model's next version and promote it to champion through
    the registry (version 0, the base model with the champion's run, first when the model has
    none). A refusal (the champion's run is not this gate's baseline, say) is recorded, and
    nothing of the attempt is kept."""
    runs = fix.eval_runs
    name = fix.promote_model or ""
    try:
        with session.begin_nested():
            try:
                model = registry.get_model(session, project=project, name=name)
            except NotFoundError:
                model = registry.create_model(session, project=project, name=name)
            numbers = {v.version for v in registry.versions(session, model=model)}
            if 0 not in numbers:
                registry.add_version(
                    session,
                    project=project,
                    model=model,
                    source="base",
                    base_model=None,
                    eval_run_id=runs["champion"],
                    actor=f"fix {fix.id}",
                    base=True,
                    description=f"the champion of fix {fix.id} (what the candidate started from)",
                )
            version = registry.add_version(
                session,
                project=project,
                model=model,
                source=f"job:{fix.job_id}",
                base_model=None,
                eval_run_id=runs["candidate"],
                actor=f"fix {fix.id}",
                description=f"{fix.recipe} candidate of fix {fix.id} (plan step {fix.step})",
            )
            registry.promote(
                session,
                project=project,
                model=model,
                number=version.version,
                alias="champion",
                gate_id=gate_id,
                actor=f"fix {fix.id}",
                reason=f"fix {fix.id} passed gate {gate_id} on its held-out cases",
            )
    except RungError as exc:
        return None, {"model": name, "promoted": None, "reason": exc.message}
    return version.version, {"model": name, "promoted": version.version}


def advance_once(
    *, settings: Settings, policy: WorkerPolicy, owner: str, shutdown: threading.Event | None = None
) -> int:
    """Advance every due fix once; returns how many moved to another state."""
    moved = 0
    url = settings.resolved_database_url
    for fix_id in due_fixes(url):
        if shutdown is not None and shutdown.is_set():
            break
        if not claim(url, fix_id=fix_id, owner=owner, policy=policy):
            continue
        outcome = FixRun(
            settings=settings, policy=policy, owner=owner, fix_id=fix_id, shutdown=shutdown
        ).execute()
        moved += outcome not in ("waiting", "lost")
    return moved


class FixDriver(threading.Thread):
    """Polls for fixes to advance (beside the in-process job worker)."""

    def __init__(self, *, settings: Settings, policy: WorkerPolicy | None = None) -> None:
        super().__init__(name="rung-fix-driver", daemon=True)
        self.settings = settings
        self.policy = policy or settings.job
        self.owner = "fix:" + worker_owner()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                moved = advance_once(
                    settings=self.settings,
                    policy=self.policy,
                    owner=self.owner,
                    shutdown=self.stopping,
                )
            except Exception:
                logger.exception("fix driver loop failed; retrying")
                moved = 0
            if not moved:
                self.stopping.wait(self.policy.poll_interval_s)

    def stop(self, timeout: float = 30) -> None:
        self.stopping.set()
        self.join(timeout=timeout)


def start_fix_driver(settings: Settings) -> FixDriver | None:
    """The driver for `rung serve`: where the in-process job worker runs (no broker, not
    switched off)."""
    if settings.broker_url or not settings.embedded_worker:
        return None
    driver = FixDriver(settings=settings)
    driver.start()
    return driver
