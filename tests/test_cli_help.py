"""`rung ... --help` shows types plainly: no ``<bool>`` beside flags, no ``<str>`` anywhere."""

from __future__ import annotations

import re

from typer.main import get_command
from typer.testing import CliRunner

from app.cli.main import app


def _commands(group, path=()):  # type: ignore[no-untyped-def]
    yield path
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*path, name))


def test_help_has_no_type_noise() -> None:
    runner = CliRunner()
    paths = list(_commands(get_command(app)))
    assert len(paths) > 20
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (path, result.output)
        noise = re.findall(r"<(?:bool|str|int|float|path|file|list\[[a-z]+\])>", result.output)
        assert noise == [], f"rung {' '.join(path)} --help shows {noise}"
    worker = runner.invoke(app, ["worker", "--help"], env={"COLUMNS": "200"}).output
    assert re.search(r"--loglevel\s+TEXT", worker) and re.search(r"--help\s+Show", worker)
