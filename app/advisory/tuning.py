"""How to tune, when tuning is on the plan: the method for the model and GPU, and the defaults.

Default LoRA hyperparameters and why:

* r = 16: a narrow behaviour (a format, a tone, a procedure) is a low-rank change; Hu et al. 2021
  found ranks as low as 1-8 already match full fine-tuning on GPT-3, and 16 leaves headroom for
  a few behaviours at once at a few tens of MB of adapter.
* lora_alpha = 2*r = 32: the update is scaled by alpha/r; keeping alpha/r = 2 fixed means the
  learning rate does not need re-tuning when r changes.
* learning rate 2e-4: the adapter's B matrix starts at zero, so LoRA needs roughly ten times the
  learning rate of full fine-tuning; 2e-4 is the value the QLoRA paper (Dettmers et al. 2023)
  used for 7B-13B models (1e-4 for 33B-65B).
* 1 epoch: on a few hundred examples, more passes memorise the answers instead of the behaviour;
  add an epoch only if the holdout still improves.
* every linear layer (target_modules="all-linear"): the QLoRA paper found adapters on all linear
  layers are needed to match full fine-tuning; attention-only adapters fall short.
"""

from __future__ import annotations

from app.advisory.memory import (
    DEFAULT_SETUP,
    METHOD_NAMES,
    USABLE_FRACTION,
    choose_method,
    estimate_all,
)
from app.advisory.schemas import Hyperparameter, ProjectContext, TuningAdvice
from recipes.dpo import DPORecipeConfig
from recipes.full_sft import FullSFTConfig
from recipes.lora_sft import LoraSFTConfig

# the values the recipes run with, so the advice names them
LORA_R = LoraSFTConfig.default("lora_r")
LORA_ALPHA = LoraSFTConfig.default("lora_alpha")
LORA_LEARNING_RATE = LoraSFTConfig.default("learning_rate")
FULL_LEARNING_RATE = FullSFTConfig.default("learning_rate")
EPOCHS = int(LoraSFTConfig.default("num_train_epochs"))
DPO_BETA = DPORecipeConfig.default("beta")


def _lora_hyperparameters() -> list[Hyperparameter]:
    return [
        Hyperparameter(
            name="r",
            value=LORA_R,
            why="A narrow behaviour is a low-rank change; the LoRA paper matched full "
            "fine-tuning with ranks of 1-8. 16 leaves headroom for several behaviours.",
        ),
        Hyperparameter(
            name="lora_alpha",
            value=LORA_ALPHA,
            why="alpha = 2*r keeps the update scale alpha/r at 2, so the learning rate "
            "carries over when you change r.",
        ),
        Hyperparameter(
            name="learning_rate",
            value=LORA_LEARNING_RATE,
            why="Adapters start at zero and need about 10x the full fine-tuning rate; 2e-4 is "
            "what the QLoRA paper used for 7B-13B models (use 1e-4 from about 30B up).",
        ),
        Hyperparameter(
            name="num_train_epochs",
            value=EPOCHS,
            why="More passes over a few hundred examples memorise answers rather than teach the "
            "behaviour; add an epoch only while the holdout still improves.",
        ),
        Hyperparameter(
            name="target_modules",
            value="all-linear",
            why="The QLoRA paper found adapters on every linear layer are needed to match full "
            "fine-tuning; attention-only adapters fall short.",
        ),
        Hyperparameter(
            name="lora_dropout",
            value=0.05,
            why="A little regularisation for small datasets; it costs nothing at inference.",
        ),
    ]


def _qlora_hyperparameters() -> list[Hyperparameter]:
    return [
        Hyperparameter(
            name="bnb_4bit_quant_type",
            value="nf4",
            why="4-bit NormalFloat is information-theoretically optimal for normally "
            "distributed weights (QLoRA paper).",
        ),
        Hyperparameter(
            name="bnb_4bit_use_double_quant",
            value=True,
            why="Quantizing the quantization constants saves about 0.37 bits per parameter "
            "(3 GB on a 65B model).",
        ),
        Hyperparameter(
            name="optim",
            value="paged_adamw_8bit",
            why="Paged optimizer state moves to CPU memory on spikes instead of running out "
            "of GPU memory.",
        ),
    ]


def _full_hyperparameters() -> list[Hyperparameter]:
    return [
        Hyperparameter(
            name="learning_rate",
            value=FULL_LEARNING_RATE,
            why="Every weight moves: a rate about 10-20x below LoRA's keeps the model from "
            "forgetting what it knew.",
        ),
        Hyperparameter(
            name="num_train_epochs",
            value=EPOCHS,
            why="More passes over a small dataset memorise it; watch the holdout.",
        ),
    ]


def _dpo_hyperparameters() -> list[Hyperparameter]:
    return [
        Hyperparameter(
            name="beta",
            value=DPO_BETA,
            why="How far DPO may move from the reference model; 0.1 is the DPO paper's default "
            "and a safe start (higher stays closer to the reference).",
        ),
        Hyperparameter(
            name="ref_model",
            value="adapter disabled",
            why="With a LoRA adapter the base with the adapter switched off is the reference: "
            "no second copy of the model in memory.",
        ),
    ]


def tuning_advice(*, context: ProjectContext | None, with_dpo: bool) -> TuningAdvice:
    """The tuning method and its defaults for this project's model and GPU."""
    params_b = context.params_b if context else None
    gpu_gb = context.gpu_memory_gb if context else None
    base_model = context.base_model if context else None
    assumptions = DEFAULT_SETUP.describe()
    if params_b is not None and gpu_gb is not None:
        choice = choose_method(params_b, gpu_gb)
        method, fits, reasoning, memory = (
            choice.method,
            choice.fits,
            list(choice.reasoning),
            choice.estimates,
        )
    else:
        method, fits = "lora", None
        memory = estimate_all(params_b=params_b) if params_b is not None else []
        missing = " and ".join(
            name
            for name, value in (("the base model size", params_b), ("the GPU memory", gpu_gb))
            if value is None
        )
        reasoning = [
            f"LoRA by default: the project does not record {missing}, so the memory fit "
            "cannot be checked. Set them and the report picks full SFT, LoRA or QLoRA "
            f"(a method fits when it needs at most {USABLE_FRACTION:.0%} of the card)."
        ]
    hyperparameters = _full_hyperparameters() if method == "full_sft" else _lora_hyperparameters()
    if method == "qlora":
        hyperparameters += _qlora_hyperparameters()
    if with_dpo:
        hyperparameters += _dpo_hyperparameters()
        reasoning.append(
            f"DPO runs with the same {METHOD_NAMES[method]} setup and about the same memory: "
            "two answers per prompt double the activations, which are small next to the weights."
            if method != "full_sft"
            else "DPO with full SFT needs a frozen reference copy of the model as well; "
            "run DPO with a LoRA adapter instead."
        )
    return TuningAdvice(
        method=method,
        base_model=base_model,
        params_b=params_b,
        gpu_memory_gb=gpu_gb,
        fits=fits,
        memory=memory,
        reasoning=reasoning,
        hyperparameters=hyperparameters,
        assumptions=assumptions,
    )
