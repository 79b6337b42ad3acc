"""The `rung` console script, run as a user would: a subprocess against the live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

RUNG = [sys.executable, "-m", "app.cli"]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUNG, *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=120
    )


def test_help_teaches(settings) -> None:
    out = run(["--help"], {})
    assert out.returncode == 0
    for command in ("serve", "db", "teams", "cases"):
        assert command in out.stdout
    assert "Example: rung cases import" in run(["cases", "import", "--help"], {}).stdout


def test_teams_keys_and_import(live_server, settings, tmp_path: Path) -> None:
    env = {"RUNG_DATABASE_URL": settings.resolved_database_url, "RUNG_HOME": str(tmp_path)}
    created = run(["teams", "create", "cli-team", "--quiet"], env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("rk_")
    again = run(["teams", "create", "cli-team"], env)
    assert again.returncode == 1
    assert "already exists" in again.stderr
    listed = run(["teams", "keys", "list", "cli-team"], env)
    assert key[:10] in listed.stdout and key not in listed.stdout

    lines = [
        {"input": f"question {i}", "output": "wrong", "expected": "right"} for i in range(1203)
    ]
    lines[7] = {"case": lines[7], "label": {"category": "knowledge",
                                            "subcategory": "stale_knowledge", "fix": "rag"}}
    cases_file = tmp_path / "cases.jsonl"
    cases_file.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    env |= {"RUNG_URL": live_server.url, "RUNG_API_KEY": key}
    imported = run(["cases", "import", "shop-bot", str(cases_file), "--batch", "500"], env)
    assert imported.returncode == 0, imported.stderr
    assert "Imported 1203 cases into shop-bot" in imported.stdout

    client = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {key}"})
    total, cursor = 0, None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/projects/shop-bot/cases", params=params).json()
        total += len(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert total == 1203

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": "ok", "output": "fine"}\n{"output": "no input"}\n')
    failed = run(["cases", "import", "shop-bot", str(bad)], env)
    assert failed.returncode == 1
    assert "line=2" in failed.stderr and "input" in failed.stderr

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"input": "ok", "output": "fine"}\n{not json\n')
    failed = run(["cases", "import", "shop-bot", str(broken)], env)
    assert failed.returncode == 2
    assert "broken.jsonl:2" in failed.stderr


def test_revoke_from_cli(live_server, settings, tmp_path: Path) -> None:
    from app.db import session_scope
    from app.teams import service as teams

    env = {"RUNG_DATABASE_URL": settings.resolved_database_url, "RUNG_HOME": str(tmp_path)}
    key = run(["teams", "create", "rev-team", "-q"], env).stdout.strip()
    with session_scope(settings.resolved_database_url) as session:
        key_id = teams.list_keys(session, team=teams.get_team(session, name="rev-team"))[0].id
    revoked = run(["teams", "keys", "revoke", "rev-team", key_id], env)
    assert revoked.returncode == 0, revoked.stderr
    response = httpx.get(
        f"{live_server.url}/v1/projects", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 401


def test_db_current_and_serve_refuse_a_schema_behind(empty_db_url, tmp_path: Path) -> None:
    env = {"RUNG_DATABASE_URL": empty_db_url, "RUNG_HOME": str(tmp_path)}
    current = run(["db", "current"], env)
    assert current.returncode == 1
    assert "rung db upgrade" in " ".join(current.stdout.split())  # rich wraps long paths
    serve = run(["serve", "--port", "1"], env)
    assert serve.returncode == 2
    assert "rung db upgrade" in " ".join(serve.stderr.split())
    upgraded = run(["db", "upgrade"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert run(["db", "current"], env).returncode == 0
