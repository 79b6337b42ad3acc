"""Direct Preference Optimisation with LoRA (TRL ``DPOTrainer``): the behaviour rung.

Trains a LoRA adapter so the model prefers ``chosen`` over ``rejected`` answers. The reference
policy costs no second model copy: with ``ref_model=None`` TRL uses the same weights with the
trained adapter switched off (the base), or, when starting from an SFT'd adapter
(``adapter_path``), a frozen copy of that adapter - so DPO pulls away from the SFT model it
starts from, the usual SFT -> DPO pipeline, and the result is still one adapter on the base.

Defaults: beta 0.1 (the DPO paper's value: how far the policy may drift from the reference),
lr 2e-5 - full-weight DPO uses 5e-7..5e-6, LoRA moves far fewer weights and tolerates ~10x more;
2e-5 sits mid-range of the usual LoRA DPO range 5e-6..5e-5: enough to move reward margins in one
epoch of a few hundred pairs without collapsing the chosen answers' likelihood.

Metrics come from the trainer's logs (``rewards/margins``, ``rewards/accuracies``, and their
``eval_`` twins on the holdout): ``reward_margin_first``/``reward_margin_last`` (train, first and
last log), ``reward_accuracy_last``, ``eval_reward_margin``, ``eval_reward_accuracy``,
``eval_reward_margin_before`` (holdout, before training; ~0 from a fresh adapter), ``eval_loss``.
Output: ``adapter/`` (+ tokenizer), ``checkpoints/``, ``train_log.json``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recipes.checkpoints import (
    CHECKPOINTS_SUBDIR,
    find_checkpoint,
    latest_checkpoint,
    trained_artifacts,
)
from recipes.checkpoints import train as train_resuming
from recipes.config_base import require
from recipes.errors import RecipeCancelledError, RecipeConfigError
from recipes.lora_adapters import LoraFields, lora_config
from recipes.rows import dpo_rows
from recipes.run_types import ProgressEvent, ProgressFn, RecipeResult, StopFn, emit, finish
from recipes.sft_training import load_model, runtime_error
from recipes.tracking import tracker_for, trainer_report_args, with_run
from recipes.training_config import TrainingConfig

NAME = "dpo"


@dataclass
class DPORecipeConfig(LoraFields, TrainingConfig):
    """DPO settings: the shared training knobs, the adapter's shape, beta and the start point."""

    learning_rate: float = field(
        default=2e-5,
        metadata={
            "help": "Peak learning rate. 2e-5: mid-range for LoRA DPO (5e-6..5e-5); "
            "full-weight DPO would use ~10x less."
        },
    )
    beta: float = field(
        default=0.1,
        metadata={
            "help": "KL strength: how far the policy may move from the reference. 0.1 "
            "(DPO paper); lower lets preferences win over staying close to the start."
        },
    )
    adapter_path: str | None = field(
        default=None,
        metadata={
            "help": "An SFT'd LoRA adapter folder to start from (and to use, frozen, as the "
            "reference). None: a fresh adapter on the base model."
        },
    )
    per_device_train_batch_size: int = field(
        default=2,
        metadata={"help": "Pairs per step. 2: each pair is two sequences plus reference passes."},
    )
    per_device_eval_batch_size: int = field(
        default=4, metadata={"help": "Pairs per evaluation batch."}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.beta > 0, "must be > 0 (e.g. 0.1)", field="beta")
        if self.adapter_path is not None:
            folder = Path(self.adapter_path).expanduser()
            require(
                (folder / "adapter_config.json").is_file(),
                f"{folder} has no adapter_config.json; give the adapter/ folder of a lora_sft run",
                field="adapter_path",
            )


def run(
    config: DPORecipeConfig,
    *,
    train_rows: list[dict],
    eval_rows: list[dict],
    output_dir: Path,
    progress: ProgressFn | None = None,
    resume_from: Path | None = None,
    should_stop: StopFn | None = None,
) -> RecipeResult:
    """Train a DPO LoRA adapter on preference rows ``{"prompt", "chosen", "rejected"}``."""
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import DPOConfig, DPOTrainer

    from recipes.trainer_callbacks import first_logged, last_logged, training_callbacks

    if not train_rows:
        raise RecipeConfigError("dpo: train_rows is empty; give at least one preference pair")
    train = dpo_rows(train_rows, name="train_rows")
    evals = dpo_rows(eval_rows, name="eval_rows") if eval_rows else []
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = find_checkpoint(resume_from)

    emit(progress, ProgressEvent(phase="load", message=f"loading {config.base_model}"))
    loaded = load_model(config, recipe=NAME)
    model, tokenizer = loaded.model, loaded.tokenizer
    peft_config: Any | None = None
    if config.adapter_path is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(
            model, str(Path(config.adapter_path).expanduser()), is_trainable=True
        )
    else:
        peft_config = lora_config(config, model)

    has_eval = bool(evals)
    eval_steps = config.eval_steps or config.save_steps
    early_stop = has_eval and config.early_stopping_patience > 0
    try:
        args = DPOConfig(
            output_dir=str(output_dir / CHECKPOINTS_SUBDIR),
            beta=config.beta,
            num_train_epochs=config.num_train_epochs,
            max_steps=config.max_steps,
            learning_rate=config.learning_rate,
            per_device_train_batch_size=config.per_device_train_batch_size,
            per_device_eval_batch_size=config.per_device_eval_batch_size,
            gradient_accumulation_steps=config.gradient_accumulation_steps,
            max_length=config.max_length,
            warmup_steps=config.warmup_ratio,
            lr_scheduler_type=config.lr_scheduler_type,
            weight_decay=config.weight_decay,
            logging_steps=config.logging_steps,
            save_strategy="steps",
            save_steps=config.save_steps,
            save_total_limit=config.save_total_limit,
            eval_strategy="steps" if has_eval else "no",
            eval_steps=eval_steps if has_eval else None,
            load_best_model_at_end=early_stop,
            metric_for_best_model="eval_loss" if early_stop else None,
            greater_is_better=False if early_stop else None,
            gradient_checkpointing=config.gradient_checkpointing,
            bf16=loaded.bf16,
            use_cpu=not loaded.use_cuda,
            seed=config.seed,
            **trainer_report_args(config, output_dir),
            disable_tqdm=True,
            dataset_num_proc=None,
        )
    except (ValueError, TypeError) as exc:
        raise RecipeConfigError(f"dpo: the trainer rejected the settings: {exc}") from exc

    tracker = tracker_for(config, recipe=NAME)
    progress_cb, callbacks = training_callbacks(
        config, progress=progress, should_stop=should_stop, early_stop=early_stop, tracker=tracker
    )
    try:
        trainer = DPOTrainer(
            model=model,
            ref_model=None,
            args=args,
            train_dataset=Dataset.from_list(train),
            eval_dataset=Dataset.from_list(evals) if has_eval else None,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=callbacks,
        )
    except ValueError as exc:
        raise RecipeConfigError(f"dpo: cannot prepare the preference data: {exc}") from exc
    trainer.remove_callback(PrinterCallback)

    metrics: dict[str, float] = {}
    if has_eval and checkpoint is None:
        emit(progress, ProgressEvent(phase="eval", message="holdout rewards before training"))
        before = trainer.evaluate()
        metrics["eval_loss_before"] = float(before["eval_loss"])
        if "eval_rewards/margins" in before:
            metrics["eval_reward_margin_before"] = float(before["eval_rewards/margins"])
    try:
        train_out = train_resuming(trainer, checkpoint)
    except Exception as exc:
        raise runtime_error(NAME, exc) from exc
    if progress_cb.cancelled:
        raise RecipeCancelledError(
            f"dpo cancelled at step {trainer.state.global_step}",
            checkpoint_dir=latest_checkpoint(output_dir),
        )

    state, history = trainer.state, progress_cb.history
    metrics["train_loss"] = float(train_out.training_loss)
    metrics["global_step"] = float(state.global_step)
    metrics["max_steps"] = float(state.max_steps)
    metrics["train_runtime_s"] = float(train_out.metrics.get("train_runtime", 0.0))
    metrics["train_rows"] = float(len(train))
    metrics["stopped_early"] = float(state.global_step < state.max_steps)
    for key, name in (("reward_margin_first", "rewards/margins"),):
        value = first_logged(history, name)
        if value is not None:
            metrics[key] = value
    for key, name in (
        ("reward_margin_last", "rewards/margins"),
        ("reward_accuracy_last", "rewards/accuracies"),
        ("rewards_chosen_last", "rewards/chosen"),
        ("rewards_rejected_last", "rewards/rejected"),
    ):
        value = last_logged(history, name)
        if value is not None:
            metrics[key] = value
    if has_eval:
        final = trainer.evaluate()
        metrics["eval_loss"] = float(final["eval_loss"])
        for key, name in (
            ("eval_reward_margin", "eval_rewards/margins"),
            ("eval_reward_accuracy", "eval_rewards/accuracies"),
        ):
            if name in final:
                metrics[key] = float(final[name])

    emit(
        progress,
        ProgressEvent(
            phase="save", step=state.global_step, total_steps=state.max_steps, message="saving"
        ),
    )
    adapter_dir = output_dir / "adapter"
    trainer.model.save_pretrained(
        adapter_dir, selected_adapters=["default"], safe_serialization=True
    )
    tokenizer.save_pretrained(adapter_dir)
    (output_dir / "train_log.json").write_text(json.dumps(history, indent=1))
    artifacts = trained_artifacts("adapter", adapter_dir, output_dir)
    run_id = None
    if tracker is not None and trainer.is_world_process_zero():
        run_id = tracker.finish(metrics=metrics, artifacts=artifacts, step=state.global_step)
    return finish(
        progress,
        recipe=NAME,
        metrics=metrics,
        artifacts=artifacts,
        summary=with_run(_summary(config, metrics), run_id),
        config=dataclasses.asdict(config),
        step=state.global_step,
        total_steps=state.max_steps,
    )


def _summary(config: DPORecipeConfig, metrics: dict[str, float]) -> str:
    start = f"the SFT adapter {config.adapter_path}" if config.adapter_path else "the base model"
    parts = [
        f"dpo (beta {config.beta}) from {start} on {config.base_model}: "
        f"{int(metrics['global_step'])} of {int(metrics['max_steps'])} steps"
    ]
    if "reward_margin_last" in metrics:
        parts.append(
            f"train reward margin {metrics.get('reward_margin_first', 0.0):.3f} -> "
            f"{metrics['reward_margin_last']:.3f}, "
            f"reward accuracy {metrics.get('reward_accuracy_last', 0.0):.2f}"
        )
    if "eval_reward_margin" in metrics:
        parts.append(
            f"holdout reward margin {metrics['eval_reward_margin']:.3f}, "
            f"accuracy {metrics.get('eval_reward_accuracy', 0.0):.2f}"
        )
    parts.append("saved the adapter")
    return "; ".join(parts) + "."
