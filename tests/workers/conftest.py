"""Real Celery workers (subprocesses of `rung worker`) on the machine's Redis, a SQLite file DB
and a live API server that sends jobs through the broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.core import migrations
from app.db import session_scope
from app.teams import service as teams
from tests.conftest import REDIS_URL, LiveServer, _service_missing

RUNG = [sys.executable, "-m", "app.cli"]

# Short leases and heartbeats so that a killed worker's job is picked up within seconds.
POLICY_ENV = {
    "RUNG_JOB_LEASE_S": "4",
    "RUNG_JOB_HEARTBEAT_S": "0.5",
    "RUNG_JOB_REAPER_INTERVAL_S": "1",
    "RUNG_JOB_RETRY_BACKOFF_S": "0",
    "RUNG_JOB_POLL_INTERVAL_S": "0.3",
    "RUNG_JOB_MAX_ATTEMPTS": "3",
    "RUNG_JOB_VISIBILITY_TIMEOUT_S": "3600",
}
TERMINAL = ("succeeded", "failed", "cancelled")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The machine's Redis, on a dedicated db number, flushed before and after."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
    except Exception as exc:
        _service_missing("Redis", str(exc).splitlines()[0])
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


@pytest.fixture(scope="session")
def policy_env() -> Iterator[dict[str, str]]:
    saved = {k: os.environ.get(k) for k in POLICY_ENV}
    os.environ.update(POLICY_ENV)
    yield POLICY_ENV
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


class Deployment:
    """One database + artifact store, a live API using the broker, and worker subprocesses."""

    def __init__(self, root: Path, broker_url: str, policy_env: dict[str, str]) -> None:
        self.root = root
        self.db_url = f"sqlite:///{root / 'rung.db'}"
        migrations.upgrade(self.db_url)
        # Jobs may name models by path only inside RUNG_MODELS_ALLOW: here, pytest's temp root
        # (where the tiny_model fixture lives).
        self.models_allow = str(root.parent)
        self.settings = Settings(env="test", home=root / "home", database_url=self.db_url,
                                 broker_url=broker_url, triage_on_ingest=False,
                                 models_allow=self.models_allow)
        self.env = {
            **os.environ,
            **policy_env,
            "RUNG_DATABASE_URL": self.db_url,
            "RUNG_HOME": str(root / "home"),
            "RUNG_BROKER_URL": broker_url,
            "RUNG_ENV": "test",
            "RUNG_MODELS_ALLOW": self.models_allow,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_VERBOSITY": "error",
            "TOKENIZERS_PARALLELISM": "false",
        }
        self.workers: list[tuple[subprocess.Popen[bytes], Path]] = []
        with session_scope(self.db_url) as session:
            _, self.key = teams.create_team(session, name=f"t-{uuid.uuid4().hex[:6]}")
        self.server = LiveServer(self.settings)

    def __enter__(self) -> Deployment:
        self.server.__enter__()
        self.client = httpx.Client(base_url=self.server.url, timeout=60,
                                   headers={"Authorization": f"Bearer {self.key}"})
        self.client.post("/v1/projects", json={"name": "p"}).raise_for_status()
        return self

    def __exit__(self, *exc: object) -> None:
        for process, _ in self.workers:
            self.kill(process)
        self.client.close()
        self.server.__exit__(*exc)

    # -- workers -----------------------------------------------------------------------------
    def start_worker(self, queue: str = "default") -> subprocess.Popen[bytes]:
        log = self.root / f"worker-{len(self.workers)}.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            [*RUNG, "worker", "--queue", queue, "--loglevel", "info"],
            stdout=handle, stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
        )
        self.workers.append((process, log))
        deadline = time.monotonic() + 90
        while b" ready." not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{log.read_text()[-4000:]}")
            time.sleep(0.2)
        return process

    @staticmethod
    def kill(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        if process.poll() is None:
            os.killpg(process.pid, sig)
            process.wait(timeout=30)

    def worker_logs(self) -> str:
        return "\n".join(f"--- {log}\n{log.read_text()[-3000:]}" for _, log in self.workers)

    # -- API helpers -------------------------------------------------------------------------
    def push(self, rows: list[dict[str, Any]]) -> str:
        body = "\n".join(json.dumps(r) for r in rows).encode()
        response = self.client.post("/v1/projects/p/datasets", content=body,
                                    params={"filename": "train.jsonl"},
                                    headers={"Content-Type": "application/x-ndjson"})
        assert response.status_code in (200, 201), response.text
        return response.json()["version"]["sha256"]

    def submit(self, **body: Any) -> dict[str, Any]:
        response = self.client.post("/v1/projects/p/jobs", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def job(self, job_id: str) -> dict[str, Any]:
        return self.client.get(f"/v1/projects/p/jobs/{job_id}").json()

    def events(self, job_id: str) -> list[dict[str, Any]]:
        return self.client.get(f"/v1/projects/p/jobs/{job_id}/events/list",
                               params={"limit": 1000}).json()

    def wait_for(
        self, job_id: str, condition: Callable[[dict[str, Any]], bool], timeout: float = 180
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if condition(job):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"job {job_id} stuck in {job['state']}: {job}\n{self.worker_logs()}"
                )
            time.sleep(0.1)

    def wait_end(self, job_id: str, timeout: float = 180) -> dict[str, Any]:
        return self.wait_for(job_id, lambda j: j["state"] in TERMINAL, timeout)


@pytest.fixture(scope="module")
def make_deployment(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, policy_env: dict[str, str]
) -> Iterator[Callable[..., Deployment]]:
    """Start deployments (DB, API, worker processes) on a broker (default: the machine's
    Redis); all are stopped at the end of the module."""
    started: list[Deployment] = []

    def _make(broker_url: str | None = None) -> Deployment:
        deployment = Deployment(tmp_path_factory.mktemp("deploy"), broker_url or redis_url,
                                policy_env)
        started.append(deployment.__enter__())
        return deployment

    yield _make
    for deployment in reversed(started):
        deployment.__exit__(None, None, None)
