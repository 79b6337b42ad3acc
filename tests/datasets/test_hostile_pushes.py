"""Dataset pushes with hostile content, names or model paths, over real HTTP on both backends:
a 422 naming the line or field, a download that works whatever the name, and no way to tell
whether a server path exists."""

from __future__ import annotations

import json
from urllib.parse import unquote

import httpx
import pytest

ROWS = [{"prompt": f"Is order {i} shipped?", "completion": f"Yes, order {i} shipped."}
        for i in range(12)]


def _push(api: httpx.Client, body: bytes, **params: str) -> httpx.Response:
    api.post("/v1/projects", json={"name": "bot"})
    return api.post("/v1/projects/bot/datasets", content=body,
                    params={"filename": "d.jsonl", **params},
                    headers={"content-type": "application/x-ndjson"})


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (b'{"prompt": "a\\ud800", "completion": "b"}', "lone surrogate"),
        (b'{"prompt": "a\\u0000", "completion": "b"}', "NUL"),
        (b'{"prompt": "a", "completion": "b", "n": NaN}', "NaN"),
        (b'{"prompt": "a", "completion": "b", "n": ' + b"9" * 5000 + b"}", "out of range"),
        (b'{"prompt": "a", "completion": "b", "x": ' + b"[" * 3000 + b"]" * 3000 + b"}",
         "nested deeper"),
    ],
    ids=["lone-surrogate", "nul", "nan", "huge-int", "deep"],
)
def test_a_bad_line_is_a_422_naming_it(api: httpx.Client, line: bytes, words: str) -> None:
    response = _push(api, _jsonl(ROWS[:5]) + line + b"\n" + _jsonl(ROWS[5:]))
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(e.get("line") == 6 and words in e["message"] for e in errors), errors


@pytest.mark.parametrize("name", ["中文", "a\r\nX-Injected: 1", 'quo"te;x', "ǅ/../x"])
def test_any_dataset_name_downloads(api: httpx.Client, name: str) -> None:
    pushed = _push(api, _jsonl(ROWS), name=name)
    assert pushed.status_code == 201, pushed.text
    sha = pushed.json()["version"]["sha256"]
    rows = api.get(f"/v1/projects/bot/datasets/{sha}/rows")
    assert rows.status_code == 200
    assert len(rows.text.splitlines()) == len(ROWS)
    disposition = rows.headers["content-disposition"]
    assert "x-injected" not in {k.lower() for k in rows.headers}
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == f"{name}.jsonl"


def test_model_paths_cannot_probe_the_server(api: httpx.Client) -> None:
    answers = set()
    for path in ("/etc", "/nonexistent-xyz", "../../etc", "~root"):
        pushed = _push(api, _jsonl(ROWS), base_model=path)
        assert pushed.status_code == 422, pushed.text
        assert pushed.json()["errors"][0]["field"] == "base_model"
        answers.add(pushed.text)
        project = api.post("/v1/projects", json={"name": "other", "base_model": path})
        assert project.status_code == 422, project.text
        answers.add(project.text)
    assert len(answers) == 1, answers
    # hub-like names that are folders of the server's working directory: read as hub names
    methods = set()
    for name in ("app", "tests/datasets", "no-such-dir", "org/no-such-model"):
        pushed = _push(api, _jsonl(ROWS), base_model=name)
        assert pushed.status_code in (200, 201), pushed.text
        method = pushed.json()["report"]["stats"]["tokens"]["method"]
        methods.add(method.replace(name, "NAME").split(":")[0])
    assert len(methods) == 1, methods
    assert _push(api, _jsonl(ROWS), base_model="HuggingFaceTB/SmolLM2-135M-Instruct"
                 ).status_code in (200, 201)
