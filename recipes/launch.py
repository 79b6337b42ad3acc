"""Run one recipe as a process of a multi-process (``accelerate launch``) training run.

``python -m recipes.launch SPEC.json`` is what every process of the run executes; the worker
that launched it talks to the run through files named in the spec (this package never imports
``app``):

* ``config``/``train_rows``/``eval_rows``/``extras``: the recipe's inputs (rows as JSONL files);
* ``progress_file``: rank 0 appends one JSON `ProgressEvent` a line; the worker tails it;
* ``stop_file``: the worker creates it to stop the run; every rank checks it at each step and
  the ranks agree (an all-reduce) so that they all stop at the same step, leaving a checkpoint;
* ``result_file``: rank 0 writes the `RecipeResult` (or the typed error) at the end;
* ``parent_pid``: a rank whose worker died exits at once (its job is resumed elsewhere).

Every rank trains; only rank 0 writes the run's outputs: the other ranks get an output folder of
their own (``rank-N/``), so the adapter, the checkpoints and ``train_log.json`` of ``output_dir``
are exactly those of a single-process run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from recipes.errors import (
    RecipeCancelledError,
    RecipeConfigError,
    RecipeEnvironmentError,
    RecipeError,
    RecipeRuntimeError,
)
from recipes.run_types import ProgressEvent, RecipeResult

ERROR_TYPES: dict[str, type[RecipeError]] = {
    cls.__name__: cls
    for cls in (RecipeConfigError, RecipeEnvironmentError, RecipeRuntimeError, RecipeCancelledError)
}


@dataclasses.dataclass(frozen=True)
class LaunchSpec:
    recipe: str
    overrides: dict[str, Any]
    train_rows: str
    eval_rows: str
    output_dir: str
    progress_file: str
    stop_file: str
    result_file: str
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)
    resume_from: str | None = None
    parent_pid: int | None = None
    models_dir: str | None = None

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(dataclasses.asdict(self)))
        return path

    @classmethod
    def read(cls, path: Path) -> LaunchSpec:
        return cls(**json.loads(path.read_text()))


def write_rows(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def read_rows(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def read_result(path: Path) -> RecipeResult:
    """The run's result from rank 0's file, or its typed error raised again."""
    if not path.is_file():
        raise RecipeRuntimeError(
            "the training processes ended without a result (killed, or crashed before the "
            "end); a retry resumes from the last checkpoint",
            retryable=True,
        )
    data = json.loads(path.read_text())
    if "error" in data:
        error = data["error"]
        cls = ERROR_TYPES.get(error["type"])
        if cls is RecipeRuntimeError:
            raise RecipeRuntimeError(error["message"], retryable=bool(error.get("retryable")))
        if cls is RecipeCancelledError:
            checkpoint = error.get("checkpoint_dir")
            raise RecipeCancelledError(
                error["message"], checkpoint_dir=Path(checkpoint) if checkpoint else None
            )
        if cls is not None:
            raise cls(error["message"])
        raise RecipeRuntimeError(f"{error['type']}: {error['message']}", retryable=True)
    return RecipeResult(
        recipe=data["recipe"],
        metrics=data["metrics"],
        artifacts=[(kind, Path(path)) for kind, path in data["artifacts"]],
        summary=data["summary"],
        config=data["config"],
    )


class _Stop:
    """``should_stop`` for every rank: true on all of them as soon as one sees the stop file."""

    def __init__(self, stop_file: Path) -> None:
        self.stop_file = stop_file

    def __call__(self) -> bool:
        local = self.stop_file.exists()
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            import torch

            flag = torch.tensor([1 if local else 0])
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            return bool(flag.item())
        return local


def _progress_writer(path: Path) -> Any:
    def write(event: ProgressEvent) -> None:
        with path.open("a") as handle:
            handle.write(json.dumps(dataclasses.asdict(event)) + "\n")

    return write


def _watch_parent(pid: int) -> None:
    """Exit when the worker that launched the run is gone (its job is resumed elsewhere)."""

    def watch() -> None:
        while True:
            time.sleep(1)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(3)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="rung-parent-watch", daemon=True).start()


def main(spec_path: str) -> int:
    spec = LaunchSpec.read(Path(spec_path))
    rank = int(os.environ.get("RANK", "0"))
    if spec.parent_pid:
        _watch_parent(spec.parent_pid)
    from recipes import get_recipe
    from recipes.base_models import use_models_dir

    if spec.models_dir:
        use_models_dir(Path(spec.models_dir))
    recipe = get_recipe(spec.recipe)
    output_dir = Path(spec.output_dir) if rank == 0 else Path(spec.output_dir) / f"rank-{rank}"
    result_file = Path(spec.result_file)
    try:
        result = recipe.run(
            recipe.config_class.from_overrides(spec.overrides),
            train_rows=read_rows(spec.train_rows),
            eval_rows=read_rows(spec.eval_rows),
            output_dir=output_dir,
            progress=_progress_writer(Path(spec.progress_file)) if rank == 0 else None,
            resume_from=Path(spec.resume_from) if spec.resume_from else None,
            should_stop=_Stop(Path(spec.stop_file)),
            **spec.extras,
        )
    except RecipeError as exc:
        if rank == 0:
            error: dict[str, Any] = {
                "type": type(exc).__name__,
                "message": str(exc),
                "retryable": exc.retryable,
            }
            if isinstance(exc, RecipeCancelledError) and exc.checkpoint_dir is not None:
                error["checkpoint_dir"] = str(exc.checkpoint_dir)
            result_file.write_text(json.dumps({"error": error}))
        return 0 if isinstance(exc, RecipeCancelledError) else 1
    except Exception as exc:
        traceback.print_exc()
        if rank == 0:
            result_file.write_text(
                json.dumps(
                    {"error": {"type": type(exc).__name__, "message": str(exc), "retryable": True}}
                )
            )
        return 1
    if rank == 0:
        result_file.write_text(json.dumps(result.to_dict(), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
