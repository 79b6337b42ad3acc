"""Run one job: claim it, run its recipe with heartbeats and checkpoints, record the outcome.

Shared by every kind of worker (the in-process worker of `rung serve`, `rung worker` with or
without a broker). Steps:

1. claim the job with a conditional UPDATE (`app.workers.leases.claim`); if it is not ours to
   run (already running elsewhere, cancelled, finished, not due), stop here: ``"skipped"``;
2. a heartbeat thread renews the lease every ``heartbeat_s`` and notices a cancel, a lost lease
   or the time limit; each of them makes ``should_stop()`` true, and the recipe stops at its next
   step, leaving a checkpoint;
3. load the dataset rows from the artifact store; when an earlier attempt left a checkpoint in
   the store, fetch it and pass it as ``resume_from``;
4. run the recipe; every progress event is stored (SSE reads it), and every new checkpoint the
   trainer writes is stored in the artifact store and recorded on the job, so a worker on
   another machine can resume from it;
5. success: store the artifacts (and ``metrics.json``) and mark the job ``succeeded``. Failure:
   retry (``queued`` after a back-off) or ``failed`` per `app.workers.policy`. Cancelled:
   ``cancelled``. Lease lost: write nothing; the job belongs to someone else now.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.artifacts.store import ArtifactStore, StoredArtifact, store_for
from app.config import Settings
from app.datasets.service import load_rows
from app.db import session_scope
from app.jobs import events, model_refs
from app.jobs.dispatch import BrokerUnavailableError, Dispatcher
from app.jobs.models import Job
from app.workers import leases
from app.workers.job_logs import JobLogHandler
from app.workers.policy import WorkerPolicy, is_retryable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobInputs:
    id: str
    project_id: str
    recipe: str
    dataset_sha256: str
    holdout_sha256: str | None
    overrides: dict[str, Any]
    queue: str
    checkpoint_digest: str | None
    checkpoint_step: int | None
    processes: int = 1


def execute_job(
    *,
    job_id: str,
    settings: Settings,
    policy: WorkerPolicy,
    owner: str,
    dispatcher: Dispatcher,
    shutdown: threading.Event | None = None,
) -> str:
    """Claim and run ``job_id``; returns what happened (succeeded, failed, cancelled, retrying,
    requeued, lost or skipped)."""
    url = settings.resolved_database_url
    claimed = leases.claim(url, job_id=job_id, owner=owner, policy=policy)
    if claimed is None:
        wait = leases.not_due_for(url, job_id=job_id)
        if wait:  # delivered before its retry time (clock skew, early ETA): send it again
            try:
                dispatcher.send(job_id, queue=_queue_of(url, job_id), countdown=wait)
            except BrokerUnavailableError:
                leases.clear_dispatched(url, job_id=job_id)  # the reaper sends it later
            return "deferred"
        logger.info("job %s not claimed by %s (not queued, or running elsewhere)", job_id, owner)
        return "skipped"
    run = _JobRun(settings=settings, policy=policy, owner=owner, dispatcher=dispatcher,
                  claimed=claimed, shutdown=shutdown or threading.Event())
    return run.execute()


class _JobRun:
    def __init__(
        self,
        *,
        settings: Settings,
        policy: WorkerPolicy,
        owner: str,
        dispatcher: Dispatcher,
        claimed: leases.Claimed,
        shutdown: threading.Event,
    ) -> None:
        self.settings = settings
        self.url = settings.resolved_database_url
        self.policy = policy
        self.owner = owner
        self.dispatcher = dispatcher
        self.claimed = claimed
        self.job_id = claimed.job_id
        self.attempt = claimed.attempt
        self.shutdown = shutdown
        self.stop = threading.Event()
        self.done = threading.Event()
        self.reason: str | None = None  # cancel | lost | time_limit | shutdown
        self.started = time.monotonic()
        self.output_dir: Path | None = None
        self.last_checkpoint_step = -1
        self.store: ArtifactStore = store_for(settings.resolved_artifacts_url)

    # -- stop signals ------------------------------------------------------------------------
    def _halt(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.stop.set()

    def should_stop(self) -> bool:
        if self.shutdown.is_set():
            self._halt("shutdown")
        return self.stop.is_set()

    def _heartbeat(self) -> None:
        while not self.done.wait(self.policy.heartbeat_s):
            try:
                beat = leases.heartbeat(self.url, job_id=self.job_id, owner=self.owner,
                                        policy=self.policy)
            except Exception:
                logger.exception("heartbeat of job %s failed; retrying", self.job_id)
                continue
            if beat.lost:
                self._halt("lost")
                return
            if beat.cancel_requested:
                self._halt("cancel")
            if time.monotonic() - self.started > self.policy.time_limit_s:
                self._halt("time_limit")
            if self.shutdown.is_set():
                self._halt("shutdown")

    def _log(self, message: str, level: str = "INFO") -> None:
        events.record(self.url, job_id=self.job_id, type="log", level=level, logger="rung.worker",
                      message=message)

    # -- the run -----------------------------------------------------------------------------
    def execute(self) -> str:
        beat = threading.Thread(target=self._heartbeat, name=f"heartbeat-{self.job_id}",
                                daemon=True)
        beat.start()
        handler = JobLogHandler(url=self.url, job_id=self.job_id,
                                   thread_id=threading.get_ident())
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        job_dir = self.settings.home_dir / "jobs" / self.job_id
        outcome = "failed"
        try:
            outcome = self._run(job_dir)
        except BaseException as exc:  # classify everything; KeyboardInterrupt/SystemExit re-raise
            outcome = self._failed(exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self.done.set()
            logging.getLogger().removeHandler(handler)
            beat.join(timeout=5)
            if outcome in ("succeeded", "failed", "cancelled"):
                shutil.rmtree(job_dir, ignore_errors=True)
        return outcome

    def _load(self) -> JobInputs:
        with session_scope(self.url) as session:
            job = session.get(Job, self.job_id)
            assert job is not None
            return JobInputs(
                id=job.id, project_id=job.project_id, recipe=job.recipe,
                dataset_sha256=job.dataset_sha256, holdout_sha256=job.holdout_sha256,
                overrides=job.recipe_overrides, queue=job.queue,
                checkpoint_digest=job.checkpoint_digest, checkpoint_step=job.checkpoint_step,
                processes=int(job.resources.get("processes", 1)),
            )

    def _run(self, job_dir: Path) -> str:
        from recipes import REGISTRY, RecipeCancelledError
        from recipes.base_models import use_models_dir
        from recipes.errors import RecipeConfigError

        use_models_dir(self.settings.resolved_models_dir)  # RUNG_MODELS_DIR, for the recipe
        spec = self._load()
        self._log(f"attempt {self.attempt} of {self.claimed.max_attempts} on worker {self.owner}")
        recipe = REGISTRY.get(spec.recipe)
        if recipe is None:
            raise RecipeConfigError(f"recipe {spec.recipe!r} is not installed on this worker")
        with session_scope(self.url) as session:  # references -> local folders or hub names
            overrides = model_refs.resolve_refs(
                session, project_id=spec.project_id, overrides=spec.overrides,
                models_allow=self.settings.models_allow_dirs,
                materialize=self.store.materialize, work_dir=job_dir,
            )
        config = recipe.config_class.from_overrides(overrides)
        train_rows, eval_rows = load_rows(self.store, sha256=spec.dataset_sha256)
        if spec.holdout_sha256:
            extra_train, extra_held = load_rows(self.store, sha256=spec.holdout_sha256)
            eval_rows = extra_train + extra_held
        inputs = recipe.assemble_inputs(train_rows=train_rows, eval_rows=eval_rows,
                                        holdout_given=bool(spec.holdout_sha256))
        resume_from = self._resume_point(spec, job_dir)
        self.output_dir = job_dir / f"attempt-{self.attempt}"
        shutil.rmtree(self.output_dir, ignore_errors=True)
        self.output_dir.mkdir(parents=True)
        try:
            if spec.processes > 1:
                result = self._run_processes(spec, overrides, inputs, resume_from, job_dir)
            else:
                result = recipe.run(
                    config,
                    train_rows=inputs.train_rows,
                    eval_rows=inputs.eval_rows,
                    output_dir=self.output_dir,
                    progress=self.on_progress,
                    resume_from=resume_from,
                    should_stop=self.should_stop,
                    **inputs.extras,
                )
        except RecipeCancelledError as exc:
            return self._stopped(str(exc))
        if self.reason is not None:
            return self._stopped(f"{spec.recipe} stopped")
        self.on_progress_checkpoint()
        stored = self._store_artifacts(result)
        metrics = {k: v for k, v in result.metrics.items() if isinstance(v, int | float)}
        ok = leases.finish(self.url, job_id=self.job_id, owner=self.owner, state="succeeded",
                           metrics=metrics, summary=result.summary,
                           artifacts=[(s, kind, name) for s, kind, name in stored],
                           project_id=spec.project_id)
        return "succeeded" if ok else "lost"

    def _run_processes(
        self, spec: JobInputs, overrides: dict[str, Any], inputs: Any,
        resume_from: Path | None, job_dir: Path,
    ) -> Any:
        """The recipe in ``spec.processes`` processes (`app.workers.launch`)."""
        from app.workers.launch import run_processes

        assert self.output_dir is not None
        return run_processes(
            recipe=spec.recipe, overrides=overrides, inputs=inputs, output_dir=self.output_dir,
            resume_from=resume_from, processes=spec.processes,
            work_dir=job_dir / "launch" / f"attempt-{self.attempt}",
            models_dir=self.settings.resolved_models_dir, progress=self.on_progress,
            should_stop=self.should_stop, log=self._log,
        )

    def _resume_point(self, spec: JobInputs, job_dir: Path) -> Path | None:
        if not spec.checkpoint_digest:
            return None
        step = spec.checkpoint_step or 0
        target = job_dir / "resume" / f"checkpoint-{step}"
        if not (target / "trainer_state.json").is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".fetch-"))
            self.store.materialize(spec.checkpoint_digest, staging)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        self.last_checkpoint_step = step
        self._log(f"resuming from the checkpoint of step {step} ({spec.checkpoint_digest[:12]})")
        events.record(self.url, job_id=self.job_id, type="state", state="running",
                      attempt=self.attempt, resume_from_step=step,
                      checkpoint=spec.checkpoint_digest)
        return target

    # -- progress and checkpoints ----------------------------------------------------------
    def on_progress(self, event: Any) -> None:
        data = {
            "phase": event.phase,
            "step": event.step,
            "total_steps": event.total_steps,
            "loss": event.loss,
            "metrics": dict(event.metrics or {}),
            "eta_s": event.eta_s,
            "message": event.message,
            "attempt": self.attempt,
        }
        try:
            leases.set_progress(self.url, job_id=self.job_id, owner=self.owner,
                                data=events.jsonable(data))
        except Exception:
            logger.exception("could not store a progress event of job %s", self.job_id)
        self.on_progress_checkpoint()

    def on_progress_checkpoint(self) -> None:
        """Store the newest trainer checkpoint, if there is a new one (runs between steps)."""
        if self.output_dir is None:
            return
        from recipes.checkpoints import latest_checkpoint

        try:
            checkpoint = latest_checkpoint(self.output_dir)
            if checkpoint is None:
                return
            state = json.loads((checkpoint / "trainer_state.json").read_text())
            step = int(state.get("global_step", 0))
            if step <= self.last_checkpoint_step:
                return
            stored = self.store.put_dir(checkpoint, kind="checkpoint")
            if leases.set_checkpoint(self.url, job_id=self.job_id, owner=self.owner,
                                     digest=stored.digest, step=step):
                self.last_checkpoint_step = step
        except Exception:
            logger.exception("could not store the checkpoint of job %s", self.job_id)

    def _store_artifacts(self, result: Any) -> list[tuple[StoredArtifact, str, str]]:
        stored: list[tuple[StoredArtifact, str, str]] = []
        for kind, path in result.artifacts:
            path = Path(path)
            if not path.exists():
                continue
            stored.append((self.store.put(path, kind=kind), kind, path.name))
        assert self.output_dir is not None
        metrics_file = self.output_dir / "metrics.json"
        metrics_file.write_text(json.dumps(events.jsonable(result.to_dict()), indent=1))
        stored.append((self.store.put_file(metrics_file, kind="metrics"),
                       "metrics", "metrics.json"))
        return stored

    # -- endings ---------------------------------------------------------------------------
    def _stopped(self, message: str) -> str:
        if self.reason == "lost":
            logger.warning("job %s: lease lost; leaving it to its new owner", self.job_id)
            return "lost"
        if self.reason == "shutdown":
            leases.requeue(self.url, job_id=self.job_id, owner=self.owner, delay_s=0,
                           reason="the worker shut down; the job resumes from its checkpoint",
                           error_type="WorkerShutdown", refund_attempt=True)
            self._send_again(delay_s=0)
            return "requeued"
        if self.reason == "time_limit":
            ok = leases.finish(
                self.url, job_id=self.job_id, owner=self.owner, state="failed",
                error=f"time limit of {self.policy.time_limit_s:.0f}s reached "
                "(RUNG_JOB_TIME_LIMIT_S)",
                error_type="TimeLimitExceeded",
            )
            return "failed" if ok else "lost"
        ok = leases.finish(self.url, job_id=self.job_id, owner=self.owner, state="cancelled",
                           error=message if self.reason != "cancel" else "cancelled on request",
                           error_type="Cancelled")
        return "cancelled" if ok else "lost"

    def _failed(self, exc: BaseException) -> str:
        if self.reason == "lost":
            return "lost"
        if self.reason == "shutdown":
            return self._stopped(str(exc))
        detail = f"{type(exc).__name__}: {exc}"
        logger.warning("job %s attempt %s failed: %s", self.job_id, self.attempt, detail,
                       exc_info=not _is_recipe_error(exc))
        if is_retryable(exc) and self.attempt < self.claimed.max_attempts:
            delay = self.policy.retry_delay(self.attempt)
            if leases.requeue(self.url, job_id=self.job_id, owner=self.owner, delay_s=delay,
                              reason=f"attempt {self.attempt} failed ({detail}); retrying",
                              error_type=type(exc).__name__):
                self._send_again(delay_s=delay)
                return "retrying"
            return "lost"
        if is_retryable(exc):
            detail += f" (attempt {self.attempt} of {self.claimed.max_attempts}; no retries left)"
        ok = leases.finish(self.url, job_id=self.job_id, owner=self.owner, state="failed",
                           error=detail, error_type=type(exc).__name__)
        return "failed" if ok else "lost"

    def _send_again(self, *, delay_s: float) -> None:
        try:
            self.dispatcher.send(self.job_id, queue=_queue_of(self.url, self.job_id),
                                 countdown=delay_s)
        except BrokerUnavailableError:
            logger.warning("broker down; the reaper re-sends job %s when it is back", self.job_id)
            return
        leases.mark_dispatched(self.url, job_id=self.job_id)


def _queue_of(url: str, job_id: str) -> str:
    with session_scope(url) as session:
        job = session.get(Job, job_id)
        return job.queue if job is not None else "default"


def _is_recipe_error(exc: BaseException) -> bool:
    from recipes.errors import RecipeError

    return isinstance(exc, RecipeError)
