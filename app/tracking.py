"""MLflow tracking of the service: jobs, eval runs and gate decisions in one experiment.

With ``RUNG_MLFLOW_TRACKING_URI`` set (`app.config.Settings.mlflow_tracking_uri`; a local file
store ``file:/path/mlruns`` works offline):

* a training job's recipe gets ``report_to=mlflow`` and the URI (`job_tracking_config`) and logs
  params, metrics and its adapter (`recipes.tracking`); the job's API answer carries
  ``tracking`` (`job_tracking`), read back from the job's config and the run id its summary names;
* every stored eval run and gate decision is logged as a run of the same experiment
  (`log_eval_run`, `log_gate_decision`), tagged ``rung.component`` = ``eval`` / ``gate``.

A tracking failure is logged and never fails the request that stored the run or the decision.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from app.config import Settings, get_settings
from recipes.tracking import RUN_MARKER, experiment_id, mlflow_client

logger = logging.getLogger(__name__)

TRACKING_KEYS = ("report_to", "tracking_uri", "experiment_name")


def job_tracking_config(
    settings: Settings, *, config_class: Any, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """``overrides`` plus report_to/tracking_uri/experiment when the service tracks with MLflow,
    the recipe's config has those fields, and the job did not choose its own ``report_to``."""
    if not settings.mlflow_tracking_uri or "report_to" in overrides:
        return dict(overrides)
    if not dataclasses.is_dataclass(config_class):
        return dict(overrides)
    names = {f.name for f in dataclasses.fields(config_class)}
    if not set(TRACKING_KEYS) <= names:
        return dict(overrides)
    return {
        **overrides,
        "report_to": "mlflow",
        "tracking_uri": settings.mlflow_tracking_uri,
        "experiment_name": settings.mlflow_experiment,
    }


def run_id_from_summary(summary: str | None) -> str | None:
    """The MLflow run id a recipe's summary ends with (``… (MLflow run <id>)``)."""
    if not summary or RUN_MARKER not in summary:
        return None
    tail = summary.rsplit(RUN_MARKER, 1)[1].strip()
    run_id = tail.split(")", 1)[0].strip()
    return run_id or None


def job_tracking(config: Mapping[str, Any], summary: str | None) -> dict[str, Any] | None:
    """Where a job's run is tracked, for its API answer (None when it is not)."""
    backend = config.get("report_to")
    if backend not in ("mlflow", "tensorboard"):
        return None
    link: dict[str, Any] = {"backend": backend, "tracking_uri": config.get("tracking_uri")}
    if backend == "mlflow":
        link["experiment"] = config.get("experiment_name")
        link["run_id"] = run_id_from_summary(summary)
    return link


def _log_run(
    settings: Settings,
    *,
    component: str,
    run_name: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
) -> str | None:
    from mlflow.entities import Metric, Param

    client = mlflow_client(str(settings.mlflow_tracking_uri))
    run = client.create_run(
        experiment_id(client, settings.mlflow_experiment),
        run_name=run_name,
        tags={"rung.component": component, **tags},
    )
    run_id = str(run.info.run_id)
    client.log_batch(
        run_id,
        params=[Param(k, str(v)[:6000]) for k, v in params.items()],
        metrics=[Metric(k, float(v), 0, 0) for k, v in metrics.items()],
    )
    client.set_terminated(run_id, status="FINISHED")
    return run_id


def _safely(action: str, settings: Settings | None, **kwargs: Any) -> str | None:
    settings = settings or get_settings()
    if not settings.mlflow_tracking_uri:
        return None
    try:
        return _log_run(settings, **kwargs)
    except Exception:  # tracking never fails the request
        logger.exception("could not log the %s to MLflow", action)
        return None


def log_eval_run(
    *,
    run_id: str,
    project: str,
    name: str,
    candidate: str,
    dataset: str,
    n_examples: int,
    summary: Mapping[str, Mapping[str, Any]],
    judge: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
) -> str | None:
    """Log a stored eval run (means of every metric); the MLflow run id, or None."""
    metrics = {f"{metric}_mean": float(s["mean"]) for metric, s in summary.items()}
    metrics |= {f"{metric}_n": float(s["n"]) for metric, s in summary.items()}
    params = {"eval_run": run_id, "project": project, "name": name, "candidate": candidate}
    params |= {"dataset": dataset, "n_examples": n_examples}
    if judge:
        params["judge_model"] = judge.get("model", "")
    return _safely(
        "eval run",
        settings,
        component="eval",
        run_name=f"eval {name or run_id}",
        params=params,
        metrics=metrics,
        tags={"rung.eval_run": run_id, "rung.project": project, "rung.candidate": candidate},
    )


def log_gate_decision(
    *,
    decision_id: str,
    project: str,
    baseline_run: str,
    candidate_run: str,
    report: Mapping[str, Any],
    policy_version: int,
    settings: Settings | None = None,
) -> str | None:
    """Log a gate decision (status, and each gated metric's difference); the run id, or None."""
    status = str(report.get("status"))
    metrics = {"passed": 1.0 if status == "pass" else 0.0}
    for decision in report.get("decisions", []):
        if decision.get("mean_diff") is not None:
            metrics[f"{decision['metric']}_diff"] = float(decision["mean_diff"])
    params = {"gate": decision_id, "project": project, "baseline_run": baseline_run}
    params |= {"candidate_run": candidate_run, "status": status, "policy_version": policy_version}
    return _safely(
        "gate decision",
        settings,
        component="gate",
        run_name=f"gate {decision_id}",
        params=params,
        metrics=metrics,
        tags={"rung.gate": decision_id, "rung.project": project, "rung.status": status},
    )
