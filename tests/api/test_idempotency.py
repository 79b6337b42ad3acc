"""`Idempotency-Key` on every POST that creates: a retry with the same key and body gets the
first answer and stores nothing new; the same key with another body is a 422 that stores nothing.
Real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np

P = "/v1/projects/bot"


def _post(api: httpx.Client, path: str, key: str, **kwargs: Any) -> httpx.Response:
    headers = {"Idempotency-Key": key, **kwargs.pop("headers", {})}
    return api.post(path, headers=headers, **kwargs)


def _retried(api: httpx.Client, path: str, **kwargs: Any) -> tuple[httpx.Response, httpx.Response]:
    """The same POST twice with one key; asserts the second is the first answer, replayed."""
    key = uuid.uuid4().hex
    first = _post(api, path, key, **kwargs)
    assert first.status_code in (200, 201), first.text
    second = _post(api, path, key, **kwargs)
    assert second.status_code == first.status_code, second.text
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.headers.get("Idempotent-Replayed") is None
    return first, second


def _cases(n: int, tag: str = "") -> list[dict[str, Any]]:
    return [
        {"input": f"refund time {tag}{i}?", "output": "3 days", "expected": "5-10 days"}
        for i in range(n)
    ]


def _count_cases(api: httpx.Client) -> int:
    return len(api.get(f"{P}/cases", params={"limit": 500}).json()["items"])


def _result(scores: list[float], name: str) -> dict[str, Any]:
    return {
        "run": {"name": name, "model": name, "dataset_sha256": "d" * 64},
        "examples": [{"id": f"ex{i}", "scores": {"exact_match": s}} for i, s in enumerate(scores)],
    }


def test_cases_retry_stores_once_and_another_body_is_422(api: httpx.Client) -> None:
    assert _retried(api, "/v1/projects", json={"name": "bot"})[0].status_code == 201
    assert [p["name"] for p in api.get("/v1/projects").json()] == ["bot"]

    first, _ = _retried(api, f"{P}/cases", json=_cases(3))
    assert len(first.json()["ids"]) == 3
    assert _count_cases(api) == 3

    key = uuid.uuid4().hex
    assert _post(api, f"{P}/cases", key, json=_cases(2, "a")).status_code == 201
    other = _post(api, f"{P}/cases", key, json=_cases(2, "b"))
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["detail"]
    assert _count_cases(api) == 5

    # a failed request is not remembered: the same key may be sent again, fixed or not
    bad_key = uuid.uuid4().hex
    assert _post(api, f"{P}/cases", bad_key, json=[{"input": "x"}]).status_code == 422
    assert _post(api, f"{P}/cases", bad_key, json=_cases(1, "c")).status_code == 201
    assert _count_cases(api) == 6

    # without a key every POST stores
    api.post(f"{P}/cases", json=_cases(1, "d"))
    api.post(f"{P}/cases", json=_cases(1, "d"))
    assert _count_cases(api) == 8


def test_concurrent_retries_with_one_key_store_one_batch(api: httpx.Client) -> None:
    api.post("/v1/projects", json={"name": "bot"})
    key = uuid.uuid4().hex
    body = _cases(4, "concurrent")

    def send(_: int) -> httpx.Response:
        return _post(api, f"{P}/cases", key, json=body)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, statuses
    created = {tuple(a.json()["ids"]) for a in answers if a.status_code == 201}
    assert len(created) == 1, created  # every 201 is the same batch
    assert _count_cases(api) == 4


def test_dataset_push_retry_answers_as_the_first_push(api: httpx.Client) -> None:
    api.post("/v1/projects", json={"name": "bot"})
    rows = [{"prompt": f"Is order {i} shipped?", "completion": f"Yes, {i}."} for i in range(12)]
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    params = {"filename": "d.jsonl"}
    headers = {"Content-Type": "application/x-ndjson"}
    # a refused push is not remembered: the same key then carries the good file
    fixed_key = uuid.uuid4().hex
    bad = _post(api, f"{P}/datasets", fixed_key, content=b'{"prompt": 1}\n', params=params,
                headers=headers)
    assert bad.status_code == 422, bad.text
    assert api.get(f"{P}/datasets").json() == []
    first = _post(api, f"{P}/datasets", fixed_key, content=body, params=params, headers=headers)
    assert first.status_code == 201 and first.json()["created"] is True
    again = _post(api, f"{P}/datasets", fixed_key, content=body, params=params, headers=headers)
    assert again.status_code == 201 and again.json() == first.json()  # the first answer
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(api.get(f"{P}/datasets").json()) == 1

    key = uuid.uuid4().hex
    assert _post(api, f"{P}/datasets", key, content=body, params=params,
                 headers=headers).status_code == 200  # same content, new key: existing version
    other = body + b'{"prompt": "another", "completion": "row"}\n'
    refused = _post(api, f"{P}/datasets", key, content=other, params=params, headers=headers)
    assert refused.status_code == 422
    assert len(api.get(f"{P}/datasets").json()) == 1


def test_job_submission_retry_queues_one_job(api: httpx.Client) -> None:
    api.post("/v1/projects", json={"name": "bot"})
    rows = [{"prompt": f"q{i}", "completion": f"a{i}"} for i in range(12)]
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    dataset = api.post(f"{P}/datasets", content=body, params={"filename": "d.jsonl"},
                       headers={"Content-Type": "application/x-ndjson"}).json()["version"]
    # a GPU recipe stays queued on this CPU machine: nothing runs during the test
    job, _ = _retried(api, f"{P}/jobs", json={"recipe": "qlora_sft", "dataset": dataset["sha256"]})
    assert [j["id"] for j in api.get(f"{P}/jobs").json()] == [job.json()["id"]]
    api.post(f"{P}/jobs/{job.json()['id']}/cancel")


def test_evals_gates_versions_and_promotion_retries_store_once(api: httpx.Client) -> None:
    rng = np.random.default_rng(0)
    base = (rng.random(60) < 0.6).astype(float)
    better = np.where((base == 1) | (np.arange(60) % 3 == 0), 1.0, 0.0)
    api.post("/v1/projects", json={"name": "bot"})
    _retried(api, f"{P}/models", json={"name": "support"})

    runs = {}
    for name, scores in {"base": base, "better": better}.items():
        first, _ = _retried(
            api,
            f"{P}/evals",
            json={"name": name, "candidate": name, "result": _result(scores.tolist(), name)},
        )
        runs[name] = first.json()["id"]
    assert len(api.get(f"{P}/evals").json()) == 2

    _retried(
        api, f"{P}/models/support/versions",
        json={"source": "base", "eval_run": runs["base"], "base": True},
    )
    v1, _ = _retried(
        api, f"{P}/models/support/versions",
        json={"source": "sha256:better", "eval_run": runs["better"]},
    )
    model = api.get(f"{P}/models/support").json()
    assert [v["version"] for v in model["versions"]] == [0, 1]

    gate, _ = _retried(api, f"{P}/gates",
                       json={"baseline": runs["base"], "candidate": runs["better"]})
    assert gate.json()["status"] == "pass", gate.json()
    promoted, _ = _retried(
        api, f"{P}/models/support/promote",
        json={"version": v1.json()["version"], "gate": gate.json()["id"], "reason": "better"},
    )
    assert promoted.json()["aliases"]["champion"] == 1
    history = api.get(f"{P}/models/support").json()["history"]
    assert history == promoted.json()["history"]  # the retry added no history entry
    assert len([e for e in history if e["alias"] == "champion"]) == 1

    key = uuid.uuid4().hex
    ok = _post(api, f"{P}/gates", key, json={"baseline": runs["base"], "candidate": runs["better"]})
    assert ok.status_code == 201
    mismatch = _post(api, f"{P}/gates", key, json={"baseline": runs["better"],
                                                   "candidate": runs["base"]})
    assert mismatch.status_code == 422
