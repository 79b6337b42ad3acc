"""What the advisory asks of a `ProjectContext`: which rung a job ran, how much data it has."""

from __future__ import annotations

from app.advisory.schemas import DatasetInfo, JobInfo, ProjectContext, Rung

# Matched in this order: "qlora_sft" must read as QLoRA, not LoRA; "dpo_lora" as DPO.
_RECIPE_MARKERS: tuple[tuple[str, Rung], ...] = (
    ("dpo", "dpo"),
    ("qlora", "qlora"),
    ("lora", "lora"),
    ("full", "full_sft"),
    ("sft", "full_sft"),
    ("rag", "rag"),
    ("retriev", "rag"),
    ("prompt", "prompting"),
)


def recipe_rung(recipe: str) -> Rung | None:
    """The ladder rung a recipe name belongs to, or None for anything else (evals, imports).

    `lora_sft` -> lora, `qlora_sft` -> qlora, `sft` / `full_sft` -> full_sft, `dpo` -> dpo.
    """
    name = recipe.lower()
    for marker, rung in _RECIPE_MARKERS:
        if marker in name:
            return rung
    return None


def job_epochs(job: JobInfo) -> float | None:
    """Epochs of a job: its own field, else `num_train_epochs` / `epochs` in its config."""
    if job.epochs is not None:
        return job.epochs
    for key in ("num_train_epochs", "epochs"):
        value = job.config.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def datasets(context: ProjectContext | None) -> list[DatasetInfo]:
    return [] if context is None else list(context.datasets)


def rows_of(context: ProjectContext | None, kind: str) -> int:
    return sum(d.rows for d in datasets(context) if d.kind == kind)


def holdout_rows(context: ProjectContext | None) -> int:
    """Rows of holdout datasets plus the rows held out of other datasets."""
    return sum(d.rows if d.kind == "holdout" else d.holdout_rows for d in datasets(context))


def has_holdout(context: ProjectContext | None) -> bool:
    return any(d.kind == "holdout" or d.has_holdout or d.holdout_rows for d in datasets(context))


def training_formats(context: ProjectContext | None) -> list[str]:
    """Distinct record formats across the training datasets (sft and preference), sorted."""
    seen = {
        f.strip().lower()
        for d in datasets(context)
        if d.kind in ("sft", "preference")
        for f in d.formats
        if f.strip()
    }
    return sorted(seen)
