"""QLoRA supervised fine-tuning: LoRA on a 4-bit NF4 base (bitsandbytes), for tight GPU memory.

Same recipe as `recipes.lora_sft` (same defaults, same outputs) with the base model loaded in
4-bit NF4 with double quantisation (weights take ~0.55 bytes/parameter instead of 2), bf16
compute, k-bit training preparation and a paged 8-bit AdamW that spills optimizer state to CPU
memory on spikes. Needs a CUDA GPU and the ``gpu`` extra (``pip install 'rung[gpu]'`` ->
bitsandbytes). Without a GPU it fails at once, before loading anything, with
`RecipeEnvironmentError`: run ``lora_sft`` instead or send the job to a GPU worker.
The adapter it saves is a plain LoRA adapter: serve it on the unquantised base (or merge it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from recipes.config_base import require
from recipes.devices import require_cuda, require_package
from recipes.lora_adapters import lora_config
from recipes.lora_sft import LoraSFTConfig
from recipes.run_types import ProgressFn, RecipeResult, StopFn
from recipes.sft_training import run_sft_training

NAME = "qlora_sft"


@dataclass
class QLoraSFTConfig(LoraSFTConfig):
    """QLoRA settings: all of `LoraSFTConfig` plus the quantisation of the base."""

    gradient_checkpointing: bool = field(
        default=True,
        metadata={
            "help": "On by default for QLoRA: it is the memory-tight option, and "
            "activations dominate memory once the weights are 4-bit."
        },
    )
    bnb_4bit_quant_type: Literal["nf4", "fp4"] = field(
        default="nf4",
        metadata={
            "help": "4-bit data type. nf4 (default) matches normally distributed weights "
            "better than fp4 (the QLoRA paper's choice)."
        },
    )
    bnb_4bit_use_double_quant: bool = field(
        default=True,
        metadata={
            "help": "Quantise the quantisation constants too: ~0.4 bits/parameter saved "
            "at no measurable quality cost."
        },
    )
    bnb_4bit_compute_dtype: Literal["bfloat16", "float16"] = field(
        default="bfloat16",
        metadata={
            "help": "Dtype of the matmuls. bfloat16 (default) on Ampere+; float16 on older GPUs."
        },
    )
    optim: str = field(
        default="paged_adamw_8bit",
        metadata={
            "help": "Optimizer. paged_adamw_8bit: 8-bit state, paged to CPU memory on "
            "spikes, so long rows do not crash the run."
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require(
            self.optim.startswith("paged_") or self.optim.startswith("adamw"),
            "use a paged optimizer such as paged_adamw_8bit or an adamw_* one",
            field="optim",
        )


def check_environment() -> None:
    """Raise `RecipeEnvironmentError` unless a CUDA GPU and bitsandbytes are present."""
    hint = "use lora_sft or run on a GPU worker (queue gpu)"
    require_cuda(NAME, hint=hint)
    require_package(
        "bitsandbytes",
        recipe=NAME,
        install="install the GPU extra (pip install 'rung[gpu]') on the GPU worker, or " + hint,
    )


def run(
    config: QLoraSFTConfig,
    *,
    train_rows: list[dict],
    eval_rows: list[dict],
    output_dir: Path,
    progress: ProgressFn | None = None,
    resume_from: Path | None = None,
    should_stop: StopFn | None = None,
) -> RecipeResult:
    """Train a LoRA adapter on a 4-bit base; see `recipes.lora_sft.run` for inputs and outputs."""
    check_environment()
    if config.device == "cpu":
        from recipes.errors import RecipeConfigError

        raise RecipeConfigError(
            "qlora_sft cannot run with device=cpu; use lora_sft on CPU", field="device"
        )
    import torch
    from transformers import BitsAndBytesConfig

    compute_dtype = getattr(torch, config.bnb_4bit_compute_dtype)
    quantization = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=config.bnb_4bit_quant_type,
        bnb_4bit_use_double_quant=config.bnb_4bit_use_double_quant,
        bnb_4bit_compute_dtype=compute_dtype,
    )

    def prepare(model: Any, cfg: QLoraSFTConfig) -> Any:
        from peft import prepare_model_for_kbit_training

        return prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=cfg.gradient_checkpointing
        )

    return run_sft_training(
        config,
        recipe=NAME,
        train_rows=train_rows,
        eval_rows=eval_rows,
        output_dir=output_dir,
        progress=progress,
        resume_from=resume_from,
        should_stop=should_stop,
        peft_config=lambda model: lora_config(config, model),
        model_kwargs={
            "quantization_config": quantization,
            "device_map": {"": 0},
            "dtype": compute_dtype,
        },
        extra_args={"optim": config.optim},
        prepare_model=prepare,
    )
