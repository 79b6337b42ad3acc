"""LoRA supervised fine-tuning (peft + TRL SFTTrainer): the cheapest training rung.

Defaults: r=16, alpha=32, every linear layer of the transformer blocks (``all-linear``, which
leaves out the output head), dropout 0.05, 1 epoch, lr 2e-4, assistant-only loss, eval loss on
the holdout every ``save_steps`` with early stopping, checkpoints a resumed job continues from.

Output (``output_dir``): ``adapter/`` (``adapter_model.safetensors`` + ``adapter_config.json``
+ the tokenizer; loadable by peft and by vLLM's LoRA serving: no ``modules_to_save``, no resized
embeddings), ``checkpoints/checkpoint-N/`` and ``train_log.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recipes.lora_adapters import LoraFields, lora_config
from recipes.run_types import ProgressFn, RecipeResult, StopFn
from recipes.sft_training import SFTTrainingConfig, run_sft_training

NAME = "lora_sft"


@dataclass
class LoraSFTConfig(LoraFields, SFTTrainingConfig):
    """LoRA SFT settings: the training knobs of `SFTTrainingConfig` plus the adapter's shape."""


def run(
    config: LoraSFTConfig,
    *,
    train_rows: list[dict],
    eval_rows: list[dict],
    output_dir: Path,
    progress: ProgressFn | None = None,
    resume_from: Path | None = None,
    should_stop: StopFn | None = None,
) -> RecipeResult:
    """Train a LoRA adapter on ``train_rows`` (SFT rows), evaluate on ``eval_rows``.

    Returns metrics ``train_loss``, ``eval_loss``, ``eval_loss_before``, ``global_step``,
    ``stopped_early``, ... and artifacts ``adapter``, ``tokenizer``, ``checkpoint``.
    Raises `RecipeCancelledError` (with the checkpoint) when ``should_stop()`` turns True.
    """
    return run_sft_training(
        config,
        recipe=NAME,
        train_rows=train_rows,
        eval_rows=eval_rows,
        output_dir=output_dir,
        progress=progress,
        resume_from=resume_from,
        should_stop=should_stop,
        peft_config=lambda model: lora_config(config, model),
    )
