"""GPU memory estimates for full fine-tuning, LoRA and QLoRA, and the choice between them.

The estimates are sums of the parts every trainer holds on the GPU; each constant names its source.

* **Full SFT** in 16-bit mixed precision with Adam: 2 bytes of 16-bit weights, 2 bytes of 16-bit
  gradients and 12 bytes of optimizer state (a 32-bit master copy plus Adam's two moments) per
  parameter, 16 bytes in all (Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training
  Trillion Parameter Models", section 3.1: "mixed-precision training ... with Adam ... requires
  16Ψ bytes of memory"), plus activations.
* **LoRA**: the frozen base in 16 bits (2 bytes per parameter, no gradients, no optimizer state),
  plus the adapter: its weights, gradients and Adam moments in 32 bits (16 bytes per *adapter*
  parameter), plus activations (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language
  Models": on GPT-3 175B, "we reduce the VRAM consumption during training from 1.2TB to 350GB").
* **QLoRA**: the frozen base in 4-bit NormalFloat (0.5 bytes per parameter) plus its quantization
  constants; with double quantization those cost 8/64 + 32/(64*256) = 0.127 bits per parameter
  (Dettmers et al. 2023, "QLoRA: Efficient Finetuning of Quantized LLMs", section 3), plus the same
  adapter and activations as LoRA. Its paged optimizer can spill optimizer state to CPU memory on
  spikes; the estimate still counts that state on the GPU, so it errs high. The paper: QLoRA
  "reduces memory usage enough to finetune a 65B parameter model on a single 48GB GPU", where
  "regular 16-bit finetuning of a LLaMA 65B parameter model requires more than 780 GB of GPU
  memory".

Activations follow Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large Transformer
Models"): a transformer layer stores about 34*s*b*h bytes of 16-bit activations for sequence length
s, batch b and hidden size h, when attention does not keep its s*s score matrix (flash / memory-
efficient attention). With gradient checkpointing only each layer's 2*s*b*h-byte input is kept and
one layer is recomputed at a time. The logits and their gradient add 2*4*s*b*vocab bytes (float32).

The hidden size and depth come from the parameter count with the usual approximation
params ~ 12 * layers * hidden^2 and a depth of hidden/128 (LLaMA 7B: 4096/32, 65B: 8192/80,
GPT-3 175B: 12288/96). Each adapter targets every linear layer of a layer (q, k, v, o, gate, up,
down with an MLP width of 8/3 hidden), r*(d_in + d_out) parameters per matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from app.advisory.schemas import MemoryEstimate, TuningMethod
from recipes.lora_sft import LoraSFTConfig

GB = 1e9

FULL_WEIGHT_BYTES = 2.0
FULL_GRADIENT_BYTES = 2.0
FULL_OPTIMIZER_BYTES = 12.0  # fp32 master weights (4) + Adam first (4) and second (4) moments
LORA_BASE_BYTES = 2.0
QLORA_BASE_BYTES = 0.5
QLORA_CONSTANT_BYTES = 0.127 / 8  # double-quantized NF4 constants, 0.127 bits per parameter
ADAPTER_WEIGHT_BYTES = 4.0
ADAPTER_GRADIENT_BYTES = 4.0
ADAPTER_OPTIMIZER_BYTES = 8.0
ACTIVATION_BYTES_PER_LAYER = 34.0  # times s*b*h, Korthikanti et al. 2022, without s^2 terms
CHECKPOINT_BYTES_PER_LAYER = 2.0  # times s*b*h: one 16-bit layer input per layer
LOGIT_BYTES = 8.0  # times s*b*vocab: float32 logits and their gradient
RUNTIME_OVERHEAD_GB = 1.0  # CUDA context, kernels, allocator fragmentation
USABLE_FRACTION = 0.9  # plan to use at most 90% of the card
FULL_SFT_MAX_PARAMS_B = 1.0  # below this, a full copy is small enough to prefer full SFT
DEPTH_RATIO = 128  # hidden size per layer, see the module docstring
MLP_RATIO = 8 / 3


class MemoryEstimateError(ValueError):
    """An input to a memory estimate is out of range."""


@dataclass(frozen=True)
class TrainingSetup:
    """The run the estimate is for. Defaults: one 1,024-token sequence per step (use gradient
    accumulation for larger effective batches), gradient checkpointing on, the LoRA recipe's
    rank (16)."""

    seq_len: int = 1024
    batch_size: int = 1
    gradient_checkpointing: bool = True
    lora_r: int = LoraSFTConfig.default("lora_r")  # the rank the LoRA recipe trains with
    vocab_size: int = 32_000

    def describe(self) -> list[str]:
        return [
            f"sequence length {self.seq_len} tokens, micro-batch {self.batch_size} "
            "(larger effective batches through gradient accumulation)",
            "gradient checkpointing " + ("on" if self.gradient_checkpointing else "off"),
            f"LoRA rank {self.lora_r} on every linear layer; adapter and its Adam state in fp32",
            f"vocabulary {self.vocab_size:,} tokens; attention without stored score matrices",
            f"{RUNTIME_OVERHEAD_GB:g} GB for the CUDA context and allocator; "
            f"a method fits when it needs at most {USABLE_FRACTION:.0%} of the card",
        ]


DEFAULT_SETUP = TrainingSetup()


@dataclass(frozen=True)
class ModelShape:
    hidden: int
    layers: int

    @classmethod
    def from_params(cls, params_b: float) -> ModelShape:
        params = params_b * 1e9
        hidden = (params * DEPTH_RATIO / 12) ** (1 / 3)
        hidden = max(64, round(hidden / 64) * 64)
        layers = max(1, round(params / (12 * hidden * hidden)))
        return cls(hidden=hidden, layers=layers)

    def adapter_params(self, r: int) -> float:
        h = self.hidden
        mlp = MLP_RATIO * h
        attention = 4 * r * (h + h)
        feed_forward = 3 * r * (h + mlp)
        return self.layers * (attention + feed_forward)


@dataclass(frozen=True)
class MethodChoice:
    method: TuningMethod
    fits: bool
    reasoning: list[str]
    estimates: list[MemoryEstimate] = field(default_factory=list)


METHOD_NAMES: dict[str, str] = {"full_sft": "full SFT", "lora": "LoRA", "qlora": "QLoRA"}


def _check(params_b: float, gpu_memory_gb: float | None) -> None:
    if not params_b > 0 or not math.isfinite(params_b):
        raise MemoryEstimateError(
            f"params_b must be a positive number of billions of parameters, got {params_b!r}"
        )
    if gpu_memory_gb is not None and (not gpu_memory_gb > 0 or not math.isfinite(gpu_memory_gb)):
        raise MemoryEstimateError(
            f"gpu_memory_gb must be a positive number of gigabytes, got {gpu_memory_gb!r}"
        )


def _activations_gb(shape: ModelShape, setup: TrainingSetup) -> float:
    sbh = setup.seq_len * setup.batch_size * shape.hidden
    if setup.gradient_checkpointing:
        layers = shape.layers * CHECKPOINT_BYTES_PER_LAYER * sbh + ACTIVATION_BYTES_PER_LAYER * sbh
    else:
        layers = shape.layers * ACTIVATION_BYTES_PER_LAYER * sbh
    logits = LOGIT_BYTES * setup.seq_len * setup.batch_size * setup.vocab_size
    return (layers + logits) / GB


def estimate_memory(
    *,
    method: TuningMethod,
    params_b: float,
    gpu_memory_gb: float | None = None,
    setup: TrainingSetup = DEFAULT_SETUP,
) -> MemoryEstimate:
    """Peak GPU memory of one training process for `method` on a `params_b`-billion model."""
    _check(params_b, gpu_memory_gb)
    params = params_b * 1e9
    shape = ModelShape.from_params(params_b)
    activations = _activations_gb(shape, setup)
    if method == "full_sft":
        trainable = params
        weights = params * FULL_WEIGHT_BYTES / GB
        gradients = params * FULL_GRADIENT_BYTES / GB
        optimizer = params * FULL_OPTIMIZER_BYTES / GB
    else:
        trainable = shape.adapter_params(setup.lora_r)
        base = LORA_BASE_BYTES if method == "lora" else QLORA_BASE_BYTES + QLORA_CONSTANT_BYTES
        weights = (params * base + trainable * ADAPTER_WEIGHT_BYTES) / GB
        gradients = trainable * ADAPTER_GRADIENT_BYTES / GB
        optimizer = trainable * ADAPTER_OPTIMIZER_BYTES / GB
    total = weights + gradients + optimizer + activations + RUNTIME_OVERHEAD_GB
    fits = None if gpu_memory_gb is None else total <= gpu_memory_gb * USABLE_FRACTION
    return MemoryEstimate(
        method=method,
        total_gb=round(total, 2),
        weights_gb=round(weights, 2),
        gradients_gb=round(gradients, 2),
        optimizer_gb=round(optimizer, 2),
        activations_gb=round(activations, 2),
        overhead_gb=RUNTIME_OVERHEAD_GB,
        trainable_params_m=round(trainable / 1e6, 2),
        fits=fits,
    )


def estimate_all(
    *,
    params_b: float,
    gpu_memory_gb: float | None = None,
    setup: TrainingSetup = DEFAULT_SETUP,
) -> list[MemoryEstimate]:
    """Full SFT, LoRA and QLoRA estimates, in that order."""
    methods: tuple[TuningMethod, ...] = ("full_sft", "lora", "qlora")
    return [
        estimate_memory(method=m, params_b=params_b, gpu_memory_gb=gpu_memory_gb, setup=setup)
        for m in methods
    ]


def _gb(value: float) -> str:
    return f"{value:,.0f} GB" if value >= 10 else f"{value:.1f} GB"


def choose_method(
    params_b: float, gpu_gb: float, *, setup: TrainingSetup = DEFAULT_SETUP
) -> MethodChoice:
    """Full SFT, LoRA or QLoRA for a `params_b`-billion model on one GPU of `gpu_gb` GB.

    The rule: LoRA when its 16-bit base fits (for models under 1B parameters the reasoning adds
    that full SFT is affordable too); otherwise QLoRA when the 4-bit base fits; otherwise QLoRA
    is still the least demanding, and the reasoning says how much memory it needs. Full SFT is
    never the default: the ladder's rung is LoRA, and a full copy per variant is an anti-pattern.
    """
    estimates = estimate_all(params_b=params_b, gpu_memory_gb=gpu_gb, setup=setup)
    by_method = {e.method: e for e in estimates}
    full, lora, qlora = by_method["full_sft"], by_method["lora"], by_method["qlora"]
    usable = gpu_gb * USABLE_FRACTION
    size = f"{params_b:g}B"
    lines = [
        f"Full SFT of the {size} model needs about {_gb(full.total_gb)} "
        f"(16 bytes per parameter for weights, gradients and Adam state, plus activations); "
        f"LoRA about {_gb(lora.total_gb)}; QLoRA about {_gb(qlora.total_gb)}. "
        f"The GPU has {gpu_gb:g} GB, of which {usable:.0f} GB is planned for.",
    ]
    if lora.fits:
        if full.fits and params_b <= FULL_SFT_MAX_PARAMS_B:
            lines.append(
                f"LoRA fits. Full SFT fits too and a {size} model is small (a full copy is about "
                f"{_gb(params_b * FULL_WEIGHT_BYTES)}), so full SFT is affordable here; LoRA stays "
                "the default because it forgets less of the base and keeps one base plus small "
                "adapters per variant. Choose full SFT only when a LoRA run falls short."
            )
        elif full.fits:
            lines.append(
                "Full SFT would fit too, but LoRA matches it on narrow behaviour tasks at a "
                "fraction of the memory, forgets less of the base model, and leaves one base "
                "plus small adapters instead of a full copy per variant."
            )
        else:
            lines.append(
                f"Full SFT does not fit one {gpu_gb:g} GB GPU; LoRA fits with "
                f"{_gb(usable - lora.total_gb)} to spare and keeps the base in 16 bits, "
                "so there is no quantization loss and it trains faster than QLoRA."
            )
        return MethodChoice(method="lora", fits=True, reasoning=lines, estimates=estimates)
    if qlora.fits:
        lines.append(
            f"The 16-bit base alone does not leave room for LoRA on {gpu_gb:g} GB; QLoRA "
            "stores the frozen base in 4-bit NF4 and fits. Expect it to train more slowly than "
            "LoRA (weights are dequantized on the fly); use the paged 8-bit AdamW optimizer."
        )
        return MethodChoice(method="qlora", fits=True, reasoning=lines, estimates=estimates)
    lines.append(
        f"Nothing fits one {gpu_gb:g} GB GPU. QLoRA needs the least, about "
        f"{_gb(qlora.total_gb)}: use a GPU with at least "
        f"{math.ceil(qlora.total_gb / USABLE_FRACTION)} GB, shard the model over several GPUs "
        "(FSDP or DeepSpeed ZeRO-3), or pick a smaller base model."
    )
    return MethodChoice(method="qlora", fits=False, reasoning=lines, estimates=estimates)
