from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from tests.tiny_llama import make_tiny_llama  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


FAST_POLICY = {
    "RUNG_JOB_HEARTBEAT_S": "0.3",
    "RUNG_JOB_LEASE_S": "10",
    "RUNG_JOB_POLL_INTERVAL_S": "0.2",
    "RUNG_JOB_RETRY_BACKOFF_S": "0",
}


@pytest.fixture(autouse=True)
def fast_policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Quick heartbeats and polling for the in-process worker (read when the app starts)."""
    from app.workers.policy import get_policy

    for key, value in FAST_POLICY.items():
        monkeypatch.setenv(key, value)
    get_policy.cache_clear()
    yield
    get_policy.cache_clear()
