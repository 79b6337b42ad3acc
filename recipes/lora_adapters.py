"""LoRA adapter settings and the peft config built from them (lora_sft, qlora_sft, dpo)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from recipes.config_base import RecipeConfig, require


@dataclass
class LoraFields(RecipeConfig):
    """The adapter's shape. Mixed into the configs of the LoRA-based recipes."""

    lora_r: int = field(
        default=16,
        metadata={
            "help": "Adapter rank. 16: enough capacity for style/format/behaviour changes "
            "at a few MB; raise to 32-64 for larger behaviour shifts."
        },
    )
    lora_alpha: int = field(
        default=32,
        metadata={
            "help": "Adapter scale numerator (scale = alpha / r). 32 = 2 x r, the common "
            "choice that keeps updates well-sized when r changes."
        },
    )
    lora_dropout: float = field(
        default=0.05,
        metadata={
            "help": "Dropout on the adapter input. 0.05: light regularisation for small datasets."
        },
    )
    target_modules: list[str] = field(
        default_factory=lambda: ["all-linear"],
        metadata={
            "help": "Modules to adapt. ['all-linear'] (default): every linear layer of the "
            "transformer blocks (not the output head), which trains better than "
            "attention-only LoRA. Or short names such as q_proj,v_proj."
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.lora_r >= 1, "must be >= 1 (e.g. 16)", field="lora_r")
        require(self.lora_alpha >= 1, "must be >= 1 (e.g. 2 x lora_r)", field="lora_alpha")
        require(0 <= self.lora_dropout < 1, "must be in [0, 1)", field="lora_dropout")
        require(bool(self.target_modules), "must name at least one module", field="target_modules")


def linear_module_names(model: Any) -> list[str]:
    """Short names of the linear layers in the transformer blocks (q_proj, ..., down_proj).

    This is what ``all-linear`` means, written out as the short names that both peft and vLLM's
    LoRA loader accept; the output head (``lm_head``) is left out.
    """
    import torch

    names: set[str] = set()
    for full_name, module in model.named_modules():
        is_linear = isinstance(module, torch.nn.Linear) or type(module).__name__ in {
            "Linear4bit",
            "Linear8bitLt",
        }
        if is_linear and "lm_head" not in full_name:
            names.add(full_name.rsplit(".", 1)[-1])
    return sorted(names)


def lora_config(config: LoraFields, model: Any) -> Any:
    """The peft ``LoraConfig`` for ``model``: adapter weights only (no modules_to_save, no
    embedding changes), so vLLM can serve it."""
    from peft import LoraConfig

    targets = (
        linear_module_names(model)
        if list(config.target_modules) == ["all-linear"]
        else list(config.target_modules)
    )
    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )
