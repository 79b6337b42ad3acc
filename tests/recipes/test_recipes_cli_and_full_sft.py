"""The recipes CLI reports config errors clearly; full_sft trains every weight."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from recipes import full_sft
from recipes.cli import app
from recipes.full_sft import FullSFTConfig
from tests.recipes.sft_rows import yes_rows


def test_cli_rejects_unknown_keys_and_shows_help(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["run", "lora_sft", "--out", str(tmp_path), "--set", "lora_rr=3"])
    assert result.exit_code == 2
    assert "unknown key 'lora_rr'" in result.output and "lora_r" in result.output
    shown = runner.invoke(app, ["show", "lora_sft"])
    assert shown.exit_code == 0 and "lora_alpha = 32" in shown.output


def test_cli_runs_a_recipe_from_jsonl(tiny_model: Path, tmp_path: Path) -> None:
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(json.dumps(r) for r in yes_rows(4)))
    result = CliRunner().invoke(
        app,
        [
            "run",
            "lora_sft",
            "--out",
            str(tmp_path / "out"),
            "--train",
            str(train),
            "--set",
            f"base_model={tiny_model}",
            "--set",
            "max_steps=1",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout[result.stdout.index("{") :])
    assert payload["metrics"]["global_step"] == 1
    assert ["adapter", str(tmp_path / "out" / "adapter")] in payload["artifacts"]


def test_full_sft_changes_the_weights(tiny_model: Path, tmp_path: Path) -> None:
    result = full_sft.run(
        FullSFTConfig(base_model=str(tiny_model), max_steps=2, learning_rate=1e-2),
        train_rows=yes_rows(4),
        eval_rows=[],
        output_dir=tmp_path,
    )
    model_dir = result.artifact("model")
    before = load_file(str(tiny_model / "model.safetensors"))
    after = load_file(str(model_dir / "model.safetensors"))
    assert set(before) == set(after)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert len(changed) > len(before) // 2  # all weights train, not an adapter
    assert result.metrics["trainable_params"] == result.metrics["total_params"]
