"""Run an eval: solve every example (bounded concurrency), score it, judge it, summarise."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evals.dataset import Example
from evals.judges.agreement import as_pass, human_label_kind, judge_agreement, same_model_warning
from evals.judges.pairwise import PairwiseJudge, PairwiseVerdict, summarize_pairwise
from evals.judges.rubric import RubricJudge, RubricVerdict
from evals.results import ExampleResult, RunResult, summarize
from evals.scorers.base import Scorer
from evals.solver import Solver


@dataclass(frozen=True)
class Progress:
    """Reported after each finished example."""

    done: int
    total: int
    elapsed_s: float
    eta_s: float | None


ProgressCallback = Callable[[Progress], None]


@dataclass
class _Outcome:
    result: ExampleResult
    cached: bool = False
    rubric: RubricVerdict | None = None
    pairwise: PairwiseVerdict | None = None
    scorer_errors: int = 0


async def run_eval(
    *,
    examples: list[Example],
    solver: Solver,
    scorers: list[Scorer],
    rubric_judge: RubricJudge | None = None,
    pairwise_judge: PairwiseJudge | None = None,
    concurrency: int = 4,
    progress: ProgressCallback | None = None,
    run_meta: dict[str, Any] | None = None,
) -> RunResult:
    """Evaluate ``examples``; at most ``concurrency`` examples are in flight at once."""
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    metrics = [s.metric for s in scorers]
    metrics += [j.metric for j in (rubric_judge, pairwise_judge) if j is not None]
    duplicates = [m for m, c in Counter(metrics).items() if c > 1]
    if duplicates:
        raise ValueError(f"two scorers write the same metric {duplicates}; rename one (metric=)")
    semaphore = asyncio.Semaphore(concurrency)
    started = time.monotonic()
    started_at = datetime.now(UTC)
    done = 0

    async def one(example: Example) -> _Outcome:
        nonlocal done
        async with semaphore:
            outcome = await _evaluate(
                example,
                solver=solver,
                scorers=scorers,
                rubric_judge=rubric_judge,
                pairwise_judge=pairwise_judge,
            )
        done += 1
        if progress is not None:
            elapsed = time.monotonic() - started
            eta = elapsed / done * (len(examples) - done)
            progress(Progress(done=done, total=len(examples), elapsed_s=elapsed, eta_s=eta))
        return outcome

    outcomes = await asyncio.gather(*(one(e) for e in examples))
    duration = time.monotonic() - started
    results = [o.result for o in outcomes]
    meta: dict[str, Any] = {
        "model": solver.model_name,
        "scorers": [s.metric for s in scorers],
        # a scorer whose definition changed says so (`version`); the gate compares like with like
        "scorer_versions": {
            s.metric: s.version for s in scorers if isinstance(getattr(s, "version", None), int)
        },
        "n_examples": len(examples),
        "n_errors": sum(r.error is not None for r in results),
        "n_cached": sum(o.cached for o in outcomes),
        "scorer_errors": sum(o.scorer_errors for o in outcomes),
        "concurrency": concurrency,
        "started_at": started_at.isoformat(),
        "duration_s": round(duration, 3),
        "examples_per_s": round(len(examples) / duration, 4) if duration > 0 else None,
        **(run_meta or {}),
    }
    return RunResult(
        run=meta,
        examples=results,
        summary=summarize(results),
        judge=_judge_section(
            examples,
            outcomes,
            rubric_judge=rubric_judge,
            pairwise_judge=pairwise_judge,
            candidate=solver.model_name,
        ),
    )


def run_eval_sync(**kwargs: Any) -> RunResult:
    """`run_eval` for synchronous callers (it starts its own event loop)."""
    return asyncio.run(run_eval(**kwargs))


async def _evaluate(
    example: Example,
    *,
    solver: Solver,
    scorers: list[Scorer],
    rubric_judge: RubricJudge | None,
    pairwise_judge: PairwiseJudge | None,
) -> _Outcome:
    generation = await solver.solve(example)
    result = ExampleResult(id=example.id, output=generation.output, error=generation.error)
    outcome = _Outcome(result=result, cached=generation.cached)
    if generation.output is None:
        return outcome
    output = generation.output
    for scorer in scorers:
        try:
            score = await scorer.score(example, output)
        except Exception as exc:  # one bad input must not sink a long run; it is counted
            outcome.scorer_errors += 1
            result.unscored[scorer.metric] = f"scorer error: {type(exc).__name__}: {exc}"
            continue
        if score.value is None:
            result.unscored[scorer.metric] = score.reason or "unscored"
        else:
            result.scores[scorer.metric] = float(score.value)
    if rubric_judge is not None:
        verdict = await _guarded(rubric_judge.judge(example, output))
        if isinstance(verdict, str):
            result.unscored[rubric_judge.metric] = verdict
        else:
            outcome.rubric = verdict
            result.judge[rubric_judge.metric] = {"score": verdict.score, "reason": verdict.reason}
            if verdict.score is None:
                result.unscored[rubric_judge.metric] = f"unparsed judge verdict: {verdict.reason}"
                result.judge[rubric_judge.metric]["raw"] = verdict.raw
            else:
                result.scores[rubric_judge.metric] = rubric_judge.normalize(verdict.score)
    if pairwise_judge is not None:
        if example.baseline_output is None:
            result.unscored[pairwise_judge.metric] = "example has no baseline_output"
        else:
            pair = await _guarded(pairwise_judge.judge(example, output, example.baseline_output))
            if isinstance(pair, str):
                result.unscored[pairwise_judge.metric] = pair
            else:
                outcome.pairwise = pair
                result.judge[pairwise_judge.metric] = {
                    "candidate_first": pair.candidate_first,
                    "baseline_first": pair.baseline_first,
                    "outcome": pair.outcome,
                    "flipped": pair.flipped,
                    "reasons": list(pair.reasons),
                }
                if pair.outcome is None:
                    result.unscored[pairwise_judge.metric] = "unparsed judge verdict"
                    result.judge[pairwise_judge.metric]["raw"] = list(pair.raw)
                else:
                    result.scores[pairwise_judge.metric] = {"win": 1.0, "tie": 0.5, "loss": 0.0}[
                        pair.outcome
                    ]
    return outcome


async def _guarded(awaitable: Any) -> Any:
    """The judge's verdict, or a string saying why the judge could not be called."""
    try:
        return await awaitable
    except Exception as exc:  # the judge endpoint failing is recorded, not fatal
        return f"judge call failed: {type(exc).__name__}: {exc}"


def _judge_section(
    examples: list[Example],
    outcomes: list[_Outcome],
    *,
    rubric_judge: RubricJudge | None,
    pairwise_judge: PairwiseJudge | None,
    candidate: str | None,
) -> dict[str, Any]:
    section: dict[str, Any] = {"unparsed": 0, "warnings": []}
    judges = [j for j in (rubric_judge, pairwise_judge) if j is not None]
    if not judges:
        return section
    section["model"] = judges[0].client.model_name
    for judge in judges:
        warning = same_model_warning(candidate=candidate, judge=judge.client.model_name)
        if warning and warning not in section["warnings"]:
            section["warnings"].append(warning)
    agreement: dict[str, Any] = {}
    if rubric_judge is not None:
        verdicts = [o.rubric for o in outcomes if o.rubric is not None]
        parsed = [v for v in verdicts if v.parsed]
        unparsed = len(verdicts) - len(parsed)
        section["unparsed"] += unparsed
        section["rubric"] = {
            "metric": rubric_judge.metric,
            "judged": len(verdicts),
            "parsed": len(parsed),
            "unparsed": unparsed,
            "failed_calls": sum(
                rubric_judge.metric in o.result.unscored and o.rubric is None
                for o in outcomes
                if o.result.output is not None
            ),
            "mean_score": sum(v.score for v in parsed if v.score is not None) / len(parsed)
            if parsed
            else None,
            "score_counts": {
                str(k): c for k, c in sorted(Counter(v.score for v in parsed).items())
            },
        }
        agreement.update(_rubric_agreement(examples, outcomes, rubric_judge))
    if pairwise_judge is not None:
        pairs = [o.pairwise for o in outcomes if o.pairwise is not None]
        summary = summarize_pairwise(pairs)
        section["unparsed"] += summary["unparsed"]
        section["pairwise"] = {"metric": pairwise_judge.metric, **summary}
        labelled = [
            (o.pairwise.outcome, str(e.human_label).strip().lower())
            for e, o in zip(examples, outcomes, strict=True)
            if o.pairwise is not None
            and o.pairwise.outcome is not None
            and human_label_kind(e.human_label) == "preference"
        ]
        if labelled:
            agreement["pairwise"] = judge_agreement(
                [j for j, _ in labelled], [h for _, h in labelled], labels="win/tie/loss"
            ).as_dict()
    if agreement:
        section["agreement"] = agreement
    return section


def _rubric_agreement(
    examples: list[Example], outcomes: list[_Outcome], judge: RubricJudge
) -> dict[str, Any]:
    scale: list[tuple[int, int]] = []
    pass_fail: list[tuple[bool, bool]] = []
    for example, outcome in zip(examples, outcomes, strict=True):
        verdict = outcome.rubric
        if verdict is None or verdict.score is None:
            continue
        kind = human_label_kind(example.human_label)
        if kind == "scale":
            scale.append((verdict.score, int(example.human_label)))  # type: ignore[arg-type]
        elif kind == "pass_fail":
            pass_fail.append((verdict.score >= judge.pass_threshold, as_pass(example.human_label)))
    found: dict[str, Any] = {}
    if scale:
        found["rubric_scale"] = judge_agreement(
            [j for j, _ in scale], [h for _, h in scale], ordinal=True, labels="1-5 grade"
        ).as_dict()
    if pass_fail:
        found["rubric_pass_fail"] = judge_agreement(
            [j for j, _ in pass_fail],
            [h for _, h in pass_fail],
            labels=f"pass = grade >= {judge.pass_threshold}",
        ).as_dict()
    return found
