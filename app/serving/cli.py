"""`rung serve-model BASE [--adapter NAME=PATH ...]`: serve a model over the OpenAI chat API."""

from __future__ import annotations

from pathlib import Path

import typer
import uvicorn
from rich.console import Console

err_console = Console(stderr=True, soft_wrap=True)


def parse_adapters(specs: list[str]) -> dict[str, Path]:
    """``["name=path", ...]`` -> {name: path}; raises typer.BadParameter on a bad spec."""
    adapters: dict[str, Path] = {}
    for spec in specs:
        name, eq, path = spec.partition("=")
        if not eq or not name.strip() or not path.strip():
            raise typer.BadParameter(f"expected NAME=PATH, got {spec!r}", param_hint="--adapter")
        if name in adapters:
            raise typer.BadParameter(f"adapter name {name!r} given twice", param_hint="--adapter")
        adapters[name.strip()] = Path(path.strip()).expanduser()
    return adapters


def resolve_base(base: str) -> str | Path:
    """A loadable location for BASE via recipes.base_models (default model converted offline)."""
    from recipes.base_models import resolve_base_model

    return resolve_base_model(base)


def serve_model(
    base: str = typer.Argument(
        ..., help="base model: a local folder or hub name (HuggingFaceTB/SmolLM2-135M-Instruct)"
    ),
    adapter: list[str] = typer.Option(
        [], "--adapter", "-a", help="NAME=PATH of a LoRA adapter, served as model NAME; repeat"
    ),
    host: str = typer.Option("127.0.0.1", help="interface to bind"),
    port: int = typer.Option(8001, min=1, max=65535),
    max_tokens: int = typer.Option(256, min=1, help="default max_tokens of a request"),
) -> None:
    """Serve BASE and its adapters as an OpenAI-compatible API (/v1/chat/completions, /v1/models).

    A request's `model` picks the weights: an adapter NAME, or BASE's name / `base` for the base
    model alone. Example: rung serve-model HuggingFaceTB/SmolLM2-135M-Instruct
    --adapter support=runs/42/adapter --port 8001
    """
    from app.serving.engine import GenerationEngine, ServingError
    from app.serving.server import create_app
    from recipes.errors import RecipeError

    adapters = parse_adapters(adapter)
    try:
        location = resolve_base(base)
        engine = GenerationEngine.load(base=location, adapters=adapters, base_name=base)
    except ServingError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    except (RecipeError, OSError, ValueError) as exc:
        err_console.print(f"[red]error:[/] cannot load {base}: {exc}")
        raise typer.Exit(2) from exc
    err_console.print(
        f"serving {', '.join(engine.model_names)} at http://{host}:{port}/v1 (Ctrl+C stops)"
    )
    uvicorn.run(
        create_app(engine, default_max_tokens=max_tokens), host=host, port=port, log_level="info"
    )
