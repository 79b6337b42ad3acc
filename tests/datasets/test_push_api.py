"""Pushing datasets over HTTP (SQLite and PostgreSQL): streaming bodies, multipart with a
holdout, idempotent versions, validation reports by line."""

from __future__ import annotations

import json
from typing import Any

import httpx

NDJSON = {"Content-Type": "application/x-ndjson"}


def jsonl(rows: list[Any]) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def chat(i: int) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": f"Where is parcel {i}?"},
                         {"role": "assistant", "content": f"Parcel {i} is at the depot."}]}


def make_project(api: httpx.Client) -> str:
    api.post("/v1/projects", json={"name": "bot"}).raise_for_status()
    return "/v1/projects/bot/datasets"


def test_push_is_streamed_stored_and_idempotent(api: httpx.Client) -> None:
    path = make_project(api)
    body = jsonl([chat(i) for i in range(30)])

    def chunks() -> Any:  # a streamed request body (chunked transfer encoding)
        for start in range(0, len(body), 100):
            yield body[start:start + 100]

    first = api.post(path, content=chunks(), params={"filename": "parcels.jsonl"},
                     headers=NDJSON)
    assert first.status_code == 201, first.text
    version = first.json()["version"]
    assert version["name"] == "parcels" and version["source_filename"] == "parcels.jsonl"
    assert version["rows_train"] + version["rows_holdout"] == 30
    assert version["kind"] == "sft" and version["format"] == "conversational"

    as_pairs = jsonl([{"prompt": f"Where is parcel {i}?",
                       "completion": f"Parcel {i} is at the depot."} for i in range(30)])
    again = api.post(path, content=as_pairs, params={"filename": "other.jsonl"}, headers=NDJSON)
    assert again.status_code == 200, "the same normalised content is the same version"
    assert again.json()["version"]["sha256"] == version["sha256"]
    assert again.json()["created"] is False

    listed = api.get(path).json()
    assert [v["sha256"] for v in listed] == [version["sha256"]]
    shown = api.get(f"{path}/{version['sha256'][:10]}").json()
    assert shown["report"]["ok"] is True
    rows = [json.loads(line) for line in api.get(f"{path}/{version['sha256']}/rows").text.split(
        "\n") if line]
    assert {r["split"] for r in rows} <= {"train", "holdout"} and len(rows) == 30


def test_validation_errors_block_with_line_numbers(api: httpx.Client) -> None:
    path = make_project(api)
    body = jsonl([chat(0), "{broken", {"prompt": "a", "completion": "b"}, chat(1)])
    response = api.post(path, content=body, params={"filename": "bad.jsonl"}, headers=NDJSON)
    assert response.status_code == 422
    errors = {(e["check"], e["line"]) for e in response.json()["errors"]}
    assert errors == {("unparseable", 2), ("mixed_formats", 3)}
    assert response.json()["report"]["counts"]["errors"] == {"mixed_formats": 1, "unparseable": 1}
    assert api.get(path).json() == [], "nothing stored"



def test_a_file_with_no_valid_row_is_a_422_not_a_crash(api: httpx.Client) -> None:
    path = make_project(api)
    for body in (b"not json\n", b"not json\n{broken\n", jsonl(["[1, 2]"])):
        response = api.post(path, content=body, params={"filename": "junk.jsonl"}, headers=NDJSON)
        assert response.status_code == 422, response.text
        assert 1 in {e["line"] for e in response.json()["errors"]}, response.text
    assert api.get(path).json() == [], "nothing stored"


def test_multipart_with_holdout_and_parent(api: httpx.Client) -> None:
    path = make_project(api)
    train = jsonl([chat(i) for i in range(20)])
    parent = api.post(path, content=train, params={"filename": "v1.jsonl"}, headers=NDJSON)
    assert parent.status_code == 201
    holdout = jsonl([chat(100), chat(101), chat(3)])
    leaked = api.post(path, files={"file": ("train.jsonl", train),
                                   "holdout": ("eval.jsonl", holdout)})
    assert leaked.status_code == 422
    assert [(e["check"], e["file"], e["line"]) for e in leaked.json()["errors"]] == [
        ("holdout_leakage", "train.jsonl", 4)
    ]
    ok = api.post(path, files={"file": ("train.jsonl", train),
                               "holdout": ("eval.jsonl", jsonl([chat(100), chat(101)]))},
                  params={"parent": parent.json()["version"]["sha256"][:12]})
    assert ok.status_code == 201, ok.text
    version = ok.json()["version"]
    assert (version["split"], version["rows_train"], version["rows_holdout"]) == ("file", 20, 2)
    assert version["holdout_filename"] == "eval.jsonl"
    assert version["parent_sha256"] == parent.json()["version"]["sha256"]


def test_text_document_and_unknown_parent(api: httpx.Client) -> None:
    path = make_project(api)
    doc = api.post(path, content=b"# Returns\nItems can be returned for 30 days.\n",
                   params={"filename": "returns.md"}, headers={"Content-Type": "text/plain"})
    assert doc.status_code == 201, doc.text
    assert doc.json()["version"]["kind"] == "documents"
    missing = api.post(path, content=jsonl([chat(i) for i in range(5)]),
                       params={"filename": "x.jsonl", "parent": "deadbeefdeadbeef"},
                       headers=NDJSON)
    assert missing.status_code == 404
