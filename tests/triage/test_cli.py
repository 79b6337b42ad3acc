"""`rung triage` through typer's runner: JSON order, scoring, bad lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.triage.cli import cli
from app.triage.engine import TriageEngine
from app.triage.ladder import category_of, fix_for
from tests.triage.test_signals import CASES

runner = CliRunner()


def _labelled(name: str) -> dict[str, object]:
    case = CASES[name]
    return {
        "case": case.model_dump(exclude_none=True),
        "label": {
            "category": category_of(name),
            "subcategory": name,
            "fix": fix_for(subcategory=name, attempted=case.attempted),
        },
    }


@pytest.fixture()
def labelled_file(tmp_path: Path) -> Path:
    path = tmp_path / "cases.jsonl"
    lines = [json.dumps(_labelled(name)) for name in CASES]
    path.write_text("\n".join(lines) + "\n\n")  # a trailing blank line is fine
    return path


def test_json_output_keeps_input_order(
    labelled_file: Path, engine: TriageEngine, tmp_path: Path
) -> None:
    out = tmp_path / "out.json"
    result = runner.invoke(
        cli, ["triage", str(labelled_file), "--format", "json", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    rows = payload["results"]
    assert [r["index"] for r in rows] == list(range(len(CASES)))
    assert [r["subcategory"] for r in rows] == list(CASES)
    assert set(rows[0]) == {
        "index",
        "category",
        "subcategory",
        "fix",
        "confidence",
        "evidence",
        "needs_review",
    }
    assert "recommendation" in payload
    assert payload["engine_version"] == engine.version
    assert json.loads(out.read_text())["results"] == rows


def test_bare_cases_are_accepted(tmp_path: Path, engine: TriageEngine) -> None:
    del engine
    path = tmp_path / "bare.jsonl"
    path.write_text(CASES["style"].model_dump_json() + "\n")
    result = runner.invoke(cli, ["triage", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["results"][0]["subcategory"] == "style"


def test_score_prints_figures(labelled_file: Path, engine: TriageEngine) -> None:
    del engine
    result = runner.invoke(cli, ["triage", str(labelled_file), "--score"])
    assert result.exit_code == 0, result.output
    for text in (
        "category accuracy",
        "subcategory macro-F1",
        "fix accuracy",
        "Per subcategory",
        "Confusion matrix",
        "flagged needs_review",
        "not flagged",
    ):
        assert text in result.output
    scored = runner.invoke(cli, ["triage", str(labelled_file), "--score", "--format", "json"])
    score = json.loads(scored.output)["score"]
    assert score["n"] == len(CASES)
    assert score["category_accuracy"] == 1.0
    assert sum(map(sum, score["confusion"])) == len(CASES)


def test_bad_line_names_the_line_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(CASES["style"].model_dump_json() + "\n" + '{"input": "x", "output": \n')
    result = runner.invoke(cli, ["triage", str(path)])
    assert result.exit_code == 2
    assert f"{path}:2" in result.output and "not valid JSON" in result.output
    path.write_text('{"input": "", "output": "y"}\n')
    result = runner.invoke(cli, ["triage", str(path)])
    assert result.exit_code == 2 and ":1:" in result.output and "input" in result.output


def test_score_without_labels_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bare.jsonl"
    path.write_text(CASES["style"].model_dump_json() + "\n")
    result = runner.invoke(cli, ["triage", str(path), "--score"])
    assert result.exit_code == 2 and "needs a label" in result.output
