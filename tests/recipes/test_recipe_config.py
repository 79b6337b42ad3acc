"""Recipe configs: unknown keys, bad values and CLI strings are handled with clear messages."""

from __future__ import annotations

import dataclasses

import pytest

from recipes import REGISTRY
from recipes.config_base import RecipeConfig
from recipes.dpo import DPORecipeConfig
from recipes.errors import RecipeConfigError, UnknownConfigKeyError
from recipes.lora_sft import LoraSFTConfig
from recipes.qlora_sft import QLoraSFTConfig


def test_unknown_key_is_named_and_valid_keys_listed() -> None:
    with pytest.raises(UnknownConfigKeyError) as info:
        LoraSFTConfig.from_dict({"lora_rank": 8})
    err = info.value
    assert err.key == "lora_rank"
    assert "lora_r" in err.valid_keys and "learning_rate" in err.valid_keys
    assert "unknown key 'lora_rank'" in str(err) and "lora_r," in str(err)
    assert isinstance(err, RecipeConfigError)


def test_cli_overrides_are_coerced_to_field_types() -> None:
    config = LoraSFTConfig.from_overrides(
        [
            "lora_r=8",
            "learning_rate=1e-4",
            "assistant_only_loss=false",
            "target_modules=q_proj,v_proj",
            "eval_steps=none",
            "num_train_epochs=2",
        ]
    )
    assert config.lora_r == 8 and isinstance(config.lora_r, int)
    assert config.learning_rate == pytest.approx(1e-4)
    assert config.assistant_only_loss is False
    assert config.target_modules == ["q_proj", "v_proj"]
    assert config.eval_steps is None
    assert config.num_train_epochs == 2.0 and isinstance(config.num_train_epochs, float)


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        (["lora_r=0"], "lora_r", "must be >= 1"),
        (["lora_r=eight"], "lora_r", "expected an integer"),
        (["learning_rate=2"], "learning_rate", "must be in (0, 1)"),
        (["assistant_only_loss=maybe"], "assistant_only_loss", "expected true/false"),
        (["device=tpu"], "device", "not one of"),
        (["lora_dropout=1.5"], "lora_dropout", "[0, 1)"),
        (["save_steps=10", "eval_steps=3"], "eval_steps", "multiple of eval_steps"),
    ],
)
def test_bad_values_are_rejected_with_the_field_named(
    overrides: list[str], field: str, fragment: str
) -> None:
    with pytest.raises(RecipeConfigError) as info:
        LoraSFTConfig.from_overrides(overrides)
    assert info.value.field == field
    assert fragment in str(info.value)


def test_override_without_equals_sign_is_explained() -> None:
    with pytest.raises(RecipeConfigError, match="key=value"):
        LoraSFTConfig.from_overrides(["lora_r"])


def test_dpo_rejects_a_missing_adapter_folder(tmp_path) -> None:
    with pytest.raises(RecipeConfigError, match=r"adapter_config\.json") as info:
        DPORecipeConfig(adapter_path=str(tmp_path))
    assert info.value.field == "adapter_path"


def test_documented_defaults() -> None:
    lora = LoraSFTConfig()
    assert (lora.lora_r, lora.lora_alpha, lora.lora_dropout) == (16, 32, 0.05)
    assert lora.target_modules == ["all-linear"] and lora.learning_rate == 2e-4
    assert lora.num_train_epochs == 1.0 and lora.assistant_only_loss is True
    dpo = DPORecipeConfig()
    assert dpo.beta == 0.1 and 5e-6 <= dpo.learning_rate <= 5e-5
    qlora = QLoraSFTConfig()
    assert qlora.bnb_4bit_quant_type == "nf4" and qlora.bnb_4bit_use_double_quant
    assert qlora.optim.startswith("paged_")


def test_every_registered_config_documents_every_field() -> None:
    assert {"prompting", "rag", "lora_sft", "qlora_sft", "dpo", "full_sft"} <= set(REGISTRY)
    for name, spec in REGISTRY.items():
        config = spec.config_class()
        assert spec.name == name
        assert spec.kind in {"prompt", "index", "adapter", "model"}
        for f in dataclasses.fields(config):
            assert len(f.metadata.get("help", "")) > 10, f"{name}.{f.name} has no help"
        # round trip through the dict form
        assert spec.config_class.from_dict(config.to_dict()) == config
    assert REGISTRY["qlora_sft"].needs_gpu and not REGISTRY["lora_sft"].needs_gpu


def test_a_fields_default_is_read_from_the_config_class() -> None:
    assert LoraSFTConfig.default("lora_r") == LoraSFTConfig().lora_r
    assert LoraSFTConfig.default("target_modules") == ["all-linear"]  # from its default_factory
    assert DPORecipeConfig.default("beta") == DPORecipeConfig().beta
    with pytest.raises(KeyError, match="no field 'lora_rank'"):
        LoraSFTConfig.default("lora_rank")

    @dataclasses.dataclass
    class Needs(RecipeConfig):
        path: str

    with pytest.raises(KeyError, match=r"Needs\.path has no default"):
        Needs.default("path")
