"""Hostile input gets a 422 (or 413) naming the field, on SQLite and PostgreSQL, over real HTTP.

Each case here was a 5xx, a dropped connection or a stored record that broke later reads before
the one JSON intake (`app.core.json_body`, `app.core.body_limit`) existed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

CASE = {"input": "how long do refunds take", "output": "3 days", "expected": "5-10 days"}
JSON = {"content-type": "application/json"}
TEXT = {"content-type": "text/plain"}


def _project(api: httpx.Client, name: str = "bot") -> None:
    assert api.post("/v1/projects", json={"name": name}).status_code == 201


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _case_with(metadata_json: str) -> bytes:
    return ('[{"input": "q", "output": "a", "metadata": ' + metadata_json + "}]").encode()


def _assert_422(response: httpx.Response, field_part: str, words: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) >= {"detail", "errors"}
    assert words in body["detail"], body["detail"]
    assert any(field_part in str(e.get("field")) for e in body["errors"]), body["errors"]


HOSTILE_BODIES = [
    pytest.param(b"[" * 2500 + b"]" * 2500, "(body)", "nested deeper", id="array-2500-deep"),
    pytest.param(_case_with(_nested(500)), "0.metadata.a", "nested deeper", id="metadata-500-deep"),
    pytest.param(_case_with('{"n": ' + "9" * 5000 + "}"), "0.metadata.n", "out of range",
                 id="int-5000-digits"),
    pytest.param(_case_with('{"n": 18446744073709551615}'), "0.metadata.n", "out of range",
                 id="int-over-64-bits"),
    pytest.param(_case_with('{"x": NaN}'), "0.metadata.x", "NaN", id="nan"),
    pytest.param(_case_with('{"x": -Infinity}'), "0.metadata.x", "Infinity", id="infinity"),
    pytest.param(_case_with('{"x": 1e400}'), "0.metadata.x", "too large", id="1e400"),
    pytest.param(_case_with('{"x": "a\\ud800b"}'), "0.metadata.x", "lone surrogate",
                 id="lone-surrogate"),
    pytest.param(b'[{"input": "a\\u0000b", "output": "x"}]', "0.input", "NUL", id="nul-in-text"),
    pytest.param(_case_with('{"k\\u0000": 1}'), "0.metadata", "NUL", id="nul-in-key"),
    pytest.param(_case_with('{"blob": "' + "x" * 70_000 + '"}'), "0.metadata", "capped",
                 id="metadata-over-64k"),
    pytest.param(b"[{\xff}]", "(body)", "not valid JSON", id="not-utf8"),
]


@pytest.mark.parametrize(("body", "field", "words"), HOSTILE_BODIES)
def test_hostile_case_bodies_are_422_naming_the_field(
    api: httpx.Client, body: bytes, field: str, words: str
) -> None:
    _project(api)
    for headers in (JSON, TEXT, {}):  # whatever the content type
        for path in ("/v1/projects/bot/cases", "/v1/triage"):
            _assert_422(api.post(path, content=body, headers=headers), field, words)
    page = api.get("/v1/projects/bot/cases")
    assert page.status_code == 200 and page.json()["items"] == []  # nothing was stored


def test_oversized_body_is_413_whatever_the_content_type(api: httpx.Client) -> None:
    _project(api)
    big = b'[{"input": "' + b"x" * (3 * 1024 * 1024) + b'", "output": "y"}]'  # limit: 2 MiB
    for headers in (JSON, TEXT, {"content-type": "application/octet-stream"}):
        for path in ("/v1/projects/bot/cases", "/v1/triage", "/v1/projects"):
            response = api.post(path, content=big, headers=headers)
            assert response.status_code == 413, (path, headers, response.status_code)
            assert "byte limit" in response.json()["detail"]


def test_pydantic_bodies_are_checked_too(api: httpx.Client) -> None:
    """Routes with a model body (projects, evals, registry) get the same intake."""
    _project(api)
    body = b'{"name": "x", "description": "a\\u0000b"}'
    _assert_422(api.post("/v1/projects", content=body, headers=JSON), "description", "NUL")
    run = b'{"result": {"run": ' + _nested(900).encode() + b"}}"
    _assert_422(api.post("/v1/projects/bot/evals", content=run, headers=JSON),
                "result.run", "nested deeper")
    assert api.post("/v1/projects/bot/models", json={"name": "m"}).status_code == 201
    promote = b'{"version": 99999999999999999999999, "reason": "r"}'
    _assert_422(api.post("/v1/projects/bot/models/m/promote", content=promote, headers=JSON),
                "version", "out of range")
    promote = b'{"version": 9223372036854775807, "reason": "r"}'  # fits 64 bits, not the column
    assert api.post("/v1/projects/bot/models/m/promote", content=promote,
                    headers=JSON).status_code in (404, 422)


def test_nul_in_path_or_query_is_422(api: httpx.Client) -> None:
    _project(api)
    _assert_422(api.get("/v1/projects/bot/cases", params={"source": "a\x00b"}), "source", "NUL")
    _assert_422(api.get("/v1/projects/bot/cases/cas_%00x"), "(path)", "NUL")
    _assert_422(api.get("/v1/projects/bot/gates/g%00"), "(path)", "NUL")
    _assert_422(api.get("/v1/projects/bot/cases?source=%ff%fe"), "(query)", "not UTF-8")
    _assert_422(api.get(f"/v1/projects/bot/jobs/{'j' * 300}"), "(path)", "over 256")


@pytest.mark.parametrize("route", ["logs", "events/list"])
def test_event_cursor_beyond_64_bits_is_422(api: httpx.Client, route: str) -> None:
    _project(api)
    response = api.get(f"/v1/projects/bot/jobs/job_x/{route}",
                       params={"after": "18446744073709551615"})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "after"


def test_stored_cases_read_back(api: httpx.Client) -> None:
    """What the intake accepts, every read gives back unchanged: the case and the first page."""
    _project(api)
    metadata = {"deep": {"a": {"b": {"c": [1, 2.5, None, True]}}}, "lang": "中文 ✓ 🙂",
                "big": 9223372036854775807, "small": -9223372036854775808}
    created = api.post("/v1/projects/bot/cases", json=[{**CASE, "metadata": metadata}])
    assert created.status_code == 201, created.text
    case_id = created.json()["ids"][0]
    one = api.get(f"/v1/projects/bot/cases/{case_id}")
    assert one.status_code == 200 and one.json()["metadata"] == metadata
    assert one.json()["created_at"].endswith(("Z", "+00:00"))  # UTC, on SQLite too
    page = api.get("/v1/projects/bot/cases")
    assert page.status_code == 200 and page.json()["items"][0]["metadata"] == metadata


def test_concurrent_creates_of_one_name_are_one_201_and_409s(api: httpx.Client) -> None:
    """Check-then-insert races end at the unique constraint: a 409, never a 500."""

    def create(path: str, body: dict) -> int:
        with httpx.Client(base_url=str(api.base_url), headers=dict(api.headers),
                          timeout=60) as client:
            return client.post(path, json=body).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(lambda _: create("/v1/projects", {"name": "race"}), range(20)))
    assert codes.count(201) == 1 and set(codes) <= {201, 409}, codes

    assert api.post("/v1/projects/race/models", json={"name": "m"}).status_code == 201
    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(
            lambda i: create("/v1/projects/race/models/m/versions", {"source": f"s{i}"}),
            range(20),
        ))
    assert 201 in codes and set(codes) <= {201, 409}, codes
    versions = api.get("/v1/projects/race/models/m").json()["versions"]
    assert len(versions) == codes.count(201)
    assert sorted(v["version"] for v in versions) == list(range(1, len(versions) + 1))
