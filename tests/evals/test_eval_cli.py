"""`rung eval gate` and `rung eval run`: exit codes, JUnit and Markdown outputs."""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from eval_helpers import make_run
from typer.testing import CliRunner

from app.evaluation.cli import eval_app
from evals.results import read_run, write_run

runner = CliRunner()


def _runs(tmp_path: Path, *, drop: float, n: int = 60) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    base_sim = rng.uniform(0.2, 0.9, size=n)
    base_em = (rng.uniform(size=n) < 0.5).astype(float)
    cand_sim = np.clip(base_sim - drop, 0, 1)
    # the candidate fixes 15 of the baseline's failures on the 0/1 metric when it improves
    cand_em = base_em.copy()
    if drop < 0:
        cand_em[np.flatnonzero(base_em == 0)[:15]] = 1.0
    base = make_run({"rouge_l": base_sim, "exact_match": base_em}, name="base-model")
    cand = make_run({"rouge_l": cand_sim, "exact_match": cand_em}, name="lora-v2")
    return write_run(base, tmp_path / "base.json"), write_run(cand, tmp_path / "cand.json")


def test_gate_pass_exit_0_with_junit_and_markdown(tmp_path: Path) -> None:
    base, cand = _runs(tmp_path, drop=-0.05)  # an improvement
    junit, md, js = tmp_path / "gate.xml", tmp_path / "gate.md", tmp_path / "gate.json"
    result = runner.invoke(
        eval_app,
        [
            "gate",
            "--baseline",
            str(base),
            "--candidate",
            str(cand),
            "--junit",
            str(junit),
            "--markdown",
            str(md),
            "--json",
            str(js),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "GATE PASS" in result.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"rouge_l", "exact_match"}
    assert suite.get("failures") == "0"
    assert all(c.find("failure") is None for c in cases.values())
    text = md.read_text()
    assert "Eval gate: **PASS**" in text and "`rouge_l`" in text and "lora-v2" in text
    assert "with 60 examples this gate cannot see a drop under" in text
    assert "built-in default policy" in text  # the report says which policy it used
    decisions = json.loads(js.read_text())["decisions"]
    assert {d["metric"] for d in decisions} == {"rouge_l", "exact_match"}


def test_gate_regression_exit_1_and_junit_failure(tmp_path: Path) -> None:
    base, cand = _runs(tmp_path, drop=0.1)
    junit, md = tmp_path / "gate.xml", tmp_path / "gate.md"
    result = runner.invoke(
        eval_app,
        [
            "gate",
            "--baseline",
            str(base),
            "--candidate",
            str(cand),
            "--junit",
            str(junit),
            "--markdown",
            str(md),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "GATE FAIL" in result.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    kinds = {
        c.get("name"): f.get("type")
        for c in suite.findall("testcase")
        if (f := c.find("failure")) is not None
    }
    # rouge_l regressed; an unchanged 0/1 metric on 60 examples cannot rule out a 0.01 drop
    assert kinds == {"rouge_l": "regression", "exact_match": "undecided"}
    assert suite.get("failures") == "2"
    failure = next(c for c in suite.findall("testcase") if c.get("name") == "rouge_l")
    assert "n=60" in (failure.find("failure").text or "")  # type: ignore[union-attr]
    assert "**FAIL**" in md.read_text()


def test_gate_undecided_exits_3_and_fails_under_a_strict_policy(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    base = rng.uniform(0.2, 0.8, size=10)
    cand = np.clip(base + 0.1 + rng.normal(0, 0.02, size=10), 0, 1)  # better, on 10 examples
    b = write_run(make_run({"m": base}, name="b"), tmp_path / "b.json")
    c = write_run(make_run({"m": cand}, name="c"), tmp_path / "c.json")
    lenient = runner.invoke(eval_app, ["gate", "--baseline", str(b), "--candidate", str(c)])
    assert lenient.exit_code == 3, lenient.output
    assert "GATE UNDECIDED" in lenient.output and "too few examples" in lenient.output
    policy = tmp_path / "strict.json"
    policy.write_text('{"defaults": {"on_undecided": "fail"}}')
    strict = runner.invoke(
        eval_app, ["gate", "--baseline", str(b), "--candidate", str(c), "--policy", str(policy)]
    )
    assert strict.exit_code == 1, strict.output
    assert f"file {policy}" in strict.output


def test_gate_usage_errors_exit_2(tmp_path: Path) -> None:
    base, _ = _runs(tmp_path, drop=0.0)
    missing = runner.invoke(
        eval_app, ["gate", "--baseline", str(base), "--candidate", str(tmp_path / "nope.json")]
    )
    assert missing.exit_code == 2
    assert "not found" in missing.output

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    bad_json = runner.invoke(eval_app, ["gate", "--baseline", str(base), "--candidate", str(bad)])
    assert bad_json.exit_code == 2
    assert "not valid JSON" in bad_json.output

    other = write_run(make_run({"rouge_l": [0.5]}, name="o", ids=["zzz"]), tmp_path / "other.json")
    disjoint = runner.invoke(eval_app, ["gate", "--baseline", str(base), "--candidate", str(other)])
    assert disjoint.exit_code == 2
    assert "share no example ids" in disjoint.output

    bad_policy = tmp_path / "policy.yaml"
    bad_policy.write_text("defaults: {margin: -1}\n")
    policy_err = runner.invoke(
        eval_app,
        ["gate", "--baseline", str(base), "--candidate", str(base), "--policy", str(bad_policy)],
    )
    assert policy_err.exit_code == 2


def _dataset(path: Path) -> Path:
    rows = [
        {"id": "q1", "input": "Capital of France?", "expected": "Paris", "output": "Paris"},
        {"input": "2+2?", "expected": "4", "output": "four"},
        {
            "id": "q3",
            "input": "Reply in JSON",
            "expected": '{"ok": true}',
            "output": '{"ok": true}',
        },
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_run_scores_existing_outputs_and_writes_the_result_file(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "holdout.jsonl")
    out = tmp_path / "run.json"
    result = runner.invoke(
        eval_app,
        [
            "run",
            "--dataset",
            str(data),
            "--scorer",
            "exact_match",
            "--scorer",
            "json_valid",
            "--scorer",
            'regex:{"pattern": "^[A-Z]", "metric": "capitalised"}',
            "--name",
            "precomputed",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    run = read_run(out)
    by_id = {e.id: e for e in run.examples}
    assert by_id["q1"].scores == {"exact_match": 1.0, "json_valid": 0.0, "capitalised": 1.0}
    assert by_id["q3"].scores["json_valid"] == 1.0
    second = next(e for e in run.examples if e.id not in {"q1", "q3"})
    assert len(second.id) == 16  # a sha256-derived id
    assert second.scores["exact_match"] == 0.0
    assert run.summary["exact_match"].n == 3
    assert run.summary["exact_match"].mean == (1 + 0 + 1) / 3
    assert run.run["name"] == "precomputed"


def test_run_usage_errors_exit_2(tmp_path: Path) -> None:
    missing = runner.invoke(
        eval_app, ["run", "--dataset", str(tmp_path / "no.jsonl"), "--scorer", "exact_match"]
    )
    assert missing.exit_code == 2 and "not found" in missing.output

    data = _dataset(tmp_path / "d.jsonl")
    unknown = runner.invoke(eval_app, ["run", "--dataset", str(data), "--scorer", "bogus"])
    assert unknown.exit_code == 2 and "unknown scorer" in unknown.output

    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = runner.invoke(
        eval_app,
        [
            "run",
            "--dataset",
            str(data),
            "--scorer",
            "exact_match",
            "--endpoint",
            f"http://127.0.0.1:{port}/v1",
            "--model",
            "m",
        ],
    )
    assert down.exit_code == 2 and "cannot reach" in down.output
