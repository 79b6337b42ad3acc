"""Order-of-magnitude cost of each rung: engineering days, GPU hours, dollars.

The numbers are planning estimates, not quotes; every assumption is written into the estimate so
the report shows it next to the figure.

Training compute uses the standard count of 6*N FLOPs per token for a full forward and backward
pass over N parameters (Kaplan et al. 2020, "Scaling Laws for Neural Language Models"). LoRA and
QLoRA skip the weight gradients of the frozen base: about 4*N per token. DPO runs the policy on a
chosen and a rejected answer (2 sequences) and a reference forward pass on both (2*N each).
"""

from __future__ import annotations

from app.advisory.schemas import CostEstimate, Rung

ENGINEER_DAY_USD = 1_000.0
GPU_HOUR_USD = 2.5
GPU_PEAK_TFLOPS = 312.0  # A100 bf16 dense
MODEL_FLOPS_UTILISATION = 0.35
TOKENS_PER_EXAMPLE = 512
EPOCHS = 1
RUNS = 3  # a first run, one fix, the final run
RUN_OVERHEAD_HOURS = 0.5  # load the model, evaluate the holdout, save the adapter
QLORA_SLOWDOWN = 1.4  # 4-bit weights are dequantized on every forward and backward pass
DEFAULT_PARAMS_B = 7.0
CURATE_MINUTES_PER_EXAMPLE = 5.0
LABEL_MINUTES_PER_PAIR = 2.0
WORK_DAY_MINUTES = 8 * 60

_FLOPS_PER_TOKEN_PER_PARAM: dict[str, float] = {
    "full_sft": 6.0,
    "lora": 4.0,
    "qlora": 4.0 * QLORA_SLOWDOWN,
    "dpo": 2 * 4.0 + 2 * 2.0,
}

_RATES = (
    f"engineering at ${ENGINEER_DAY_USD:,.0f} per engineer-day; "
    f"GPU time at ${GPU_HOUR_USD:.2f} per GPU-hour (one A100/H100-class cloud GPU, on demand)"
)


def _round(value: float) -> float:
    return round(value, 1)


def _estimate(*, days: float, gpu_hours: float, gpus: int, assumptions: list[str]) -> CostEstimate:
    compute = gpu_hours * GPU_HOUR_USD
    return CostEstimate(
        engineering_days=_round(days),
        gpu_hours=_round(gpu_hours),
        gpus=gpus,
        compute_usd=round(compute),
        total_usd=round(compute + days * ENGINEER_DAY_USD),
        assumptions=[*assumptions, _RATES],
    )


def training_gpu_hours(*, rung: Rung, examples: int, params_b: float, gpus: int) -> float:
    """GPU-hours of `RUNS` training runs of `examples` records on a `params_b`-billion model."""
    per_param = _FLOPS_PER_TOKEN_PER_PARAM[rung]
    tokens = examples * TOKENS_PER_EXAMPLE * EPOCHS
    flops = per_param * params_b * 1e9 * tokens
    seconds = flops / (GPU_PEAK_TFLOPS * 1e12 * MODEL_FLOPS_UTILISATION)
    hours_per_run = seconds / 3600 + RUN_OVERHEAD_HOURS * gpus
    return RUNS * hours_per_run


def estimate_cost(
    *,
    rung: Rung,
    behaviors: int,
    examples: int = 0,
    params_b: float | None = None,
    gpus: int = 1,
) -> CostEstimate:
    """Cost of one plan step.

    `behaviors` is how many subcategories the step covers; `examples` how many training records
    (SFT examples or preference pairs) it needs; `params_b` the base model size (7B assumed when
    unknown); `gpus` how many GPUs one training run needs at once.
    """
    if rung == "prompting":
        return _estimate(
            days=1.0 + 1.0 * behaviors,
            gpu_hours=0.0,
            gpus=0,
            assumptions=[
                "a day to set up the prompt and a validator harness, a day per behaviour to "
                "write its instruction, examples and validator and to re-run the failing cases",
                "no training; the LLM calls of the re-runs are not counted",
            ],
        )
    if rung == "rag":
        return _estimate(
            days=2.0 + 2.0 * behaviors,
            gpu_hours=0.0,
            gpus=0,
            assumptions=[
                "two days for the ingest, chunk, embed and retrieve pipeline and a retrieval "
                "eval, two days per knowledge gap (sources, freshness, ranking)",
                "embedding a document corpus runs on CPU or a hosted API: no GPU-hours counted; "
                "vector-store hosting is not counted",
            ],
        )
    size = params_b if params_b is not None else DEFAULT_PARAMS_B
    size_note = (
        f"a {size:g}B base model"
        if params_b is not None
        else f"a {DEFAULT_PARAMS_B:g}B base model (the project gave no model size)"
    )
    hours = training_gpu_hours(rung=rung, examples=examples, params_b=size, gpus=gpus)
    per_example = LABEL_MINUTES_PER_PAIR if rung == "dpo" else CURATE_MINUTES_PER_EXAMPLE
    data_days = examples * per_example / WORK_DAY_MINUTES
    setup_days = 3.0 if rung == "dpo" else 2.0
    record = "preference pair" if rung == "dpo" else "curated example"
    return _estimate(
        days=setup_days + data_days,
        gpu_hours=hours,
        gpus=gpus,
        assumptions=[
            f"{examples:,} records at {per_example:g} minutes per {record}, plus "
            f"{setup_days:g} days to set up training, the holdout eval and the gate",
            f"{size_note}, {TOKENS_PER_EXAMPLE} tokens per record, {EPOCHS} epoch, {RUNS} runs, "
            f"{gpus} GPU(s) per run at {MODEL_FLOPS_UTILISATION:.0%} of "
            f"{GPU_PEAK_TFLOPS:g} TFLOPS, {RUN_OVERHEAD_HOURS:g} h per run to load and evaluate",
        ],
    )
