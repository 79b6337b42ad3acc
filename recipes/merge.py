"""Merge a LoRA adapter into its base model for serving, and prove the merge changed nothing.

`merge_adapter` loads base + adapter, computes logits on a few prompts with the adapter
*unmerged* (before ``merge_and_unload``, which rewrites the base weights in place), merges,
computes them again and reports the largest absolute difference. The merged folder is written
to a temporary sibling and renamed into place, so ``output_dir`` is either complete or absent.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recipes.base_models import resolve_base_model
from recipes.errors import RecipeConfigError, RecipeEnvironmentError, RecipeRuntimeError

DEFAULT_CHECK_PROMPTS: tuple[str, ...] = (
    "What is the capital of France?",
    "Write a short, polite reply to a customer asking for a refund.",
    'Answer in JSON: {"ok": true}',
)


@dataclass
class MergeResult:
    """Where the merged model is and how closely it matches base + adapter."""

    output_dir: Path
    max_abs_diff: float
    tolerance: float
    prompts_checked: int
    per_prompt_max_abs_diff: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.tolerance


def merge_adapter(
    base: str | Path,
    adapter_dir: Path,
    output_dir: Path,
    *,
    prompts: tuple[str, ...] | list[str] = DEFAULT_CHECK_PROMPTS,
    tolerance: float = 1e-3,
) -> MergeResult:
    """Merge ``adapter_dir`` into ``base`` and save a plain model folder to ``output_dir``.

    ``tolerance`` bounds the max absolute logit difference (float32); above it the merged
    folder is not written and `RecipeRuntimeError` (not retryable) is raised.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter_dir = Path(adapter_dir).expanduser()
    output_dir = Path(output_dir).expanduser()
    if not (adapter_dir / "adapter_config.json").is_file():
        raise RecipeConfigError(
            f"{adapter_dir} is not a LoRA adapter folder (no adapter_config.json)",
            field="adapter_dir",
        )
    if output_dir.exists() and any(output_dir.iterdir()):
        raise RecipeConfigError(
            f"{output_dir} exists and is not empty; choose a new folder", field="output_dir"
        )
    if not prompts:
        raise RecipeConfigError("give at least one prompt to check the merge", field="prompts")
    resolved = resolve_base_model(str(base))
    try:
        tokenizer = _load_tokenizer(adapter_dir, resolved)
        model = AutoModelForCausalLM.from_pretrained(resolved, dtype=torch.float32)
    except OSError as exc:
        raise RecipeEnvironmentError(f"cannot load base model {base!r}: {exc}") from exc
    peft_model = PeftModel.from_pretrained(model, str(adapter_dir))
    peft_model.eval()

    batches = [_encode(tokenizer, prompt) for prompt in prompts]
    with torch.no_grad():
        unmerged = [peft_model(**batch).logits.clone() for batch in batches]
        merged_model = peft_model.merge_and_unload()
        merged_model.eval()
        merged = [merged_model(**batch).logits for batch in batches]
    diffs = [float((a - b).abs().max()) for a, b in zip(unmerged, merged, strict=True)]
    result = MergeResult(
        output_dir=output_dir,
        max_abs_diff=max(diffs),
        tolerance=tolerance,
        prompts_checked=len(diffs),
        per_prompt_max_abs_diff=diffs,
    )
    if not result.ok:
        raise RecipeRuntimeError(
            f"merged model differs from base + adapter by {result.max_abs_diff:.3g} "
            f"(tolerance {tolerance:g}); the adapter may not match this base model",
            retryable=False,
        )
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-", dir=output_dir.parent))
    try:
        tmp.chmod(0o755)
        merged_model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if output_dir.exists():
            output_dir.rmdir()  # checked empty above
        os.replace(tmp, output_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def _load_tokenizer(adapter_dir: Path, base: Path | str) -> Any:
    from transformers import AutoTokenizer

    source: Path | str = adapter_dir if (adapter_dir / "tokenizer_config.json").is_file() else base
    return AutoTokenizer.from_pretrained(source)


def _encode(tokenizer: Any, prompt: str) -> Any:
    if tokenizer.chat_template:
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )
    return tokenizer(prompt, return_tensors="pt")
