"""`rung serve-model BASE [--adapter NAME=PATH ...]`: serve a model over the OpenAI chat API."""

from __future__ import annotations

from pathlib import Path

import typer
import uvicorn
from rich.console import Console

err_console = Console(stderr=True, soft_wrap=True)
ENGINES = ("batching", "vllm")


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
    engine_name: str = typer.Option(
        "batching",
        "--engine",
        help="batching: Rung's engine (requests arriving together are generated together); "
        "vllm: vLLM's OpenAI server with --enable-lora (needs the vllm package and a GPU)",
    ),
    max_batch: int = typer.Option(16, min=1, help="batching: most sequences per generate call"),
) -> None:
    """Serve BASE and its adapters as an OpenAI-compatible API (/v1/chat/completions, /v1/models).

    A request's `model` picks the weights: an adapter NAME, or BASE's name / `base` for the base
    model alone. Requests that arrive together are generated together; `"stream": true` answers
    with server-sent events. `--engine vllm` runs vLLM's server with the same adapters.
    Example: rung serve-model HuggingFaceTB/SmolLM2-135M-Instruct
    --adapter support=runs/42/adapter --port 8001
    """
    from app.serving.engine import BatchingEngine, GenerationEngine, ServingError
    from app.serving.server import create_app
    from recipes.errors import RecipeError

    adapters = parse_adapters(adapter)
    if engine_name not in ENGINES:
        raise typer.BadParameter(
            f"unknown engine {engine_name!r}; choose one of {', '.join(ENGINES)}",
            param_hint="--engine",
        )
    if engine_name == "vllm":
        from app.serving.vllm import VllmUnavailableError, run_vllm

        try:
            location = resolve_base(base)
            code = run_vllm(
                base=location,
                served_name=base,
                adapters=adapters,
                host=host,
                port=port,
            )
        except VllmUnavailableError as exc:
            err_console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from exc
        raise typer.Exit(code)
    try:
        location = resolve_base(base)
        engine = GenerationEngine.load(
            base=location, adapters=adapters, base_name=base, device="auto"
        )
    except ServingError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    except (RecipeError, OSError, ValueError) as exc:
        err_console.print(f"[red]error:[/] cannot load {base}: {exc}")
        raise typer.Exit(2) from exc
    err_console.print(
        f"serving {', '.join(engine.model_names)} at http://{host}:{port}/v1 (Ctrl+C stops)"
    )
    batching = BatchingEngine(engine, max_rows=max_batch)
    uvicorn.run(
        create_app(batching, default_max_tokens=max_tokens), host=host, port=port, log_level="info"
    )
