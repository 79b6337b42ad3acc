"""Command line for triage: `rung triage FILE.jsonl` and `rung triage-train`.

Register in the main CLI with:
    from app.triage.cli import train_command, triage_command
    app.command("triage")(triage_command)
    app.command("triage-train")(train_command)
Standalone: `python -m app.triage.cli triage FILE.jsonl` / `python -m app.triage.cli train`.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from app.cases.schemas import CaseLabel, FailureCase
from app.triage.result import TriageResult

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


def _recommendation(cases: list[FailureCase], results: list[TriageResult]) -> dict[str, Any] | None:
    try:
        from app.advisory.plan import build_recommendation
    except ImportError:
        return None
    return build_recommendation(cases=cases, results=results).model_dump(mode="json")


def _result_row(index: int, result: TriageResult) -> dict[str, Any]:
    return {
        "index": index,
        "category": result.category,
        "subcategory": result.subcategory,
        "fix": result.fix,
        "confidence": result.confidence,
        "evidence": result.evidence,
        "needs_review": result.needs_review,
    }


def _print_results_table(console: Console, results: list[TriageResult], version: str) -> None:
    table = Table(title=f"Triage ({version})", show_lines=True)
    for name in ("#", "category", "subcategory", "fix", "conf.", "review", "evidence"):
        table.add_column(name, overflow="fold")
    for index, result in enumerate(results):
        table.add_row(
            str(index),
            result.category,
            result.subcategory,
            result.fix,
            f"{result.confidence:.2f}",
            "yes" if result.needs_review else "",
            "\n".join(f"• {e}" for e in result.evidence),
        )
    console.print(table)


def _print_score(console: Console, score: Any) -> None:
    summary = Table(title="Triage quality against the labels")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    summary.add_row("cases", str(score.n))
    summary.add_row("category accuracy", f"{score.category_accuracy:.3f}")
    summary.add_row("subcategory accuracy", f"{score.subcategory_accuracy:.3f}")
    summary.add_row("subcategory macro-F1", f"{score.subcategory_macro_f1:.3f}")
    summary.add_row("fix accuracy", f"{score.fix_accuracy:.3f}")
    summary.add_row("flagged needs_review", str(score.needs_review))
    if score.not_flagged_subcategory_accuracy is not None:
        summary.add_row(
            f"category accuracy, not flagged ({score.not_flagged})",
            f"{score.not_flagged_category_accuracy:.3f}",
        )
        summary.add_row(
            f"subcategory accuracy, not flagged ({score.not_flagged})",
            f"{score.not_flagged_subcategory_accuracy:.3f}",
        )
        summary.add_row(
            f"fix accuracy, not flagged ({score.not_flagged})",
            f"{score.not_flagged_fix_accuracy:.3f}",
        )
    console.print(summary)
    per_class = Table(title="Per subcategory")
    for name in ("subcategory", "precision", "recall", "F1", "support"):
        per_class.add_column(name, justify="right" if name != "subcategory" else "left")
    for name, figures in score.per_subcategory.items():
        per_class.add_row(
            name,
            f"{figures.precision:.3f}",
            f"{figures.recall:.3f}",
            f"{figures.f1:.3f}",
            str(figures.support),
        )
    console.print(per_class)
    short = {
        "missing_knowledge": "missing", "stale_knowledge": "stale", "retrieval_gap": "retr.",
        "format": "format", "style": "style", "procedure": "proc.", "grounding": "ground.",
        "preference": "pref.",
    }  # fmt: skip
    matrix = Table(title="Confusion matrix (rows: label, columns: predicted)")
    matrix.add_column("label \\ predicted")
    for name in score.labels:
        matrix.add_column(short[name], justify="right")
    for name, row in zip(score.labels, score.confusion, strict=True):
        matrix.add_row(name, *[str(v) if v else "." for v in row])
    console.print(matrix)


def triage_command(
    file: Path = typer.Argument(..., help="JSONL of cases, bare or labelled ({'case','label'})"),
    output_format: OutputFormat = typer.Option(
        OutputFormat.table, "--format", help="table (readable) or json"
    ),
    out: Path | None = typer.Option(None, "--out", help="also write the JSON result to this file"),
    score: bool = typer.Option(False, "--score", help="score the results against the labels"),
    model_dir: Path | None = typer.Option(
        None, "--model-dir", help="folder of a trained artefact (default: the shipped one)"
    ),
) -> None:
    """Triage failure cases: knowledge or behaviour, which subcategory, which fix."""
    from app.triage.case_files import CaseFileError, read_case_file
    from app.triage.engine import load_engine
    from app.triage.scoring import score_results

    console = Console()
    try:
        records = read_case_file(file)
    except CaseFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    if not records:
        typer.echo(f"error: {file} holds no cases", err=True)
        raise typer.Exit(code=2)
    labels: list[CaseLabel | None] = [r.label for r in records]
    if score and any(label is None for label in labels):
        missing = next(r.line for r in records if r.label is None)
        typer.echo(
            f"error: --score needs a label on every line; {file}:{missing} has none", err=True
        )
        raise typer.Exit(code=2)
    engine = load_engine(model_dir)
    cases = [r.case for r in records]
    results = engine.triage(cases)
    payload: dict[str, Any] = {
        "engine_version": engine.version,
        "results": [_result_row(i, r) for i, r in enumerate(results)],
        "recommendation": _recommendation(cases, results),
    }
    figures = None
    if score:
        figures = score_results(labels=[lab for lab in labels if lab is not None], results=results)
        payload["score"] = figures.model_dump(mode="json")
    if out is not None:
        out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    if figures is not None:  # with --score the figures are the point; the cases stay in --out
        console.print(f"engine {engine.version}")
        _print_score(console, figures)
        return
    _print_results_table(console, results, engine.version)
    if payload["recommendation"] is not None:
        console.print(
            f"[bold]Recommendation:[/bold] {payload['recommendation'].get('headline', '')}"
        )


def train_command(
    cases_dir: Path | None = typer.Option(None, "--cases-dir", help="folder of labelled *.jsonl"),
    model_dir: Path | None = typer.Option(None, "--model-dir", help="where to write the artefact"),
    search: bool = typer.Option(
        False,
        "--search",
        help="also choose fields, regularisation and embedding scale by grouped CV (slower)",
    ),
    exclude: list[Path] = typer.Option(
        [],
        "--exclude",
        help="a held-out .jsonl no training case may nearly copy (repeatable); the dev set and "
        "the sealed set are always checked",
    ),
    max_similarity: float = typer.Option(
        67.5,
        "--max-similarity",
        min=1,
        max=100,
        help="token-sort ratio of input+output at which a training case counts as a near copy",
    ),
    cache: bool = typer.Option(
        True,
        "--cache/--no-cache",
        help="reuse the training cases' features from $RUNG_HOME/cache when the cases and the "
        "feature code are unchanged",
    ),
) -> None:
    """Train the triage model from labelled cases and write a versioned artefact.

    Refuses to train while a training case nearly copies a held-out case (naming both), then
    cross-validates grouped by application and by writer, chooses the model mix, calibrates, and
    fits the needs_review threshold. Takes a few minutes on 2 CPUs.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from app.config import get_settings
    from app.triage.artefact import DEFAULT_MODEL_DIR
    from app.triage.case_files import CaseFileError
    from app.triage.training.leakage import LeakageError
    from app.triage.training.train import DEFAULT_CASES_DIR, TrainingDataError, train

    with Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        transient=False,
    ) as bar:
        tasks: dict[str, object] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)  # type: ignore[arg-type]

        try:
            manifest = train(
                cases_dir=cases_dir or DEFAULT_CASES_DIR,
                model_dir=model_dir or DEFAULT_MODEL_DIR,
                search=search,
                exclude=exclude,
                max_similarity=max_similarity,
                progress=progress,
                cache_dir=get_settings().home_dir / "cache" if cache else None,
            )
        except (CaseFileError, TrainingDataError, LeakageError) as exc:
            bar.stop()
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from exc
    typer.echo(_training_summary(manifest, model_dir or DEFAULT_MODEL_DIR))


def _figures(scores: dict) -> str:  # type: ignore[type-arg]
    return (
        f"category accuracy {scores.get('category_accuracy')}, "
        f"subcategory macro-F1 {scores.get('subcategory_macro_f1')}, "
        f"fix accuracy {scores.get('fix_accuracy')}"
    )


def _training_summary(manifest, model_dir: Path) -> str:  # type: ignore[no-untyped-def]
    cv = manifest.cv
    lines = [
        f"trained triage model {manifest.version} on {manifest.n_cases} cases -> "
        f"{model_dir / manifest.artefact}",
        f"held-out sets checked for near copies: {', '.join(manifest.held_out_checked) or 'none'}",
        f"CV grouped by app ({cv.get('folds')} folds): {_figures(cv)}",
    ]
    author = cv.get("leave_one_author_out")
    if author:
        lines.append(
            f"CV leaving one writer out ({len(author['authors'])} writers): {_figures(author)}"
        )
    real = cv.get("real_reports_by_writer_fold")
    if real:
        lines.append(f"  of which the {real['cases']} real public reports: {_figures(real)}")
    config = manifest.config
    review = manifest.review
    if review:
        point = review["operating_point"]
        lines.append(
            f"mix: trees weight {config.get('trees_weight')}, rule weight "
            f"{config.get('rule_weight')}; temperature {review['temperature']} "
            f"(ECE {review['ece_before']} -> {review['ece_after']})"
        )
        lines.append(
            f"needs_review below p={point['threshold']}: {point['flagged']:.0%} flagged, "
            f"category accuracy {point['category_accuracy']} and subcategory accuracy "
            f"{point['subcategory_accuracy']} on the rest"
            + ("" if point.get("met") else " (target not met)")
        )
    return "\n".join(lines)


cli = typer.Typer(name="triage", no_args_is_help=True, pretty_exceptions_enable=False)
cli.command("triage")(triage_command)
cli.command("train")(train_command)

if __name__ == "__main__":
    cli()
