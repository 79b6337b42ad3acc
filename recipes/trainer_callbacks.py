"""TrainerCallbacks that turn trainer logs into `ProgressEvent`s and honour ``should_stop``."""

from __future__ import annotations

import math
import time
from typing import Any

from transformers import (
    EarlyStoppingCallback,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)

from recipes.run_types import ProgressEvent, ProgressFn, StopFn


class RecipeProgressCallback(TrainerCallback):
    """Reports progress after every log and stops training (saving a checkpoint) on request.

    ``history`` keeps every log dict the trainer produced, in order, for the recipe's metrics.
    ``cancelled`` is True once ``should_stop()`` returned True.
    """

    def __init__(self, *, progress: ProgressFn | None, should_stop: StopFn | None) -> None:
        self.progress = progress
        self.should_stop = should_stop
        self.history: list[dict[str, Any]] = []
        self.cancelled = False
        self._t0 = 0.0
        self._start_step = 0

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        self._t0 = time.monotonic()
        self._start_step = state.global_step
        self._emit(state, "train", message=f"training for {state.max_steps} steps")

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        if state.global_step >= state.max_steps > 0:
            return  # the last step has run: finishing beats a checkpoint with nothing left to do
        if self.should_stop is not None and self.should_stop():
            self.cancelled = True
            control.should_training_stop = True
            control.should_save = True  # leave a checkpoint a resumed job continues from

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kw: Any,
    ) -> None:
        if not logs:
            return
        entry = {"step": state.global_step, **logs}
        self.history.append(entry)
        numeric = {
            k: float(v)
            for k, v in logs.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        }
        loss = numeric.get("loss", numeric.get("eval_loss"))
        phase = "eval" if any(k.startswith("eval_") for k in numeric) else "train"
        self._emit(state, phase, loss=loss, metrics=numeric)

    def _emit(
        self,
        state: TrainerState,
        phase: str,
        *,
        loss: float | None = None,
        metrics: dict[str, float] | None = None,
        message: str = "",
    ) -> None:
        if self.progress is None:
            return
        done = state.global_step - self._start_step
        left = max(state.max_steps - state.global_step, 0)
        elapsed = time.monotonic() - self._t0
        eta = elapsed / done * left if done > 0 else None
        self.progress(
            ProgressEvent(
                phase=phase,
                step=state.global_step,
                total_steps=state.max_steps,
                loss=loss,
                metrics=metrics or {},
                eta_s=eta,
                message=message,
            )
        )


class MlflowCallback(TrainerCallback):
    """Feeds an `recipes.tracking.MlflowTracker`: starts its run, logs every trainer log."""

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        if state.is_world_process_zero:
            self.tracker.start()

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kw: Any,
    ) -> None:
        if logs and state.is_world_process_zero:
            self.tracker.log_metrics(logs, step=state.global_step)


def training_callbacks(
    config: Any,
    *,
    progress: ProgressFn | None,
    should_stop: StopFn | None,
    early_stop: bool,
    tracker: Any | None = None,
) -> tuple[RecipeProgressCallback, list[TrainerCallback]]:
    """The progress/cancel callback, early stopping on the holdout loss when asked, and the
    MLflow callback when a tracker is given."""
    progress_cb = RecipeProgressCallback(progress=progress, should_stop=should_stop)
    callbacks: list[TrainerCallback] = [progress_cb]
    if tracker is not None:
        callbacks.append(MlflowCallback(tracker))
    if early_stop:
        callbacks.append(
            EarlyStoppingCallback(
                early_stopping_patience=config.early_stopping_patience,
                early_stopping_threshold=config.early_stopping_threshold,
            )
        )
    return progress_cb, callbacks


def last_logged(history: list[dict[str, Any]], key: str) -> float | None:
    """The last value logged under ``key``."""
    for entry in reversed(history):
        value = entry.get(key)
        if isinstance(value, int | float):
            return float(value)
    return None


def first_logged(history: list[dict[str, Any]], key: str) -> float | None:
    for entry in history:
        value = entry.get(key)
        if isinstance(value, int | float):
            return float(value)
    return None
