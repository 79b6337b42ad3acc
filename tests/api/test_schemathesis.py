"""Schemathesis over every operation of the OpenAPI schema, over real HTTP, on SQLite and
PostgreSQL: no 5xx, and every response conforms to the schema the API publishes.

Seeded (Hypothesis ``derandomize``): the same requests every run. Half of the generated requests
use the ids of objects the test made first (project, case, dataset, job, eval run, model), so
that they reach past the 404 into the routes' work.
``RUNG_FUZZ_EXAMPLES`` raises the examples per operation for a longer local run.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

EXAMPLES_PER_OPERATION = int(os.environ.get("RUNG_FUZZ_EXAMPLES", "25"))
STATEFUL_SCENARIOS = int(os.environ.get("RUNG_FUZZ_SCENARIOS", "30"))
MIN_REQUESTS = 1000
CHECKS = [not_a_server_error, response_schema_conformance]


def _seed(base_url: str, headers: dict[str, str]) -> dict[str, str]:
    """One object of each kind in the team's project ``bot``: the ids that half of the generated
    requests use in their path, so that they reach the routes' real work, not just a 404."""
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:

        def post(path: str, **kwargs: Any) -> Any:
            response = client.post(f"/v1/projects/bot{path}", **kwargs)
            assert response.status_code in (200, 201), (path, response.text)
            return response.json()

        assert client.post("/v1/projects", json={"name": "bot"}).status_code == 201
        case = post("/cases", json=[{"input": "how long do refunds take", "output": "3 days",
                                     "expected": "5-10 days", "metadata": {"lang": "中文"}}])
        rows = "".join(json.dumps({"prompt": f"Is order {i} shipped?",
                                   "completion": f"Yes, order {i} shipped."}) + "\n"
                       for i in range(12))
        dataset = post("/datasets", content=rows.encode(), params={"filename": "d.jsonl"},
                       headers={"content-type": "application/x-ndjson"})["version"]["sha256"]
        job = post("/jobs", json={"recipe": "qlora_sft", "dataset": dataset})["id"]  # gpu queue
        post(f"/jobs/{job}/cancel")  # ended: its event stream closes
        scores = [{"id": f"ex{i}", "scores": {"em": float(i % 2)}} for i in range(8)]
        run = post("/evals", json={"name": "base", "result": {"run": {"name": "base"},
                                                              "examples": scores}})["id"]
        post("/models", json={"name": "m"})
        post("/models/m/versions", json={"source": "s", "eval_run": run})
    return {"project": "bot", "case_id": case["ids"][0], "ref": dataset, "job_id": job,
            "run_id": run, "name": "m"}


class Fuzzer:
    """Sends generated requests for one operation after another, and collects failed checks."""

    def __init__(self, base_url: str, headers: dict[str, str], known: dict[str, str]) -> None:
        self.base_url = base_url
        self.known = known
        self.headers = headers
        self.http = requests.Session()
        self.sent = 0
        self.statuses: Counter[int] = Counter()
        self.by_operation: Counter[tuple[str, int]] = Counter()
        self.failures: list[str] = []
        self.details: list[str] = []

    def send(self, operation: Any, case: Any, own_ids: bool) -> None:
        keep = operation.label == "DELETE /v1/projects/{project}"  # the shared project stays
        if own_ids and not keep:
            for name in case.path_parameters or {}:
                if name in self.known:
                    case.path_parameters[name] = self.known[name]
        response = case.call(base_url=self.base_url, session=self.http, headers=self.headers,
                             timeout=60)
        self.record(operation, case, response)

    def record(self, operation: Any, case: Any, response: Any) -> None:
        self.sent += 1
        self.statuses[response.status_code] += 1
        self.by_operation[(operation.label, response.status_code)] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # a failed check: collect them all
            text = str(exc)
            kind = next((line.strip() for line in text.splitlines() if line.startswith("- ")),
                        type(exc).__name__)
            self.failures.append(f"{operation.label} -> {response.status_code}: {kind}")
            self.details.append(
                f"{text[:1500]}\n  request: {response.request.method} {response.request.url} "
                f"body={str(response.request.body)[:300]!r}"
            )

    def fuzz(self, operation: Any) -> None:
        @given(case=operation.as_strategy(), own_ids=st.booleans())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any, own_ids: bool) -> None:
            self.send(operation, case, own_ids)

        run()


def _stateful(schema: Any, fuzzer: Fuzzer, make_team: Any) -> None:
    """Scenarios that follow the schema's links (create a project, then its cases, models,
    versions, evals...): each step's response feeds the next request. Each scenario is a new
    team, so what it sees depends on its own steps only (Hypothesis replays them)."""
    base = schema.as_state_machine()

    class Workflow(base):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            self.headers = {"Authorization": f"Bearer {make_team()[1]}"}

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": fuzzer.base_url, "headers": self.headers,
                    "session": fuzzer.http, "timeout": 60}

        def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
            fuzzer.record(case.operation, case, response)

    Workflow.run(settings=settings(
        max_examples=STATEFUL_SCENARIOS,
        stateful_step_count=6,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    ))


def test_every_operation_answers_without_5xx_and_as_documented(
    live_server: Any, make_team: Any
) -> None:
    _, key = make_team()
    headers = {"Authorization": f"Bearer {key}"}
    known = _seed(live_server.url, headers)
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")
    fuzzer = Fuzzer(live_server.url, headers, known)
    for result in schema.get_all_operations():
        fuzzer.fuzz(result.ok())
    stateless = fuzzer.sent
    _stateful(schema, fuzzer, make_team)
    assert fuzzer.sent - stateless >= STATEFUL_SCENARIOS, "the linked scenarios ran"

    print(f"schemathesis: {fuzzer.sent} requests ({fuzzer.sent - stateless} in linked "
          f"scenarios), statuses {dict(sorted(fuzzer.statuses.items()))}")
    distinct = Counter(fuzzer.failures)
    assert not fuzzer.failures, (
        f"{len(fuzzer.failures)} of {fuzzer.sent} requests failed:\n"
        + "\n".join(f"{n} x {what}" for what, n in distinct.most_common())
        + "\n\nfirst failures:\n" + "\n\n".join(fuzzer.details[:3])
        + f"\n\nstatuses by operation: {sorted(fuzzer.by_operation.items())}"
    )
    assert fuzzer.sent >= MIN_REQUESTS, f"only {fuzzer.sent} requests sent"
