from __future__ import annotations

from collections.abc import Iterator

import pytest

FAST_POLICY = {
    "RUNG_JOB_HEARTBEAT_S": "0.3",
    "RUNG_JOB_LEASE_S": "10",
    "RUNG_JOB_POLL_INTERVAL_S": "0.2",
    "RUNG_JOB_RETRY_BACKOFF_S": "0",
}


@pytest.fixture(autouse=True)
def fast_policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Quick heartbeats and polling for the in-process worker (read by the `settings` fixture)."""
    for key, value in FAST_POLICY.items():
        monkeypatch.setenv(key, value)
    yield
