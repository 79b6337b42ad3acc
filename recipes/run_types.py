"""What every recipe's ``run`` function takes and returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

RecipeKind = Literal["prompt", "index", "adapter", "model"]
DatasetShape = Literal["sft", "dpo", "rag"]

# Artifact kinds that recipes produce (first element of each ``RecipeResult.artifacts`` pair).
ARTIFACT_KINDS: tuple[str, ...] = (
    "prompt",  # JSON prompt artefact (prompting)
    "index",  # vector index folder (rag)
    "adapter",  # LoRA adapter folder: adapter_model.safetensors + adapter_config.json
    "model",  # full model folder (full_sft, merge)
    "tokenizer",  # tokenizer folder
    "checkpoint",  # last trainer checkpoint folder (resumable)
    "eval_report",  # JSON file of per-example evaluation results
)


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report from a running recipe.

    ``phase`` is one of: ``load``, ``train``, ``eval``, ``save``, ``index``, ``done``.
    ``step``/``total_steps`` count optimizer steps while training, examples while evaluating.
    """

    phase: str
    step: int = 0
    total_steps: int = 0
    loss: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    eta_s: float | None = None
    message: str = ""


ProgressFn = Callable[[ProgressEvent], None]
StopFn = Callable[[], bool]


@dataclass
class RecipeResult:
    """What a recipe hands back: numbers, files and one human sentence or two."""

    recipe: str
    metrics: dict[str, float]
    artifacts: list[tuple[str, Path]]
    summary: str
    config: dict[str, Any] = field(default_factory=dict)

    def artifact(self, kind: str) -> Path:
        """The first artifact of ``kind``; KeyError naming the kinds present otherwise."""
        for artifact_kind, path in self.artifacts:
            if artifact_kind == kind:
                return path
        present = ", ".join(k for k, _ in self.artifacts) or "none"
        raise KeyError(f"no {kind!r} artifact in {self.recipe} result (present: {present})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "metrics": dict(self.metrics),
            "artifacts": [[kind, str(path)] for kind, path in self.artifacts],
            "summary": self.summary,
            "config": dict(self.config),
        }


Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class RecipeInputs:
    """The rows and extra keyword arguments one ``run`` call gets from a stored dataset."""

    train_rows: Rows
    eval_rows: Rows
    extras: dict[str, Any] = field(default_factory=dict)


InputsFn = Callable[..., RecipeInputs]


def rows_as_given(*, train_rows: Rows, eval_rows: Rows, holdout_given: bool) -> RecipeInputs:
    """Most recipes: the dataset's train rows train, its holdout (or the separate one) evaluates."""
    return RecipeInputs(train_rows=train_rows, eval_rows=eval_rows)


def rows_as_documents(*, train_rows: Rows, eval_rows: Rows, holdout_given: bool) -> RecipeInputs:
    """rag: a documents dataset's rows (both splits) are the ``documents`` to index; the
    questions are a separate holdout's rows when one is given, else the dataset's holdout."""
    documents = train_rows + ([] if holdout_given else eval_rows)
    return RecipeInputs(train_rows=[], eval_rows=eval_rows, extras={"documents": documents})


@dataclass(frozen=True)
class RecipeSpec:
    """One registry entry.

    ``extra_inputs`` names the keyword arguments ``run`` takes beyond the common signature
    (a trailing ``?`` marks an optional one), e.g. ``("documents", "chat_model?")`` for rag.
    ``inputs`` says how a stored dataset (train rows, holdout rows, and whether the holdout is
    a separate dataset) becomes ``run``'s rows and extra inputs.
    """

    name: str
    config_class: type
    run: Callable[..., RecipeResult]
    needs_gpu: bool
    kind: RecipeKind
    dataset: DatasetShape
    description: str
    extra_inputs: tuple[str, ...] = ()
    inputs: InputsFn = rows_as_given

    def assemble_inputs(
        self, *, train_rows: Rows, eval_rows: Rows, holdout_given: bool
    ) -> RecipeInputs:
        """``run``'s rows and extras from a dataset; `RecipeConfigError` when a required extra
        input cannot come from a dataset."""
        inputs = self.inputs(
            train_rows=train_rows, eval_rows=eval_rows, holdout_given=holdout_given
        )
        for name in self.extra_inputs:
            if not name.endswith("?") and name not in inputs.extras:
                from recipes.errors import RecipeConfigError

                raise RecipeConfigError(
                    f"recipe {self.name} needs the input {name!r}, which jobs cannot pass yet"
                )
        return inputs


def emit(progress: ProgressFn | None, event: ProgressEvent) -> None:
    """Send ``event`` to ``progress`` when one was given."""
    if progress is not None:
        progress(event)


def finish(
    progress: ProgressFn | None,
    *,
    recipe: str,
    metrics: dict[str, float],
    artifacts: list[tuple[str, Path]],
    summary: str,
    config: dict[str, Any],
    step: int,
    total_steps: int,
) -> RecipeResult:
    """The last thing every recipe does: report the ``done`` event and hand back the result."""
    emit(
        progress,
        ProgressEvent(
            phase="done", step=step, total_steps=total_steps, metrics=metrics, message=summary
        ),
    )
    return RecipeResult(
        recipe=recipe, metrics=metrics, artifacts=artifacts, summary=summary, config=config
    )
