"""Builders shared by the eval tests (imported by module name from this folder)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evals.results import ExampleResult, RunResult, summarize


def make_run(
    scores: Mapping[str, Sequence[float]], *, name: str, ids: Sequence[str] | None = None
) -> RunResult:
    """A run with one example per position of the score lists."""
    n = len(next(iter(scores.values())))
    ids = list(ids) if ids is not None else [f"ex-{i:03d}" for i in range(n)]
    examples = [
        ExampleResult(id=ids[i], scores={m: float(v[i]) for m, v in scores.items()}, output="")
        for i in range(n)
    ]
    return RunResult(run={"name": name}, examples=examples, summary=summarize(examples))
