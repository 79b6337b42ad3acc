"""The run result file: what one eval run produced, scored example by example.

Format (JSON)::

    {"run": {...meta: dataset, model, endpoint, scorers, started_at, ...},
     "examples": [{"id": "...", "scores": {"exact_match": 1.0, "rouge_l": 0.42},
                   "output": "...", "error": null, "unscored": {"rubric": "why"},
                   "judge": {...verdicts and reasons...}}],
     "summary": {"exact_match": {"n": 40, "mean": 0.7, "std": 0.46, "min": 0.0, "max": 1.0}},
     "judge": {"unparsed": 0, ...}}

Scores are finite numbers (pass/fail scorers give 0 or 1); an example that could not be scored
on a metric simply lacks that key in ``scores`` (and says why in ``unscored``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evals.errors import ResultsFileError


class ExampleResult(BaseModel):
    """One example's output and scores."""

    model_config = ConfigDict(extra="allow")

    id: str
    scores: dict[str, float] = Field(default_factory=dict)
    output: str | None = None
    error: str | None = None
    unscored: dict[str, str] = Field(default_factory=dict)
    judge: dict[str, Any] = Field(default_factory=dict)

    @field_validator("scores")
    @classmethod
    def _finite(cls, value: dict[str, float]) -> dict[str, float]:
        for metric, score in value.items():
            if not math.isfinite(score):
                raise ValueError(f"score {metric!r} is {score}; scores must be finite numbers")
        return value


class MetricSummary(BaseModel):
    """Aggregate of one metric over the scored examples."""

    n: int
    mean: float
    std: float
    min: float
    max: float


class RunResult(BaseModel):
    """A whole run."""

    model_config = ConfigDict(extra="allow")

    run: dict[str, Any] = Field(default_factory=dict)
    examples: list[ExampleResult]
    summary: dict[str, MetricSummary] = Field(default_factory=dict)
    judge: dict[str, Any] = Field(default_factory=dict)

    def metrics(self) -> list[str]:
        """Every metric scored on at least one example, sorted."""
        return sorted({m for example in self.examples for m in example.scores})

    def scores_by_id(self, metric: str) -> dict[str, float]:
        """``{example id: score}`` for the examples scored on ``metric``."""
        return {e.id: e.scores[metric] for e in self.examples if metric in e.scores}


def summarize(examples: list[ExampleResult]) -> dict[str, MetricSummary]:
    """Per-metric n/mean/std/min/max over the examples that carry the metric."""
    values: dict[str, list[float]] = {}
    for example in examples:
        for metric, score in example.scores.items():
            values.setdefault(metric, []).append(score)
    summary: dict[str, MetricSummary] = {}
    for metric in sorted(values):
        array = np.asarray(values[metric], dtype=float)
        summary[metric] = MetricSummary(
            n=int(array.size),
            mean=float(array.mean()),
            std=float(array.std(ddof=1)) if array.size > 1 else 0.0,
            min=float(array.min()),
            max=float(array.max()),
        )
    return summary


def write_run(result: RunResult, path: str | Path) -> Path:
    """Write a run result as indented JSON; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path


def read_run(path: str | Path) -> RunResult:
    """Read a run result file. Raises ResultsFileError saying what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise ResultsFileError(
            f"run result file not found: {path} (write one with `rung eval run --out FILE`)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ResultsFileError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    except UnicodeDecodeError as exc:
        raise ResultsFileError(f"{path} is not UTF-8 text") from exc
    if not isinstance(data, dict) or "examples" not in data:
        raise ResultsFileError(
            f"{path} is not a run result: expected an object with an 'examples' list"
        )
    try:
        result = RunResult.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ResultsFileError(f"{path}: invalid run result at {where}: {first['msg']}") from exc
    ids = [e.id for e in result.examples]
    if len(ids) != len(set(ids)):
        raise ResultsFileError(f"{path}: example ids must be unique within a run")
    return result
