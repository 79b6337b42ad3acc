"""Find the trainer checkpoint a resumed job continues from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recipes.errors import RecipeConfigError

CHECKPOINTS_SUBDIR = "checkpoints"


def is_checkpoint(folder: Path) -> bool:
    return (folder / "trainer_state.json").is_file()


def find_checkpoint(resume_from: Path | None) -> Path | None:
    """The checkpoint to resume from.

    ``resume_from`` may be a checkpoint folder (has ``trainer_state.json``), a folder holding
    ``checkpoint-N`` folders, or a previous run's ``output_dir`` (checkpoints in
    ``output_dir/checkpoints``). The highest step wins. None when ``resume_from`` is None or holds
    no checkpoint yet (a job that died before its first save starts again from step 0).
    A path that does not exist is a user error.
    """
    if resume_from is None:
        return None
    folder = Path(resume_from).expanduser()
    if not folder.exists():
        raise RecipeConfigError(f"resume_from {folder} does not exist", field="resume_from")
    if is_checkpoint(folder):
        return folder
    for parent in (folder, folder / CHECKPOINTS_SUBDIR):
        found = [
            p
            for p in parent.glob("checkpoint-*")
            if p.is_dir() and p.name.split("-")[-1].isdigit() and is_checkpoint(p)
        ]
        if found:
            return max(found, key=lambda p: int(p.name.split("-")[-1]))
    return None


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest checkpoint written under ``output_dir/checkpoints``, if any."""
    checkpoints = output_dir / CHECKPOINTS_SUBDIR
    return find_checkpoint(checkpoints) if checkpoints.exists() else None


def trained_artifacts(kind: str, final_dir: Path, output_dir: Path) -> list[tuple[str, Path]]:
    """What a training recipe hands back: the weights (``adapter`` or ``model``), the tokenizer
    saved beside them, and the last checkpoint when one was written."""
    artifacts: list[tuple[str, Path]] = [(kind, final_dir), ("tokenizer", final_dir)]
    last = latest_checkpoint(output_dir)
    if last is not None:
        artifacts.append(("checkpoint", last))
    return artifacts


def checkpoint_step(checkpoint: Path) -> int:
    """The global step a checkpoint was saved at."""
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    return int(state.get("global_step", 0))


def train(trainer: Any, checkpoint: Path | None) -> Any:
    """``trainer.train()``, resuming from ``checkpoint`` when there is one.

    A checkpoint saved at the last step (a run stopped, killed or its lease lost after its final
    save) is a finished run: its weights and state are loaded and nothing is trained. HF's
    Trainer resumed there runs one more step whenever the last step is not an epoch's end.
    Loading goes through the Trainer's own checkpoint loader (adapters, full weights, FSDP); the
    returned training loss is the mean of the losses the checkpoint logged, its runtime 0.
    """
    from transformers.trainer_utils import TrainOutput

    if checkpoint is None:
        return trainer.train()
    max_steps = int(trainer.args.max_steps)
    if max_steps <= 0 or checkpoint_step(checkpoint) < max_steps:
        return trainer.train(resume_from_checkpoint=str(checkpoint))
    from transformers.trainer_callback import TrainerState

    trainer._load_from_checkpoint(str(checkpoint))
    trainer.state = TrainerState.load_from_json(str(checkpoint / "trainer_state.json"))
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    loss = float(sum(losses) / len(losses)) if losses else 0.0
    return TrainOutput(trainer.state.global_step, loss, {"train_runtime": 0.0})
