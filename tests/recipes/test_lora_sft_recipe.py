"""lora_sft on the tiny model: the adapter learns, the base does not change, jobs resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from recipes import lora_sft
from recipes.errors import RecipeCancelledError, RecipeConfigError
from recipes.lora_sft import LoraSFTConfig
from recipes.run_types import ProgressEvent
from tests.recipes.sft_rows import resume_counting_steps, yes_rows


def _config(model: Path, **kw) -> LoraSFTConfig:
    base = dict(
        base_model=str(model),
        learning_rate=5e-3,
        logging_steps=1,
        per_device_train_batch_size=4,
        warmup_ratio=0.0,
    )
    base.update(kw)
    return LoraSFTConfig(**base)


def test_adapter_learns_and_base_weights_stay(tiny_model: Path, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    events: list[ProgressEvent] = []
    result = lora_sft.run(
        _config(tiny_model, max_steps=8, save_steps=4),
        train_rows=yes_rows(16),
        eval_rows=yes_rows(4),
        output_dir=tmp_path,
        progress=events.append,
    )
    adapter = result.artifact("adapter")
    assert (adapter / "adapter_config.json").is_file()
    weights = load_file(str(adapter / "adapter_model.safetensors"))
    assert weights and all("lora_A" in k or "lora_B" in k for k in weights)
    # lora_B starts at zero: any non-zero value was learned
    assert max(float(v.abs().max()) for k, v in weights.items() if "lora_B" in k) > 0
    adapter_config = json.loads((adapter / "adapter_config.json").read_text())
    assert adapter_config["modules_to_save"] is None
    assert set(adapter_config["target_modules"]) == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }

    fresh = AutoModelForCausalLM.from_pretrained(tiny_model)
    fresh_state = {k: v.clone() for k, v in fresh.state_dict().items()}
    peft_model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model), str(adapter)
    )
    for name, tensor in peft_model.named_parameters():
        if "lora_" in name:
            continue
        key = name.replace("base_model.model.", "").replace(".base_layer", "")
        assert torch.equal(tensor, fresh_state[key]), name

    assert result.metrics["eval_loss"] < result.metrics["eval_loss_before"]
    assert result.metrics["global_step"] == 8
    assert "assistant-only loss" in result.summary
    train_events = [e for e in events if e.phase == "train" and e.loss is not None]
    assert [e.step for e in train_events] == sorted(e.step for e in train_events)
    assert train_events and all(e.total_steps == 8 for e in train_events)
    assert any(e.eta_s is not None for e in train_events)
    assert events[-1].phase == "done"


def test_cancel_then_resume_continues_the_step_count(tiny_model: Path, tmp_path: Path) -> None:
    calls = {"n": 0}

    def stop_after_three_steps() -> bool:
        calls["n"] += 1
        return calls["n"] >= 3

    config = _config(tiny_model, max_steps=6, save_steps=100)
    with pytest.raises(RecipeCancelledError) as info:
        lora_sft.run(
            config,
            train_rows=yes_rows(8),
            eval_rows=[],
            output_dir=tmp_path,
            should_stop=stop_after_three_steps,
        )
    checkpoint = info.value.checkpoint_dir
    assert checkpoint is not None and checkpoint.name == "checkpoint-3"
    assert not (tmp_path / "adapter").exists()

    steps: list[int] = []
    result = lora_sft.run(
        config,
        train_rows=yes_rows(8),
        eval_rows=[],
        output_dir=tmp_path,
        resume_from=tmp_path,
        progress=lambda e: steps.append(e.step) if e.loss is not None else None,
    )
    assert result.metrics["resumed_from_step"] == 3
    assert result.metrics["global_step"] == 6
    assert steps and min(steps) > 3  # training went on from step 4: no step trained twice
    assert "resumed from checkpoint-3" in result.summary


def test_a_stop_at_the_last_step_finishes_and_resuming_there_trains_nothing(
    tiny_model: Path, tmp_path: Path
) -> None:
    # 8 rows in batches of 4: 2 steps an epoch, so step 3 is mid-epoch (HF's Trainer resumed
    # there ran a 4th step: a job whose last step raced a stop came back with 17 of 16 steps)
    config = _config(tiny_model, max_steps=3, save_steps=3)
    calls = {"n": 0}

    def stop_at_the_third_step() -> bool:
        calls["n"] += 1
        return calls["n"] >= 3

    first = lora_sft.run(
        config,
        train_rows=yes_rows(8),
        eval_rows=[],
        output_dir=tmp_path / "first",
        should_stop=stop_at_the_third_step,  # too late: every step has run
    )
    assert first.metrics["global_step"] == 3 and first.metrics["stopped_early"] == 0
    checkpoint = tmp_path / "first" / "checkpoints" / "checkpoint-3"
    assert checkpoint.is_dir()

    again, steps = resume_counting_steps(
        lora_sft.run, config, rows=yes_rows(8), output_dir=tmp_path / "again", checkpoint=checkpoint
    )
    assert again.metrics["global_step"] == 3 and again.metrics["resumed_from_step"] == 3
    assert steps == [], "no step trained after the last one"
    trained = load_file(str(tmp_path / "first" / "adapter" / "adapter_model.safetensors"))
    resumed = load_file(str(tmp_path / "again" / "adapter" / "adapter_model.safetensors"))
    assert trained.keys() == resumed.keys()
    assert all(torch.equal(trained[k], resumed[k]) for k in trained)


def test_early_stopping_when_holdout_loss_rises(tiny_model: Path, tmp_path: Path) -> None:
    # Train on one answer, evaluate on another: the holdout loss rises as the adapter learns.
    result = lora_sft.run(
        _config(
            tiny_model,
            max_steps=40,
            save_steps=2,
            eval_steps=2,
            early_stopping_patience=1,
            learning_rate=2e-2,
        ),
        train_rows=yes_rows(8, "yes ok"),
        eval_rows=yes_rows(4, "no never false"),
        output_dir=tmp_path,
    )
    assert result.metrics["stopped_early"] == 1
    assert result.metrics["global_step"] < 40


def test_bad_rows_fail_before_any_model_is_loaded(tmp_path: Path, monkeypatch) -> None:
    import recipes.sft_training as sft

    def boom(*a, **k):
        raise AssertionError("model loaded")

    monkeypatch.setattr(sft, "load_model", boom)
    with pytest.raises(RecipeConfigError, match="SFT row 1: the last message must be"):
        lora_sft.run(
            LoraSFTConfig(),
            train_rows=[yes_rows(1)[0], {"messages": [{"role": "user", "content": "hi"}]}],
            eval_rows=[],
            output_dir=tmp_path,
        )
    with pytest.raises(RecipeConfigError, match="train_rows is empty"):
        lora_sft.run(LoraSFTConfig(), train_rows=[], eval_rows=[], output_dir=tmp_path)
