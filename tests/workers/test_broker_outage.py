"""The broker goes down and comes back: submission answers 503 and stores nothing meanwhile.

The test starts its own redis-server on a free port (never the machine's Redis) and stops it.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from app.db import session_scope
from app.jobs.models import Job
from tests.conftest import free_port, service_missing

pytestmark = [pytest.mark.redis]

ROWS = [
    {"prompt": f"Question {i}?", "completion": f"Answer {i}, stated plainly."} for i in range(12)
]


class RedisServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            service_missing("redis-server is not installed (it starts a Redis of its own)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


def _job_count(db_url: str) -> int:
    with session_scope(db_url) as session:
        return session.query(Job).count()


def test_broker_down_answers_503_and_stores_nothing(
    make_deployment: Callable[..., Any], own_redis: RedisServer
) -> None:
    deployment = make_deployment(own_redis.url)
    dataset = deployment.push(ROWS)
    body = {"recipe": "lora_sft", "dataset": dataset, "config": {"max_steps": 1}}

    first = deployment.client.post("/v1/projects/p/jobs", json=body)
    assert first.status_code == 201, first.text
    queued = redis.Redis.from_url(own_redis.url).llen("default")
    assert queued == 1, "the broker holds the job id"

    own_redis.stop()
    down = deployment.client.post("/v1/projects/p/jobs", json=body)
    assert down.status_code == 503
    assert "broker" in down.json()["detail"] and "nothing was queued" in down.json()["detail"]
    assert _job_count(deployment.db_url) == 1, "no job row left queued-but-unsent"
    listed = deployment.client.get("/v1/projects/p/jobs").json()
    assert [j["id"] for j in listed] == [first.json()["id"]]

    own_redis.start()  # same port, empty (no persistence)
    back = deployment.client.post("/v1/projects/p/jobs", json=body)
    assert back.status_code == 201, back.text
    assert redis.Redis.from_url(own_redis.url).llen("default") == 1
    assert _job_count(deployment.db_url) == 2
