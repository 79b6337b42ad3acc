"""`rung`: the command line."""

from __future__ import annotations

import typer

from app import __version__
from app.cli.cases import cases_app
from app.cli.db import db_app
from app.cli.demo import demo
from app.cli.eval_remote import push as eval_push
from app.cli.eval_remote import resolve_run
from app.cli.fix import fix
from app.cli.help_format import install as plain_help_types
from app.cli.report import report
from app.cli.serve import serve
from app.cli.teams import teams_app
from app.datasets.cli import datasets_app
from app.evaluation.cli import eval_app, set_run_resolver
from app.jobs.cli import jobs_app
from app.serving.cli import serve_model
from app.triage.cli import train_command, triage_command
from app.workers.cli import worker
from recipes.cli import app as recipes_app

plain_help_types()
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
app.command("report")(report)
app.command("demo")(demo)
app.command("fix")(fix)
app.command("triage")(triage_command)
app.command("triage-train")(train_command)
app.add_typer(db_app, name="db")
app.add_typer(teams_app, name="teams")
app.add_typer(cases_app, name="cases")
app.add_typer(datasets_app, name="datasets")
app.add_typer(jobs_app, name="jobs")
app.command("worker")(worker)
app.command("serve-model")(serve_model)
app.add_typer(eval_app, name="eval")
app.add_typer(recipes_app, name="recipes")
eval_app.command("push")(eval_push)
set_run_resolver(resolve_run)


def _version(value: bool) -> None:
    if value:
        print(f"rung {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
) -> None:
    """Rung's command line."""
    from app.config import get_settings
    from recipes.base_models import use_models_dir

    try:
        settings = get_settings()
    except ValueError:  # a command that needs the settings reports what is wrong with them
        return
    use_models_dir(settings.resolved_models_dir)  # RUNG_MODELS_DIR for every command


def main() -> None:
    app()
