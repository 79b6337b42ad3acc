"""MLflow tracking with a local file store: a LoRA job's params, metrics and adapter, the job's
link to its run, and eval runs and gate decisions in the same experiment."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from app.config import get_settings
from recipes import lora_sft
from recipes.errors import RecipeConfigError
from recipes.lora_sft import LoraSFTConfig
from tests.jobs.conftest import FAST_POLICY
from tests.recipes.sft_rows import yes_rows


@pytest.fixture(autouse=True)
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """RUNG_MLFLOW_TRACKING_URI at a file store, set before the app's settings are built."""
    uri = f"file:{tmp_path / 'mlruns'}"
    for key, value in FAST_POLICY.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RUNG_MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("RUNG_MLFLOW_EXPERIMENT", "rung-test")
    get_settings.cache_clear()
    yield uri
    get_settings.cache_clear()


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _runs(uri: str, component: str) -> list[Any]:
    client = _client(uri)
    experiment = client.get_experiment_by_name("rung-test")
    assert experiment is not None
    return client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`rung.component` = '{component}'"
    )


def test_recipe_report_to_mlflow_logs_params_metrics_and_adapter(
    tiny_model: Path, tmp_path: Path, mlflow_store: str
) -> None:
    config = LoraSFTConfig(
        base_model=str(tiny_model),
        max_steps=4,
        logging_steps=1,
        save_steps=4,
        lora_r=4,
        report_to="mlflow",
        tracking_uri=mlflow_store,
        experiment_name="rung-test",
        run_name="unit",
    )
    result = lora_sft.run(config, train_rows=yes_rows(8), eval_rows=[], output_dir=tmp_path / "o")
    (run,) = _runs(mlflow_store, "recipe")
    assert f"MLflow run {run.info.run_id}" in result.summary
    assert run.info.run_name == "unit" and run.info.status == "FINISHED"
    assert run.data.params["lora_r"] == "4" and run.data.params["recipe"] == "lora_sft"
    assert run.data.metrics["final_global_step"] == 4
    history = _client(mlflow_store).get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == [1, 2, 3, 4]
    artifacts = {a.path for a in _client(mlflow_store).list_artifacts(run.info.run_id, "adapter")}
    assert {"adapter/adapter_config.json", "adapter/adapter_model.safetensors"} <= artifacts


def test_report_to_mlflow_needs_a_uri_and_tensorboard_is_a_choice() -> None:
    with pytest.raises(RecipeConfigError, match="tracking_uri"):
        LoraSFTConfig(report_to="mlflow")
    with pytest.raises(RecipeConfigError, match="report_to"):
        LoraSFTConfig(report_to="wandb")  # type: ignore[arg-type]
    assert LoraSFTConfig(report_to="tensorboard").tracking_uri is None


def _push(api: httpx.Client, rows: list[dict[str, Any]]) -> str:
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    response = api.post(
        "/v1/projects/bot/datasets",
        content=body,
        params={"filename": "d.jsonl"},
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert response.status_code in (200, 201), response.text
    return response.json()["version"]["sha256"]


def _eval(api: httpx.Client, name: str, scores: list[float]) -> str:
    result = {
        "run": {"name": name},
        "examples": [{"id": f"e{i}", "scores": {"rouge_l": s}} for i, s in enumerate(scores)],
    }
    response = api.post(
        "/v1/projects/bot/evals", json={"name": name, "candidate": name, "result": result}
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_job_eval_and_gate_land_in_one_experiment(
    api: httpx.Client, tiny_model: Path, mlflow_store: str
) -> None:
    assert api.post("/v1/projects", json={"name": "bot"}).status_code == 201
    rows = [{"prompt": f"Is order {i} shipped?", "completion": "Yes."} for i in range(12)]
    created = api.post(
        "/v1/projects/bot/jobs",
        json={
            "recipe": "lora_sft",
            "dataset": _push(api, rows),
            "base_model": str(tiny_model),
            "config": {"max_steps": 3, "logging_steps": 1, "save_steps": 3, "lora_r": 4},
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["config"]["report_to"] == "mlflow"
    job_id = created.json()["id"]
    deadline = time.monotonic() + 180
    while (job := api.get(f"/v1/projects/bot/jobs/{job_id}").json())["state"] not in (
        "succeeded",
        "failed",
    ):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["state"] == "succeeded", job
    tracking = job["tracking"]
    assert tracking["backend"] == "mlflow" and tracking["tracking_uri"] == mlflow_store
    assert tracking["experiment"] == "rung-test"
    (run,) = _runs(mlflow_store, "recipe")
    assert tracking["run_id"] == run.info.run_id
    assert run.data.params["max_steps"] == "3" and "loss" in run.data.metrics
    artifacts = {a.path for a in _client(mlflow_store).list_artifacts(run.info.run_id, "adapter")}
    assert "adapter/adapter_config.json" in artifacts

    rng = np.random.default_rng(3)
    scores = rng.uniform(0.2, 0.6, size=40)
    improved = scores + 0.3 + rng.normal(0, 0.02, size=40)
    base = _eval(api, "base", [float(s) for s in scores])
    better = _eval(api, "lora", [float(s) for s in improved])
    evals = {r.data.params["name"]: r for r in _runs(mlflow_store, "eval")}
    assert set(evals) == {"base", "lora"}
    assert evals["lora"].data.metrics["rouge_l_mean"] == pytest.approx(improved.mean())
    gate = api.post("/v1/projects/bot/gates", json={"baseline": base, "candidate": better})
    assert gate.status_code == 201, gate.text
    (decision,) = _runs(mlflow_store, "gate")
    assert decision.data.params["status"] == gate.json()["status"] == "pass"
    assert decision.data.metrics["passed"] == 1.0
    (metric,) = gate.json()["report"]["decisions"]
    assert decision.data.metrics["rouge_l_diff"] == pytest.approx(metric["mean_diff"])
