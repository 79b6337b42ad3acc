"""Rung's recipes: each rung of the escalation ladder as a typed config + one ``run`` function.

``REGISTRY`` maps a recipe name to a `RecipeSpec` (config class, run function, whether it needs
a GPU, what it produces and which dataset shape it consumes). Every ``run`` has the keyword-only
signature::

    run(config, *, train_rows, eval_rows, output_dir, progress=None, resume_from=None,
        should_stop=None, **extra_inputs) -> RecipeResult

where ``spec.extra_inputs`` names the extra keyword arguments (``documents`` for rag; an
optional ``chat_model``/``judge_model`` for prompting and rag) and ``spec.inputs`` says how a
stored dataset becomes the rows and extras (`recipes.run_types.rows_as_documents` for rag).
Errors are typed (see `recipes.errors`). This package never imports ``app``; importing it loads
no ML library.
"""

from __future__ import annotations

from recipes import dpo, full_sft, lora_sft, prompting, qlora_sft, rag
from recipes.errors import (
    RecipeCancelledError,
    RecipeConfigError,
    RecipeEnvironmentError,
    RecipeError,
    RecipeRuntimeError,
    UnknownConfigKeyError,
)
from recipes.run_types import ProgressEvent, RecipeResult, RecipeSpec, rows_as_documents

REGISTRY: dict[str, RecipeSpec] = {
    spec.name: spec
    for spec in (
        RecipeSpec(
            name=prompting.NAME,
            config_class=prompting.PromptingConfig,
            run=prompting.run,
            needs_gpu=False,
            kind="prompt",
            dataset="sft",
            description="System prompt + similar few-shot examples + validators with re-ask.",
            extra_inputs=("chat_model?",),
        ),
        RecipeSpec(
            name=rag.NAME,
            config_class=rag.RagConfig,
            run=rag.run,
            needs_gpu=False,
            kind="index",
            dataset="rag",
            description="Retrieval-augmented answers from your documents (langchain + MiniLM).",
            extra_inputs=("documents", "chat_model?", "judge_model?"),
            inputs=rows_as_documents,
        ),
        RecipeSpec(
            name=lora_sft.NAME,
            config_class=lora_sft.LoraSFTConfig,
            run=lora_sft.run,
            needs_gpu=False,
            kind="adapter",
            dataset="sft",
            description="LoRA SFT: a small adapter teaches format, tone and task behaviour.",
        ),
        RecipeSpec(
            name=qlora_sft.NAME,
            config_class=qlora_sft.QLoraSFTConfig,
            run=qlora_sft.run,
            needs_gpu=True,
            kind="adapter",
            dataset="sft",
            description="QLoRA SFT: LoRA on a 4-bit base when GPU memory is tight (CUDA only).",
        ),
        RecipeSpec(
            name=dpo.NAME,
            config_class=dpo.DPORecipeConfig,
            run=dpo.run,
            needs_gpu=False,
            kind="adapter",
            dataset="dpo",
            description="DPO with LoRA: prefer chosen over rejected answers.",
        ),
        RecipeSpec(
            name=full_sft.NAME,
            config_class=full_sft.FullSFTConfig,
            run=full_sft.run,
            needs_gpu=False,
            kind="model",
            dataset="sft",
            description="Full SFT: every weight trained. The expensive option.",
        ),
    )
}


def get_recipe(name: str) -> RecipeSpec:
    """The registered recipe ``name``; `RecipeConfigError` listing the known names otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise RecipeConfigError(
            f"unknown recipe {name!r}; known recipes: {', '.join(sorted(REGISTRY))}",
            field="recipe",
        ) from None


__all__ = [
    "REGISTRY",
    "ProgressEvent",
    "RecipeCancelledError",
    "RecipeConfigError",
    "RecipeEnvironmentError",
    "RecipeError",
    "RecipeResult",
    "RecipeRuntimeError",
    "RecipeSpec",
    "UnknownConfigKeyError",
    "get_recipe",
]
