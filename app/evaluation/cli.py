"""`rung eval`: run an eval against an OpenAI-compatible endpoint, and gate a candidate run.

Exit codes of `rung eval gate`: 0 pass, 1 regression (or undecided under a policy with
on_undecided: fail), 2 usage or infrastructure error (missing file, bad JSON, unreachable
endpoint, no shared example ids), 3 undecided (too few examples, an interval that straddles the
margin, an unreliable judge): not a pass, so CI that wants a decision treats it as a failure.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

from evals.errors import EvalError
from evals.results import RunResult, read_run, write_run

if TYPE_CHECKING:  # the heavy parts (langchain, scipy, sklearn) load only when a command runs
    from evals.chat import ChatClient
    from evals.judges.pairwise import PairwiseJudge
    from evals.judges.rubric import RubricJudge
    from evals.runner import Progress
    from evals.solver import Solver

eval_app = typer.Typer(
    help="Evaluate candidates on a holdout set and gate promotion on paired statistics.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

RunResolver = Callable[[str], RunResult]
"""Turns a RUN argument of `rung eval gate` into a RunResult; raises EvalError if it cannot."""


def resolve_run_file(ref: str) -> RunResult:
    """The default resolver: RUN is the path of a result file written by `rung eval run`."""
    result = read_run(ref)
    result.run.setdefault("path", ref)
    return result


_resolver: RunResolver = resolve_run_file


def set_run_resolver(resolver: RunResolver) -> None:
    """Swap how `rung eval gate` finds runs (e.g. run ids in the database, else file paths)."""
    global _resolver
    _resolver = resolver


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/] {message}")
    return typer.Exit(code)


def _check_endpoint(endpoint: str, api_key: str, what: str) -> None:
    """Fail fast (exit 2) when nothing listens at the endpoint."""
    try:
        httpx.get(
            endpoint.rstrip("/") + "/models",
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=10.0,
        )
    except httpx.TransportError as exc:
        raise _fail(f"cannot reach the {what} endpoint {endpoint}: {exc}") from exc


@eval_app.command("run")
def run_command(
    dataset: Path = typer.Option(..., "--dataset", "-d", help="holdout JSONL, one example a line"),
    scorer: list[str] = typer.Option(
        [],
        "--scorer",
        "-s",
        help="scorer name, optionally with parameters: 'regex:pattern=^\\d+$' or "
        "'length:{\"max_words\": 50}'; repeat for several",
    ),
    endpoint: str | None = typer.Option(
        None, help="OpenAI-compatible base URL (…/v1); omit to score the dataset's `output`s"
    ),
    model: str | None = typer.Option(None, help="model name at the endpoint"),
    api_key: str = typer.Option(
        "EMPTY", envvar="OPENAI_API_KEY", help="API key for the endpoint", show_default=False
    ),
    judge_endpoint: str | None = typer.Option(None, help="OpenAI-compatible URL of the judge"),
    judge_model: str | None = typer.Option(None, help="judge model name (enables judges)"),
    judge_api_key: str | None = typer.Option(
        None, envvar="RUNG_JUDGE_API_KEY", help="judge API key (default: --api-key)"
    ),
    judge: list[str] = typer.Option(
        [], "--judge", help="judges to run: rubric, pairwise (default rubric with a judge model)"
    ),
    criterion: list[str] = typer.Option(
        [], "--criterion", help="rubric criterion (repeat); default: correct, follows, grounded"
    ),
    judge_max_tokens: int = typer.Option(256, min=16, help="max_tokens of each judge reply"),
    concurrency: int = typer.Option(4, min=1, max=256, help="examples in flight at once"),
    temperature: float = typer.Option(0.0, min=0.0, max=2.0),
    max_tokens: int = typer.Option(256, min=1),
    seed: int | None = typer.Option(None),
    name: str | None = typer.Option(None, help="a label for this run in reports"),
    cache_dir: Path = typer.Option(
        Path(".rung/eval-cache"), help="cache of replies: a rerun only re-scores"
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="always call the models"),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="result JSON (default .rung/eval-runs/<time>.json)"
    ),
) -> None:
    """Run an eval: generate (or take the dataset's outputs), score, judge, write a result file.

    Example: rung eval run --endpoint http://127.0.0.1:8001/v1 --model base
    --dataset holdout.jsonl --scorer exact_match --scorer rouge_l --out base.json
    """
    from evals.cache import GenerationCache
    from evals.chat import ChatClient, GenerationParams
    from evals.dataset import load_dataset
    from evals.judges.pairwise import PairwiseJudge
    from evals.judges.rubric import DEFAULT_CRITERIA, RubricJudge
    from evals.scorers import ScorerContext, build_scorer
    from evals.solver import ChatModelSolver, PrecomputedSolver

    try:
        examples = load_dataset(dataset)
    except EvalError as exc:
        raise _fail(str(exc)) from exc
    if endpoint and not model:
        raise _fail("--endpoint needs --model (the model name at that endpoint)")
    if judge_model and not (judge_endpoint or endpoint):
        raise _fail("--judge-model needs --judge-endpoint (or --endpoint to use the same server)")
    unknown = sorted(set(judge) - {"rubric", "pairwise"})
    if unknown:
        raise _fail(f"unknown judge {unknown}; choose rubric and/or pairwise")
    if judge and not judge_model:
        raise _fail("--judge needs --judge-model")
    cache = None if no_cache else GenerationCache(cache_dir)
    params = GenerationParams(temperature=temperature, max_tokens=max_tokens, seed=seed)
    solver: Solver
    if endpoint and model:
        _check_endpoint(endpoint, api_key, "candidate")
        client = ChatClient.for_endpoint(
            endpoint=endpoint, model=model, api_key=api_key, params=params, cache=cache
        )
        solver = ChatModelSolver(client=client)
    else:
        if any(e.output is None for e in examples):
            missing = sum(e.output is None for e in examples)
            raise _fail(
                f"{missing} examples have no `output` to score; pass --endpoint/--model to "
                "generate them"
            )
        solver = PrecomputedSolver(model_name=model or name)
    judge_client = None
    if judge_model:
        j_endpoint = judge_endpoint or endpoint
        assert j_endpoint is not None
        j_key = judge_api_key or api_key
        if j_endpoint != endpoint:
            _check_endpoint(j_endpoint, j_key, "judge")
        judge_client = ChatClient.for_endpoint(
            endpoint=j_endpoint,
            model=judge_model,
            api_key=j_key,
            params=GenerationParams(temperature=0.0, max_tokens=judge_max_tokens, seed=seed),
            cache=cache,
        )
    judges = set(judge) or ({"rubric"} if judge_client else set())
    context = ScorerContext(
        judge=judge_client,
        judge_name=judge_model,
    )
    try:
        scorers = [build_scorer(spec, context=context) for spec in scorer]
    except EvalError as exc:
        raise _fail(str(exc)) from exc
    if not scorers and not judges:
        raise _fail("nothing to measure: pass at least one --scorer or a judge")
    rubric = (
        RubricJudge(client=judge_client, criteria=criterion or DEFAULT_CRITERIA)
        if judge_client and "rubric" in judges
        else None
    )
    pairwise = PairwiseJudge(client=judge_client) if judge_client and "pairwise" in judges else None
    meta: dict[str, Any] = {
        "name": name or model,
        "dataset": str(dataset),
        # the gate refuses to compare runs of different dataset versions
        "dataset_sha256": hashlib.sha256(Path(dataset).read_bytes()).hexdigest(),
        "endpoint": endpoint,
        "judge_model": judge_model,
        "judge_endpoint": judge_endpoint or (endpoint if judge_model else None),
        "params": params.as_kwargs(),
    }
    result = _run_with_progress(
        examples=examples,
        solver=solver,
        scorers=scorers,
        rubric=rubric,
        pairwise=pairwise,
        concurrency=concurrency,
        meta=meta,
        clients=[c for c in (getattr(solver, "client", None), judge_client) if c is not None],
    )
    target = out or Path(".rung/eval-runs") / (
        datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        + f"-{(name or model or 'run')}.json".replace("/", "_")
    )
    write_run(result, target)
    _print_summary(result, target)
    if result.run["n_errors"] == len(examples):
        first = next(e.error for e in result.examples if e.error)
        raise _fail(f"every example failed to generate; first error: {first}")


def _run_with_progress(
    *,
    examples: list[Any],
    solver: Solver,
    scorers: list[Any],
    rubric: RubricJudge | None,
    pairwise: PairwiseJudge | None,
    concurrency: int,
    meta: dict[str, Any],
    clients: list[ChatClient],
) -> RunResult:
    from evals.runner import run_eval

    columns = (
        TextColumn("[bold]eval"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with RichProgress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("eval", total=len(examples))

        def on_progress(progress: Progress) -> None:
            bar.update(task, completed=progress.done)

        async def run() -> RunResult:
            try:
                return await run_eval(
                    examples=examples,
                    solver=solver,
                    scorers=scorers,
                    rubric_judge=rubric,
                    pairwise_judge=pairwise,
                    concurrency=concurrency,
                    progress=on_progress,
                    run_meta=meta,
                )
            finally:
                for client in clients:
                    await client.aclose()

        return asyncio.run(run())


def _print_summary(result: RunResult, path: Path) -> None:
    from rich.table import Table

    table = Table(title=f"{result.run.get('name') or 'run'}: {len(result.examples)} examples")
    for column in ("metric", "n", "mean", "std", "min", "max"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for metric, s in result.summary.items():
        table.add_row(
            metric, str(s.n), f"{s.mean:.4f}", f"{s.std:.4f}", f"{s.min:.3g}", f"{s.max:.3g}"
        )
    console.print(table)
    run = result.run
    console.print(
        f"errors: {run['n_errors']}  cached: {run['n_cached']}  "
        f"scorer errors: {run['scorer_errors']}  {run.get('examples_per_s')} examples/s"
    )
    judge = result.judge
    if judge.get("model"):
        console.print(f"judge {judge['model']}: {judge['unparsed']} unparsed verdicts")
    for name, figures in judge.get("agreement", {}).items():
        console.print(
            f"judge vs human ({name}): n={figures['n']} accuracy={figures['accuracy']} "
            f"kappa={figures['kappa']}"
        )
    for warning in judge.get("warnings", []):
        err_console.print(f"[yellow]warning:[/] {warning}")
    console.print(f"wrote {path}")


@eval_app.command("gate")
def gate_command(
    baseline: str = typer.Option(..., help="baseline RUN: a result file, or a stored run id"),
    candidate: str = typer.Option(..., help="candidate RUN: a result file, or a stored run id"),
    policy: Path | None = typer.Option(
        None, help="gate policy, YAML or JSON (default: the built-in policy); the report names it"
    ),
    junit: Path | None = typer.Option(None, help="write JUnit XML here (one testcase per metric)"),
    markdown: Path | None = typer.Option(None, help="write a Markdown PR comment here"),
    json_out: Path | None = typer.Option(None, "--json", help="write the full decision JSON here"),
) -> None:
    """Compare a candidate run with a baseline, example by example; exit 1 on a regression,
    3 when undecided.

    Example: rung eval gate --baseline base.json --candidate lora.json --junit gate.xml
    """
    from evals.gate import compare_runs
    from evals.gate_report import render_console, to_junit_xml, to_markdown, write_text
    from evals.policy import load_policy

    try:
        base_run = _resolver(baseline)
        cand_run = _resolver(candidate)
        rules = load_policy(policy)
        source = f"file {policy}" if policy else "built-in default policy (no --policy)"
        report = compare_runs(
            baseline=base_run, candidate=cand_run, policy=rules, policy_source=source
        )
    except EvalError as exc:
        raise _fail(str(exc)) from exc
    render_console(report, console=console)
    if junit:
        write_text(junit, to_junit_xml(report))
    if markdown:
        write_text(markdown, to_markdown(report))
    if json_out:
        write_text(json_out, report.model_dump_json(indent=2) + "\n")
    if os.environ.get("GITHUB_STEP_SUMMARY"):  # GitHub Actions job summary
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as handle:
            handle.write(to_markdown(report))
    raise typer.Exit({"pass": 0, "fail": 1, "undecided": 3}[report.status])
