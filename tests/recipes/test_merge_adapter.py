"""merge_adapter: the merged model gives the same logits as base + adapter."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from recipes import lora_sft
from recipes.errors import RecipeConfigError
from recipes.lora_sft import LoraSFTConfig
from recipes.merge import merge_adapter
from tests.recipes.sft_rows import yes_rows


def test_merged_matches_unmerged(tiny_model: Path, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    trained = lora_sft.run(
        LoraSFTConfig(base_model=str(tiny_model), max_steps=3, learning_rate=1e-2),
        train_rows=yes_rows(8),
        eval_rows=[],
        output_dir=tmp_path / "run",
    )
    adapter = trained.artifact("adapter")
    result = merge_adapter(tiny_model, adapter, tmp_path / "merged")
    assert result.ok and result.prompts_checked == 3
    assert result.max_abs_diff < 1e-4

    # Independently: reload both and compare on a new prompt.
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    unmerged = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model), str(adapter)
    )
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    ids = tokenizer("The capital of Italy is Rome.", return_tensors="pt")
    with torch.no_grad():
        a, b, c = merged(**ids).logits, unmerged(**ids).logits, base(**ids).logits
    assert torch.allclose(a, b, atol=1e-4)
    assert not torch.allclose(a, c, atol=1e-4)  # the adapter did change the model
    assert not any(p.name.startswith(".merged-") for p in tmp_path.iterdir())


def test_merge_refuses_bad_folders(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(RecipeConfigError, match="not a LoRA adapter folder"):
        merge_adapter(tiny_model, tmp_path, tmp_path / "out")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    with pytest.raises(RecipeConfigError, match="not empty"):
        merge_adapter(tiny_model, adapter, busy)
