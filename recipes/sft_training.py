"""The supervised fine-tuning machinery shared by lora_sft, qlora_sft and full_sft.

`SFTTrainingConfig` holds the training knobs they share; `run_sft_training` loads the base
model, prepares assistant-only loss, runs TRL's ``SFTTrainer`` with progress, cancellation,
checkpoints, eval loss on the holdout and early stopping, then saves the result.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recipes.base_models import resolve_base_model
from recipes.chat_templates import training_chat_template
from recipes.checkpoints import (
    CHECKPOINTS_SUBDIR,
    checkpoint_step,
    find_checkpoint,
    latest_checkpoint,
    trained_artifacts,
)
from recipes.checkpoints import train as train_resuming
from recipes.devices import bf16_supported, cuda_available
from recipes.errors import (
    RecipeCancelledError,
    RecipeConfigError,
    RecipeEnvironmentError,
    RecipeRuntimeError,
)
from recipes.rows import prompt_completion, sft_rows
from recipes.run_types import ProgressEvent, ProgressFn, RecipeResult, StopFn, emit, finish
from recipes.tracking import tracker_for, trainer_report_args, with_run
from recipes.training_config import TrainingConfig


@dataclass
class SFTTrainingConfig(TrainingConfig):
    """Settings shared by the SFT recipes: `TrainingConfig` plus the loss mask."""

    assistant_only_loss: bool = field(
        default=True,
        metadata={
            "help": "Train only on assistant tokens (the answers), not on the prompts. True: the "
            "model should learn to answer, not to write user questions. Needs generation markers "
            "in the chat template: patched for ChatML/Llama-style templates, else completion-only "
            "loss on the last assistant turn (said in the summary)."
        },
    )


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    use_cuda: bool
    bf16: bool


def pick_device(config: TrainingConfig, *, recipe: str) -> tuple[bool, bool]:
    """(use_cuda, bf16) for the config's ``device`` on this machine."""
    has_cuda = cuda_available()
    if config.device == "cuda" and not has_cuda:
        raise RecipeEnvironmentError(
            f"{recipe}: device=cuda but no CUDA GPU is visible; use device=auto or cpu"
        )
    use_cuda = has_cuda and config.device != "cpu"
    return use_cuda, use_cuda and bf16_supported()


def load_tokenizer(base: Path | str) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(
    config: TrainingConfig, *, recipe: str, model_kwargs: dict[str, Any] | None = None
) -> LoadedModel:
    """Load tokenizer and model for training; typed errors for missing models."""
    import torch
    from transformers import AutoModelForCausalLM

    use_cuda, bf16 = pick_device(config, recipe=recipe)
    base = resolve_base_model(config.base_model)
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if bf16 else torch.float32}
    kwargs.update(model_kwargs or {})
    try:
        tokenizer = load_tokenizer(base)
        model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
    except OSError as exc:
        raise RecipeEnvironmentError(
            f"{recipe}: cannot load base model {config.base_model!r} ({exc}); give a local folder "
            "or a model available offline"
        ) from exc
    if use_cuda and "device_map" not in kwargs:
        model = model.to("cuda")
    return LoadedModel(model=model, tokenizer=tokenizer, use_cuda=use_cuda, bf16=bf16)


def prepare_datasets(
    tokenizer: Any,
    *,
    train_rows: list[dict],
    eval_rows: list[dict],
    assistant_only_loss: bool,
) -> tuple[Any, Any, str, bool]:
    """(train dataset, eval dataset or None, loss-mode sentence, assistant_only flag for TRL).

    Patches ``tokenizer.chat_template`` with generation markers when assistant-only loss is
    asked for and the template lacks them; the caller restores the original before saving.
    """
    from datasets import Dataset

    train = sft_rows(train_rows, name="train_rows")
    evals = sft_rows(eval_rows, name="eval_rows") if eval_rows else []
    use_assistant_mask = False
    if assistant_only_loss:
        template, how = training_chat_template(tokenizer)
        if template is not None:
            tokenizer.chat_template = template
            use_assistant_mask = True
            mode = f"assistant-only loss ({how})"
        else:
            train = [prompt_completion(r["messages"]) for r in train]
            evals = [prompt_completion(r["messages"]) for r in evals]
            mode = (
                f"completion-only loss on the last assistant turn: {how}, so assistant-only "
                "loss was not possible"
            )
    else:
        mode = "loss on the whole conversation (assistant_only_loss=False)"
    eval_ds = Dataset.from_list(evals) if evals else None
    return Dataset.from_list(train), eval_ds, mode, use_assistant_mask


def run_sft_training(
    config: SFTTrainingConfig,
    *,
    recipe: str,
    train_rows: list[dict],
    eval_rows: list[dict],
    output_dir: Path,
    progress: ProgressFn | None,
    resume_from: Path | None,
    should_stop: StopFn | None,
    peft_config: Callable[[Any], Any] | None,
    model_kwargs: dict[str, Any] | None = None,
    extra_args: dict[str, Any] | None = None,
    prepare_model: Any | None = None,
) -> RecipeResult:
    """Run SFT as described in the module doc.

    ``peft_config`` builds the peft config from the loaded model; None trains all weights.
    ``prepare_model(model, config)`` may wrap the model before training (QLoRA's k-bit prep).
    """
    from transformers import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    from recipes.trainer_callbacks import last_logged, training_callbacks

    if not train_rows:
        raise RecipeConfigError(f"{recipe}: train_rows is empty; give at least one SFT row")
    sft_rows(train_rows, name="train_rows")  # fail on bad rows before loading the model
    if eval_rows:
        sft_rows(eval_rows, name="eval_rows")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = find_checkpoint(resume_from)

    emit(progress, ProgressEvent(phase="load", message=f"loading {config.base_model}"))
    loaded = load_model(config, recipe=recipe, model_kwargs=model_kwargs)
    tokenizer, model = loaded.tokenizer, loaded.model
    if prepare_model is not None:
        model = prepare_model(model, config)
    peft = peft_config(model) if peft_config is not None else None
    original_template = tokenizer.chat_template
    train_ds, eval_ds, loss_mode, assistant_mask = prepare_datasets(
        tokenizer,
        train_rows=train_rows,
        eval_rows=eval_rows,
        assistant_only_loss=config.assistant_only_loss,
    )

    has_eval = eval_ds is not None
    eval_steps = config.eval_steps or config.save_steps
    early_stop = has_eval and config.early_stopping_patience > 0
    args: dict[str, Any] = {
        "output_dir": str(output_dir / CHECKPOINTS_SUBDIR),
        "num_train_epochs": config.num_train_epochs,
        "max_steps": config.max_steps,
        "learning_rate": config.learning_rate,
        "per_device_train_batch_size": config.per_device_train_batch_size,
        "per_device_eval_batch_size": config.per_device_eval_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "max_length": config.max_length,
        "warmup_steps": config.warmup_ratio,
        "lr_scheduler_type": config.lr_scheduler_type,
        "weight_decay": config.weight_decay,
        "logging_steps": config.logging_steps,
        "save_strategy": "steps",
        "save_steps": config.save_steps,
        "save_total_limit": config.save_total_limit,
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": eval_steps if has_eval else None,
        "load_best_model_at_end": early_stop,
        "metric_for_best_model": "eval_loss" if early_stop else None,
        "greater_is_better": False if early_stop else None,
        "assistant_only_loss": assistant_mask,
        "completion_only_loss": None,
        "gradient_checkpointing": config.gradient_checkpointing,
        "bf16": loaded.bf16,
        "use_cpu": not loaded.use_cuda,
        "seed": config.seed,
        **trainer_report_args(config, output_dir),
        "disable_tqdm": True,
        "dataset_num_proc": None,
        "packing": False,
    }
    args.update(extra_args or {})
    try:
        sft_config = SFTConfig(**args)
    except (ValueError, TypeError) as exc:
        raise RecipeConfigError(f"{recipe}: the trainer rejected the settings: {exc}") from exc

    tracker = tracker_for(config, recipe=recipe)
    progress_cb, callbacks = training_callbacks(
        config,
        progress=progress,
        should_stop=should_stop,
        early_stop=early_stop,
        tracker=tracker,
    )
    try:
        trainer = SFTTrainer(
            model=model,
            args=sft_config,
            train_dataset=train_ds,
            eval_dataset=eval_ds,
            processing_class=tokenizer,
            peft_config=peft,
            callbacks=callbacks,
        )
    except ValueError as exc:
        raise RecipeConfigError(f"{recipe}: cannot prepare training data: {exc}") from exc
    trainer.remove_callback(PrinterCallback)  # progress goes through our callback, not stdout

    metrics: dict[str, float] = {}
    if has_eval and checkpoint is None:
        emit(progress, ProgressEvent(phase="eval", message="holdout loss before training"))
        metrics["eval_loss_before"] = float(trainer.evaluate()["eval_loss"])
    try:
        train_out = train_resuming(trainer, checkpoint)
    except Exception as exc:
        raise runtime_error(recipe, exc) from exc
    if progress_cb.cancelled:
        raise RecipeCancelledError(
            f"{recipe} cancelled at step {trainer.state.global_step}",
            checkpoint_dir=latest_checkpoint(output_dir),
        )

    state = trainer.state
    metrics["train_loss"] = float(train_out.training_loss)
    metrics["global_step"] = float(state.global_step)
    metrics["max_steps"] = float(state.max_steps)
    metrics["epoch"] = float(state.epoch or 0.0)
    metrics["train_runtime_s"] = float(train_out.metrics.get("train_runtime", 0.0))
    metrics["train_rows"] = float(len(train_ds))
    metrics["stopped_early"] = float(state.global_step < state.max_steps)
    if checkpoint is not None:
        metrics["resumed_from_step"] = float(checkpoint_step(checkpoint))
    if has_eval:
        emit(
            progress,
            ProgressEvent(
                phase="eval",
                step=state.global_step,
                total_steps=state.max_steps,
                message="holdout loss",
            ),
        )
        eval_loss = float(trainer.evaluate()["eval_loss"])
        metrics["eval_loss"] = eval_loss
        metrics["eval_perplexity"] = math.exp(min(eval_loss, 50.0))
        metrics["eval_rows"] = float(len(eval_ds))
    last_train_loss = last_logged(progress_cb.history, "loss")
    if last_train_loss is not None:
        metrics["last_logged_loss"] = last_train_loss
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())
    metrics["trainable_params"] = float(trainable)
    metrics["total_params"] = float(total)

    emit(
        progress,
        ProgressEvent(
            phase="save", step=state.global_step, total_steps=state.max_steps, message="saving"
        ),
    )
    kind = "adapter" if peft is not None or _is_peft(trainer.model) else "model"
    final_dir = output_dir / kind
    trainer.model.save_pretrained(final_dir, safe_serialization=True)
    tokenizer.chat_template = original_template
    tokenizer.save_pretrained(final_dir)
    (output_dir / "train_log.json").write_text(json.dumps(progress_cb.history, indent=1))
    artifacts = trained_artifacts(kind, final_dir, output_dir)
    run_id = None
    if tracker is not None and trainer.is_world_process_zero():
        run_id = tracker.finish(metrics=metrics, artifacts=artifacts, step=state.global_step)
    summary = _summary(recipe, config, metrics, loss_mode, kind=kind, resumed=checkpoint)
    return finish(
        progress,
        recipe=recipe,
        metrics=metrics,
        artifacts=artifacts,
        summary=with_run(summary, run_id),
        config=dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {},
        step=state.global_step,
        total_steps=state.max_steps,
    )


def _is_peft(model: Any) -> bool:
    return hasattr(model, "peft_config")


def runtime_error(recipe: str, exc: BaseException) -> RecipeRuntimeError:
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return RecipeRuntimeError(
            f"{recipe} ran out of GPU memory: lower per_device_train_batch_size or max_length, "
            "turn on gradient_checkpointing, or use qlora_sft",
            retryable=False,
        )
    if isinstance(exc, MemoryError):
        return RecipeRuntimeError(
            f"{recipe} ran out of memory: lower per_device_train_batch_size or max_length",
            retryable=False,
        )
    return RecipeRuntimeError(
        f"{recipe} failed while training ({type(exc).__name__}: {exc}); a retry resumes from "
        "the last checkpoint",
        retryable=True,
    )


def _summary(
    recipe: str,
    config: SFTTrainingConfig,
    metrics: dict[str, float],
    loss_mode: str,
    *,
    kind: str,
    resumed: Path | None,
) -> str:
    parts = [
        f"{recipe} on {config.base_model}: {int(metrics['global_step'])} of "
        f"{int(metrics['max_steps'])} steps, train loss {metrics['train_loss']:.4f}"
    ]
    if "eval_loss" in metrics:
        before = metrics.get("eval_loss_before")
        change = f" (from {before:.4f})" if before is not None else ""
        parts.append(f"holdout loss {metrics['eval_loss']:.4f}{change}")
    if metrics.get("stopped_early"):
        parts.append("stopped early: the holdout loss stopped improving (best checkpoint kept)")
    if resumed is not None:
        parts.append(f"resumed from {resumed.name}")
    parts.append(f"used {loss_mode}")
    parts.append(f"saved the {kind}")
    return "; ".join(parts) + "."
