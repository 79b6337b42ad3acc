"""Data and run helpers for the recipe tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def yes_rows(n: int, answer: str = "yes ok") -> list[dict]:
    """SFT rows whose answer is always the same: trivially learnable."""
    return [
        {
            "messages": [
                {"role": "user", "content": f"question {i}?"},
                {"role": "assistant", "content": answer},
            ]
        }
        for i in range(n)
    ]


def resume_counting_steps(
    run: Callable[..., Any], config: Any, *, rows: list[dict], output_dir: Path, checkpoint: Path
) -> tuple[Any, list[int]]:
    """Run a recipe (``lora_sft.run``, ``dpo.run``) resumed from ``checkpoint``; returns its
    result and the steps it trained (those that logged a loss)."""
    steps: list[int] = []
    result = run(
        config,
        train_rows=rows,
        eval_rows=[],
        output_dir=output_dir,
        resume_from=checkpoint,
        progress=lambda e: steps.append(e.step) if e.loss is not None else None,
    )
    return result, steps
