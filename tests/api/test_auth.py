"""Every API call needs a live key of the team that owns the resource."""

from __future__ import annotations

import httpx

from app.db import session_scope
from app.teams import service as teams

CASE = {"input": "what is the refund window?", "output": "14 days", "expected": "30 days"}


def test_no_key_is_401(live_server) -> None:
    response = httpx.get(f"{live_server.url}/v1/projects")
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_unknown_key_is_401(live_server) -> None:
    response = httpx.get(
        f"{live_server.url}/v1/projects", headers={"Authorization": "Bearer rk_nope"}
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "unknown API key"


def test_revoked_key_is_401_and_other_keys_still_work(live_server, settings, make_team) -> None:
    name, key = make_team()
    with session_scope(settings.resolved_database_url) as session:
        team = teams.get_team(session, name=name)
        second, second_key = teams.create_key(session, team=team, name="ci")
        second_id = second.id
    headers = {"Authorization": f"Bearer {second_key}"}
    assert httpx.get(f"{live_server.url}/v1/projects", headers=headers).status_code == 200
    with session_scope(settings.resolved_database_url) as session:
        teams.revoke_key(session, team=teams.get_team(session, name=name), key_id=second_id)
    response = httpx.get(f"{live_server.url}/v1/projects", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    first = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{live_server.url}/v1/projects", headers=first).status_code == 200


def test_keys_are_stored_hashed(settings, make_team) -> None:
    name, key = make_team()
    with session_scope(settings.resolved_database_url) as session:
        stored = teams.list_keys(session, team=teams.get_team(session, name=name))
        assert [k.key_hash for k in stored] == [teams.hash_key(key)]
        assert all(key not in (k.key_hash, k.prefix) for k in stored)


def test_cross_team_reads_are_404(live_server, make_team) -> None:
    _, key_a = make_team()
    _, key_b = make_team()
    a = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {key_a}"})
    b = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {key_b}"})
    assert a.post("/v1/projects", json={"name": "bot"}).status_code == 201
    case_id = a.post("/v1/projects/bot/cases", json=[CASE]).json()["ids"][0]
    # team B cannot see A's project or case, and learns nothing about their existence
    assert b.get("/v1/projects/bot").status_code == 404
    assert b.get(f"/v1/projects/bot/cases/{case_id}").status_code == 404
    assert b.get("/v1/projects/bot/cases").status_code == 404
    assert b.delete(f"/v1/projects/bot/cases/{case_id}").status_code == 404
    assert b.get("/v1/projects").json() == []
    # even with a project of the same name, B does not reach A's case
    assert b.post("/v1/projects", json={"name": "bot"}).status_code == 201
    assert b.get(f"/v1/projects/bot/cases/{case_id}").status_code == 404
    assert b.get("/v1/projects/bot/cases").json()["items"] == []
    assert a.get(f"/v1/projects/bot/cases/{case_id}").status_code == 200
