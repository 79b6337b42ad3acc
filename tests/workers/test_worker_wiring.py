"""How workers are wired: one Celery app built from the settings when asked for, the job policy
read with the other settings, recipes that say how their inputs are assembled, and job services
that never import the workers."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings, WorkerPolicy
from recipes import REGISTRY
from recipes.errors import RecipeConfigError
from recipes.run_types import RecipeSpec

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_celery_module_builds_no_app_and_there_is_no_default_broker() -> None:
    code = (
        "import os; os.environ.pop('RUNG_BROKER_URL', None)\n"
        "import app.workers.celery_app as c\n"
        "assert not c._apps, 'an app was built at import time'\n"
        "try:\n    c.app\nexcept c.NoBrokerError as exc:\n    print('refused:', exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "refused: RUNG_BROKER_URL is not set" in out.stdout


def test_the_celery_app_comes_from_the_settings_once_per_process() -> None:
    from app.workers.celery_app import celery_for

    settings = Settings(
        broker_url="redis://127.0.0.1:1/3", job=WorkerPolicy(visibility_timeout_s=77)
    )
    app = celery_for(settings)
    assert app is celery_for(settings)
    assert app.conf.broker_url == "redis://127.0.0.1:1/3"
    assert app.conf.broker_transport_options["visibility_timeout"] == 77
    assert WorkerPolicy.task_name in app.tasks


def test_the_job_policy_is_read_with_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("RUNG_JOB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("RUNG_JOB_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("RUNG_JOB_LEASE_S", "30")
    settings = Settings()
    assert (settings.job.max_attempts, settings.job.lease_s) == (7, 30)
    assert settings.job.heartbeat_s == WorkerPolicy().heartbeat_s
    monkeypatch.setenv("RUNG_JOB_HEARTBEAT_S", "31")
    with pytest.raises(ValidationError, match="must be shorter than RUNG_JOB_LEASE_S"):
        Settings()


def test_each_recipe_says_how_its_inputs_are_assembled() -> None:
    train, held = [{"text": "a"}, {"text": "b"}], [{"text": "c"}]
    rag = REGISTRY["rag"].assemble_inputs(train_rows=train, eval_rows=held, holdout_given=False)
    assert (rag.train_rows, rag.eval_rows, rag.extras) == ([], held, {"documents": train + held})
    rag = REGISTRY["rag"].assemble_inputs(train_rows=train, eval_rows=held, holdout_given=True)
    assert rag.extras == {"documents": train}
    sft = REGISTRY["lora_sft"].assemble_inputs(
        train_rows=train, eval_rows=held, holdout_given=False
    )
    assert (sft.train_rows, sft.eval_rows, sft.extras) == (train, held, {})
    needy = RecipeSpec(
        name="needy",
        config_class=object,
        run=print,
        needs_gpu=False,
        kind="prompt",
        dataset="sft",
        description="",
        extra_inputs=("tools",),
    )
    with pytest.raises(RecipeConfigError, match="needs the input 'tools'"):
        needy.assemble_inputs(train_rows=train, eval_rows=held, holdout_given=False)


def test_job_services_never_import_the_workers() -> None:
    offenders = []
    for path in (ROOT / "app" / "jobs").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else ([a.name for a in node.names] if isinstance(node, ast.Import) else [])
            )
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("app.workers")]
    assert offenders == []


def test_a_gpu_worker_advertises_the_gpus_it_owns_by_its_queues() -> None:
    from app.workers.cli import _advertised

    assert _advertised(["gpu"], gpus=4, concurrency=1) == ["gpu", "gpu-2", "gpu-3", "gpu-4"]
    assert _advertised(["gpu"], gpus=4, concurrency=4) == ["gpu"], "one GPU per process"
    assert _advertised(["default"], gpus=4, concurrency=1) == ["default"]
    policy = WorkerPolicy()
    assert policy.queue_for(needs_gpu=True, processes=3) == "gpu-3"
    assert policy.queue_for(needs_gpu=True, processes=3) in policy.gpu_queues(4)
    assert policy.queue_for(needs_gpu=True, processes=3) not in policy.gpu_queues(2)
    assert policy.queue_for(needs_gpu=False, processes=3) == "default"
