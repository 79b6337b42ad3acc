"""Experiment tracking for training recipes: ``report_to`` mlflow, tensorboard or none.

``mlflow``: one MLflow run per recipe run, in experiment ``experiment_name`` at ``tracking_uri``
(a local file store ``file:/path/mlruns`` works offline). The run gets the recipe config as
params, every trainer log as step metrics, the recipe's final metrics, and the trained adapter
(or model) folder as the artifact ``adapter`` (``model``). Talks to MLflow through an explicit
``MlflowClient(tracking_uri)``: no process-wide state, no environment variables.

``tensorboard``: the trainer's own TensorBoard writer, into ``tracking_uri`` (a folder) or
``<output_dir>/tensorboard``.

`with_run` appends the run id to the recipe's summary, where the service reads it back
(`app.tracking.job_tracking`). This module imports neither
transformers nor mlflow at import time (the API imports it); the trainer callback that feeds an
`MlflowTracker` is `recipes.trainer_callbacks.MlflowCallback`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from recipes.errors import RecipeEnvironmentError

REPORT_TO = ("none", "mlflow", "tensorboard")
RUN_MARKER = "MLflow run"


def mlflow_client(tracking_uri: str) -> Any:
    """An MlflowClient for ``tracking_uri``. MLflow 3 refuses its file store (``file:...``,
    maintenance mode) unless MLFLOW_ALLOW_FILE_STORE is set: a file URI here opts in, since it is
    the offline store this project documents (``sqlite:///mlflow.db`` works too)."""
    if tracking_uri.startswith("file:") or "://" not in tracking_uri:
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise RecipeEnvironmentError(
            "report_to=mlflow needs mlflow: pip install 'rung[tracking]'"
        ) from exc
    return MlflowClient(tracking_uri=tracking_uri)


def experiment_id(client: Any, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    try:
        return str(client.create_experiment(name))
    except Exception:  # created by a racing process in between
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return str(experiment.experiment_id)


def _params(config: Mapping[str, Any]) -> list[Any]:
    from mlflow.entities import Param

    return [Param(str(k), str(v)[:6000]) for k, v in config.items()]


def _metrics(values: Mapping[str, Any], step: int) -> list[Any]:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    return [
        Metric(key.replace("/", "_"), float(v), now, step)
        for key, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    ]


class MlflowTracker:
    """One MLflow run: params at the start, metrics as they come, artifacts at the end."""

    def __init__(
        self,
        *,
        tracking_uri: str,
        experiment: str,
        run_name: str | None,
        params: Mapping[str, Any],
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.client = mlflow_client(tracking_uri)
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.run_name = run_name
        self.params = dict(params)
        self.tags = dict(tags or {})
        self.run_id: str | None = None

    def start(self) -> str:
        if self.run_id is None:
            run = self.client.create_run(
                experiment_id(self.client, self.experiment),
                run_name=self.run_name,
                tags={"rung.component": "recipe", **self.tags},
            )
            self.run_id = str(run.info.run_id)
            self.client.log_batch(self.run_id, params=_params(self.params))
        return self.run_id

    def log_metrics(self, values: Mapping[str, Any], *, step: int) -> None:
        metrics = _metrics(values, step)
        if metrics:
            self.client.log_batch(self.start(), metrics=metrics)

    def finish(
        self, *, metrics: Mapping[str, Any], artifacts: Sequence[tuple[str, Path]], step: int
    ) -> str:
        """Log the final metrics and the adapter/model folder; end the run; its id."""
        run_id = self.start()
        final = _metrics({f"final_{k}": v for k, v in metrics.items()}, step)
        if final:
            self.client.log_batch(run_id, metrics=final)
        for kind, path in artifacts:
            if kind in ("adapter", "model") and Path(path).is_dir():
                self.client.log_artifacts(run_id, str(path), artifact_path=kind)
        self.client.set_terminated(run_id, status="FINISHED")
        return run_id


def tracker_for(config: Any, *, recipe: str) -> MlflowTracker | None:
    """The MLflow tracker ``config.report_to`` asks for (None for tensorboard and none)."""
    if getattr(config, "report_to", "none") != "mlflow":
        return None
    import dataclasses

    params = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {}
    return MlflowTracker(
        tracking_uri=str(config.tracking_uri),
        experiment=config.experiment_name,
        run_name=config.run_name,
        params={"recipe": recipe, **params},
        tags={"rung.recipe": recipe},
    )


def trainer_report_args(config: Any, output_dir: Path) -> dict[str, Any]:
    """``report_to`` (and the log folder) for the trainer's own integrations."""
    if getattr(config, "report_to", "none") != "tensorboard":
        return {"report_to": "none"}
    try:
        import tensorboard  # noqa: F401
    except ImportError as exc:
        raise RecipeEnvironmentError(
            "report_to=tensorboard needs tensorboard: pip install 'rung[tracking]'"
        ) from exc
    log_dir = Path(config.tracking_uri or output_dir / "tensorboard").expanduser()
    return {"report_to": "tensorboard", "logging_dir": str(log_dir)}


def with_run(summary: str, run_id: str | None) -> str:
    """``summary`` plus the run marker that `app.tracking.job_tracking` reads back."""
    return f"{summary} ({RUN_MARKER} {run_id})" if run_id else summary
