"""Full supervised fine-tuning: every weight trained. The expensive option.

Use it only when LoRA measurably falls short: it needs roughly 4x the model's size in memory
for weights, gradients and AdamW state (plus activations) - ~2.2 GB for the 135M default, ~112
GB for a 7B model in float32 - writes a full model copy per checkpoint and per result, and
forgets more of the base model's general ability. Defaults differ from LoRA: lr 2e-5 (full
updates need a ~10x smaller step). Output: ``model/`` (a complete model folder with tokenizer),
``checkpoints/`` and ``train_log.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from recipes.run_types import ProgressFn, RecipeResult, StopFn
from recipes.sft_training import SFTTrainingConfig, run_sft_training

NAME = "full_sft"


@dataclass
class FullSFTConfig(SFTTrainingConfig):
    """Full fine-tuning settings (the fields of `SFTTrainingConfig`, with a smaller lr)."""

    learning_rate: float = field(
        default=2e-5,
        metadata={
            "help": "Peak learning rate. 2e-5: all weights move, so ~10x below LoRA's "
            "2e-4 to avoid wrecking what the base model knows."
        },
    )
    save_total_limit: int = field(
        default=1,
        metadata={
            "help": "Checkpoints kept on disk. 1: each one is a full model plus optimizer "
            "state (~3x the model size)."
        },
    )


def run(
    config: FullSFTConfig,
    *,
    train_rows: list[dict],
    eval_rows: list[dict],
    output_dir: Path,
    progress: ProgressFn | None = None,
    resume_from: Path | None = None,
    should_stop: StopFn | None = None,
) -> RecipeResult:
    """Train all weights on ``train_rows``; artifacts ``model``, ``tokenizer``, ``checkpoint``."""
    return run_sft_training(
        config,
        recipe=NAME,
        train_rows=train_rows,
        eval_rows=eval_rows,
        output_dir=output_dir,
        progress=progress,
        resume_from=resume_from,
        should_stop=should_stop,
        peft_config=None,
    )
