"""``rung recipes ...``: list recipes, show their settings, run one on JSONL files, merge, prepare.

Register with ``app.add_typer(recipes.cli.app, name="recipes")`` in the main CLI.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from recipes import REGISTRY, get_recipe
from recipes.errors import RecipeCancelledError, RecipeError
from recipes.run_types import ProgressEvent

app = typer.Typer(
    help="Run Rung's recipes directly (prompting, rag, lora_sft, dpo, ...).", no_args_is_help=True
)


def _read_jsonl(path: Path | None) -> list[dict]:
    if path is None:
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@app.command("list")
def list_recipes() -> None:
    """Every recipe with its kind, dataset shape and whether it needs a GPU."""
    for spec in REGISTRY.values():
        gpu = "GPU" if spec.needs_gpu else "CPU ok"
        typer.echo(f"{spec.name:10s} {spec.kind:8s} {spec.dataset:4s} {gpu:7s} {spec.description}")


@app.command("show")
def show(name: str) -> None:
    """A recipe's settings: name, default and why."""
    spec = get_recipe(name)
    defaults = spec.config_class().to_dict()
    for field_name, help_text in spec.config_class.field_help().items():
        typer.echo(f"{field_name} = {json.dumps(defaults[field_name])}\n    {help_text}")


@app.command("run")
def run(
    name: str,
    output_dir: Annotated[Path, typer.Option("--out", help="folder for the artefacts")],
    train: Annotated[Path | None, typer.Option(help="train rows, JSONL")] = None,
    eval_: Annotated[Path | None, typer.Option("--eval", help="holdout rows, JSONL")] = None,
    documents: Annotated[Path | None, typer.Option(help="rag documents, JSONL")] = None,
    resume_from: Annotated[Path | None, typer.Option(help="checkpoint or earlier --out")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="key=value override")] = None,
) -> None:
    """Run recipe NAME on JSONL rows and print its metrics and artefacts as JSON."""
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
    spec = get_recipe(name)
    try:
        config = spec.config_class.from_overrides(set_ or [])
        extra = {"documents": _read_jsonl(documents)} if "documents" in spec.extra_inputs else {}

        def show_progress(event: ProgressEvent) -> None:
            loss = f" loss {event.loss:.4f}" if event.loss is not None else ""
            typer.echo(
                f"[{event.phase}] {event.step}/{event.total_steps}{loss} {event.message}", err=True
            )

        result = spec.run(
            config,
            train_rows=_read_jsonl(train),
            eval_rows=_read_jsonl(eval_),
            output_dir=output_dir,
            progress=show_progress,
            resume_from=resume_from,
            **extra,
        )
    except RecipeCancelledError as exc:
        typer.echo(f"cancelled: {exc}", err=True)
        raise typer.Exit(130) from exc
    except RecipeError as exc:
        typer.echo(f"{type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(result.to_dict(), indent=2))


@app.command("merge")
def merge(
    adapter_dir: Path,
    output_dir: Path,
    base: Annotated[str, typer.Option(help="base model name or folder")] = (
        "HuggingFaceTB/SmolLM2-135M-Instruct"
    ),
) -> None:
    """Merge a LoRA adapter into its base for serving; checks merged == unmerged logits."""
    from recipes.merge import merge_adapter

    try:
        result = merge_adapter(base, adapter_dir, output_dir)
    except RecipeError as exc:
        typer.echo(f"{type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(
        f"merged into {result.output_dir}; max |logit diff| {result.max_abs_diff:.2e} "
        f"over {result.prompts_checked} prompts"
    )


@app.command("prepare-model")
def prepare_model() -> None:
    """Convert the default base model (SmolLM2-135M-Instruct) for offline use, once."""
    from recipes.base_models import prepare_default_model

    typer.echo(str(prepare_default_model()))


if __name__ == "__main__":
    app()
