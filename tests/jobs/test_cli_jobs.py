"""`rung datasets push` and `rung jobs run --wait` as a user runs them: subprocesses against the
live server with its in-process worker (SQLite only: the API tests cover PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RUNG = [sys.executable, "-m", "app.cli"]


@pytest.fixture
def empty_db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rung.db'}"


def rung(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RUNG, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env, "COLUMNS": "200"})


def test_push_run_wait_and_inspect(live_server, make_team, tmp_path: Path,  # type: ignore[no-untyped-def]
                                   tiny_model: Path) -> None:
    _, key = make_team()
    env = {"RUNG_URL": live_server.url, "RUNG_API_KEY": key, "HF_HUB_OFFLINE": "1"}
    rows = [{"messages": [{"role": "user", "content": f"Track parcel {i}"},
                          {"role": "assistant", "content": f"Parcel {i} arrives Monday."}]}
            for i in range(20)]
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    import httpx

    httpx.post(f"{live_server.url}/v1/projects", json={"name": "bot"},
               headers={"Authorization": f"Bearer {key}"}).raise_for_status()

    pushed = rung(["datasets", "push", "bot", str(data)], env)
    assert pushed.returncode == 0, pushed.stderr
    assert "Stored new version" in pushed.stdout and "few_rows" in pushed.stdout
    again = rung(["datasets", "push", "bot", str(data)], env)
    assert "Already stored" in again.stdout
    sha = pushed.stdout.split("version")[1].split()[0]
    assert len(sha) == 64

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(rows[0]) + "\n{oops\n")
    refused = rung(["datasets", "push", "bot", str(bad)], env)
    assert refused.returncode == 1 and "line=2" in refused.stderr

    ran = rung(["jobs", "run", "bot", "--recipe", "lora_sft", "--dataset", sha[:12],
                "--base-model", str(tiny_model), "--set", "max_steps=4", "--set", "lora_r=4",
                "--set", "logging_steps=1", "--wait"], env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Succeeded" in ran.stdout and "loss" in ran.stdout
    job_id = ran.stdout.split("Job ")[1].split()[0]

    # a server path outside RUNG_MODELS_ALLOW is refused before anything is queued (issue 16)
    refused_path = rung(["jobs", "run", "bot", "--recipe", "lora_sft", "--dataset", sha[:12],
                         "--base-model", "/nonexistent/model", "--wait"], env)
    assert refused_path.returncode == 1
    assert "inside RUNG_MODELS_ALLOW" in refused_path.stderr

    unknown = rung(["jobs", "run", "bot", "--recipe", "lora_sft", "--dataset", sha[:12],
                    "--set", "lora_rank=8"], env)
    assert unknown.returncode == 1 and "lora_rank" in unknown.stderr

    listed = rung(["jobs", "list", "bot"], env)
    assert job_id in listed.stdout and "succeeded" in listed.stdout
    assert listed.stdout.count("lora_sft") == 1  # the refused run queued nothing
    logs = rung(["jobs", "logs", "bot", job_id], env)
    assert "[state] succeeded" in logs.stdout
    arts = rung(["jobs", "artifacts", "bot", job_id], env)
    assert "adapter" in arts.stdout
    shown = json.loads(rung(["jobs", "show", "bot", job_id], env).stdout)
    assert shown["state"] == "succeeded"
