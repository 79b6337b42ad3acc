"""`rung`: the command line."""

from __future__ import annotations

import typer

from app import __version__
from app.cli.cases import cases_app
from app.cli.db import db_app
from app.cli.serve import serve
from app.cli.teams import teams_app

app = typer.Typer(
    name="rung",
    help=(
        "Rung triages your LLM app's failures (knowledge or behavior?), recommends the cheapest "
        "fix on the ladder prompting -> RAG -> LoRA -> DPO, runs it, and gates promotion on evals."
        "\n\nStart here: rung db upgrade; rung teams create my-team; rung serve"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve)
app.add_typer(db_app, name="db")
app.add_typer(teams_app, name="teams")
app.add_typer(cases_app, name="cases")


def _version(value: bool) -> None:
    if value:
        print(f"rung {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
) -> None:
    """Rung's command line."""


def main() -> None:
    app()
