"""dpo on the tiny model: reward margins rise on a trivially learnable preference."""

from __future__ import annotations

import json
from pathlib import Path

from recipes import dpo
from recipes.dpo import DPORecipeConfig
from tests.recipes.sft_rows import resume_counting_steps


def _pairs(n: int) -> list[dict]:
    return [{"prompt": f"Question {i}?", "chosen": "yes", "rejected": "no"} for i in range(n)]


def test_reward_margins_rise(tiny_model: Path, tmp_path: Path) -> None:
    config = DPORecipeConfig(
        base_model=str(tiny_model),
        max_steps=12,
        learning_rate=5e-3,
        logging_steps=2,
        save_steps=100,
        early_stopping_patience=0,
        warmup_ratio=0.0,
    )
    result = dpo.run(config, train_rows=_pairs(8), eval_rows=_pairs(4), output_dir=tmp_path)
    m = result.metrics
    # read from the trainer's logged rewards/margins and rewards/accuracies
    log = json.loads((tmp_path / "train_log.json").read_text())
    margins = [e["rewards/margins"] for e in log if "rewards/margins" in e]
    assert len(margins) >= 3 and margins[-1] > margins[0] + 0.05
    assert m["reward_margin_last"] == margins[-1]
    assert m["reward_accuracy_last"] == 1.0
    assert abs(m["eval_reward_margin_before"]) < 1e-6  # fresh adapter == reference
    assert m["eval_reward_margin"] > 0.05 and m["eval_reward_accuracy"] == 1.0
    assert (result.artifact("adapter") / "adapter_model.safetensors").is_file()
    assert not (result.artifact("adapter") / "ref").exists()  # only the trained adapter


def test_dpo_from_an_sft_adapter(tiny_model: Path, tmp_path: Path) -> None:
    from recipes import lora_sft
    from recipes.lora_sft import LoraSFTConfig
    from tests.recipes.sft_rows import yes_rows

    sft = lora_sft.run(
        LoraSFTConfig(base_model=str(tiny_model), max_steps=2, learning_rate=5e-3),
        train_rows=yes_rows(4),
        eval_rows=[],
        output_dir=tmp_path / "sft",
    )
    config = DPORecipeConfig(
        base_model=str(tiny_model),
        adapter_path=str(sft.artifact("adapter")),
        max_steps=4,
        learning_rate=5e-3,
        logging_steps=1,
        save_steps=100,
        warmup_ratio=0.0,
    )
    result = dpo.run(config, train_rows=_pairs(4), eval_rows=_pairs(2), output_dir=tmp_path / "d")
    # the reference is the frozen SFT adapter: margins start at zero, then move
    assert abs(result.metrics["eval_reward_margin_before"]) < 1e-6
    assert result.metrics["reward_margin_last"] > 0
    assert "the SFT adapter" in result.summary


def test_resuming_from_a_checkpoint_at_the_last_step_trains_nothing(
    tiny_model: Path, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import load_file

    # 6 pairs in batches of 4: step 3 is mid-epoch, where HF's Trainer resumed would run step 4
    config = DPORecipeConfig(
        base_model=str(tiny_model),
        max_steps=3,
        save_steps=3,
        per_device_train_batch_size=4,
        learning_rate=5e-3,
        logging_steps=1,
        warmup_ratio=0.0,
    )
    first = dpo.run(config, train_rows=_pairs(6), eval_rows=[], output_dir=tmp_path / "first")
    checkpoint = tmp_path / "first" / "checkpoints" / "checkpoint-3"
    assert first.metrics["global_step"] == 3 and checkpoint.is_dir()
    again, steps = resume_counting_steps(
        dpo.run, config, rows=_pairs(6), output_dir=tmp_path / "again", checkpoint=checkpoint
    )
    assert again.metrics["global_step"] == 3 and steps == []
    trained = load_file(str(first.artifact("adapter") / "adapter_model.safetensors"))
    resumed = load_file(str(again.artifact("adapter") / "adapter_model.safetensors"))
    assert trained.keys() == resumed.keys()
    assert all(torch.equal(trained[k], resumed[k]) for k in trained)
