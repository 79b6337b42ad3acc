"""Serving tests: a tiny random Llama with two LoRA adapters, served on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.serving.engine import GenerationEngine
from app.serving.launch import ModelServerThread
from tests.tiny_llama import make_tiny_llama


def make_adapter(base: Path, out: Path, *, seed: int, scale: float = 0.5) -> Path:
    """A LoRA adapter with random (non-zero) A and B, so it really changes the outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    peft_model = get_peft_model(model, config)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, scale)
    peft_model.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-serving")
    base = make_tiny_llama(root / "base")
    return {
        "base": base,
        "alpha": make_adapter(base, root / "alpha", seed=1),
        "beta": make_adapter(base, root / "beta", seed=2),
    }


@pytest.fixture(scope="session")
def engine(tiny_model: dict[str, Path]) -> GenerationEngine:
    return GenerationEngine.load(
        base=tiny_model["base"],
        adapters={"alpha": tiny_model["alpha"], "beta": tiny_model["beta"]},
        base_name="tiny-llama",
    )


@pytest.fixture(scope="session")
def server(engine: GenerationEngine) -> Iterator[ModelServerThread]:
    with ModelServerThread(engine, default_max_tokens=16) as running:
        yield running
