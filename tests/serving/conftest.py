"""Serving tests: a tiny random Llama with two LoRA adapters, served on a free loopback port."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from app.serving.engine import GenerationEngine  # noqa: E402
from app.serving.launch import ModelServerThread  # noqa: E402
from tests.tiny_llama import make_tiny_llama  # noqa: E402


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
