"""End to end on the real default base model (SmolLM2-135M-Instruct), kept to a few steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recipes import lora_sft, prompting
from recipes.lora_sft import LoraSFTConfig
from recipes.prompting import PromptingConfig

pytestmark = pytest.mark.slow

ROWS = [
    {
        "messages": [
            {"role": "user", "content": f"Order {i}: where is my parcel?"},
            {"role": "assistant", "content": "Your parcel is on its way. Ref: OK-42."},
        ]
    }
    for i in range(6)
]


def test_lora_sft_on_smollm2_uses_the_patched_chatml_template(
    smollm2: Path, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    result = lora_sft.run(
        LoraSFTConfig(
            base_model=str(smollm2),
            max_steps=2,
            per_device_train_batch_size=2,
            max_length=128,
            logging_steps=1,
        ),
        train_rows=ROWS[:4],
        eval_rows=ROWS[4:],
        output_dir=tmp_path,
    )
    assert "the ChatML template patched with generation markers" in result.summary
    assert result.metrics["global_step"] == 2
    assert result.metrics["eval_loss"] < result.metrics["eval_loss_before"]
    adapter = result.artifact("adapter")
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["r"] == 16 and config["modules_to_save"] is None
    # the saved tokenizer keeps the model's own template (no training markers)
    saved = AutoTokenizer.from_pretrained(adapter)
    assert "{% generation %}" not in saved.chat_template
    assert saved.chat_template == AutoTokenizer.from_pretrained(smollm2).chat_template


def test_prompting_with_the_local_smollm2(smollm2: Path, tmp_path: Path) -> None:
    result = prompting.run(
        PromptingConfig(
            base_model=str(smollm2), max_new_tokens=16, num_examples=1, max_chars=400, max_reasks=0
        ),
        train_rows=[{"prompt": "What is the capital of Italy?", "completion": "Rome."}],
        eval_rows=[{"prompt": "What is the capital of France?", "completion": "Paris."}],
        output_dir=tmp_path,
    )
    report = json.loads(result.artifact("eval_report").read_text())
    assert "paris" in report[0]["candidate"].lower()  # a real instruct model answers
    assert result.metrics["candidate_similarity"] > 0.3
