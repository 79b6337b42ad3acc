"""qlora_sft on a machine without CUDA fails at once, before loading anything."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from recipes import qlora_sft
from recipes.errors import RecipeEnvironmentError
from recipes.qlora_sft import QLoraSFTConfig
from tests.recipes.sft_rows import yes_rows


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_qlora_without_gpu_fails_clearly(tmp_path: Path, monkeypatch) -> None:
    import recipes.sft_training as sft

    def boom(*a, **k):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(sft, "load_model", boom)
    with pytest.raises(RecipeEnvironmentError) as info:
        qlora_sft.run(QLoraSFTConfig(), train_rows=yes_rows(2), eval_rows=[], output_dir=tmp_path)
    message = str(info.value)
    assert "qlora_sft needs a CUDA GPU" in message
    assert "lora_sft" in message and "queue gpu" in message
    assert not info.value.retryable
    assert not any(tmp_path.iterdir())
