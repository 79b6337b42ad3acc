"""Memory estimates against published figures, and the method choice.

Sources:
* Dettmers et al. 2023, "QLoRA: Efficient Finetuning of Quantized LLMs" (arXiv:2305.14314):
  QLoRA "reduces memory usage enough to finetune a 65B parameter model on a single 48GB GPU";
  "regular 16-bit finetuning of a LLaMA 65B parameter model requires more than 780 GB of GPU
  memory". The Guanaco runs used r=64 adapters on all linear layers; the paper's memory
  breakdown uses sequence length 512 and batch size 1.
* Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models" (arXiv:2106.09685): on
  GPT-3 175B "we reduce the VRAM consumption during training from 1.2TB to 350GB", with r=4,
  and "reduce ... the GPU memory requirement by 3 times".

Tolerance: the LoRA 175B estimate must be within 10% of the 350 GB figure; figures the papers
give as bounds ("more than 780 GB", "on a single 48GB GPU") are checked as bounds.
"""

from __future__ import annotations

import pytest

from app.advisory.memory import (
    MemoryEstimateError,
    TrainingSetup,
    choose_method,
    estimate_all,
    estimate_memory,
)

LORA_175B_TOLERANCE = 0.10


def test_qlora_65b_fits_one_48gb_gpu_with_default_setup() -> None:
    estimate = estimate_memory(method="qlora", params_b=65, gpu_memory_gb=48)
    assert estimate.total_gb < 48
    assert estimate.fits is True


def test_qlora_65b_at_the_papers_rank_64_still_fits_48gb() -> None:
    setup = TrainingSetup(lora_r=64, seq_len=512)
    estimate = estimate_memory(method="qlora", params_b=65, setup=setup)
    assert estimate.total_gb <= 48
    # the 4-bit base is what makes it fit: 65e9 * 0.5 bytes = 32.5 GB plus the constants
    assert 32.5 < estimate.weights_gb - estimate.trainable_params_m * 4e6 / 1e9 < 34.0


def test_full_16bit_finetuning_of_65b_needs_more_than_780gb() -> None:
    assert estimate_memory(method="full_sft", params_b=65).total_gb > 780


def test_16bit_lora_of_65b_does_not_fit_48gb() -> None:
    estimate = estimate_memory(method="lora", params_b=65, gpu_memory_gb=48)
    assert estimate.total_gb > 48
    assert estimate.fits is False


def test_lora_gpt3_175b_is_within_tolerance_of_350gb() -> None:
    estimate = estimate_memory(method="lora", params_b=175, setup=TrainingSetup(lora_r=4))
    assert abs(estimate.total_gb - 350) / 350 <= LORA_175B_TOLERANCE


def test_full_gpt3_175b_is_at_least_the_papers_figure_and_3x_lora() -> None:
    full = estimate_memory(method="full_sft", params_b=175)
    lora = estimate_memory(method="lora", params_b=175, setup=TrainingSetup(lora_r=4))
    # the LoRA paper's 1.2 TB is a lower bound: fp32 Adam states alone are 12 bytes/param
    assert full.total_gb >= 1200
    assert full.total_gb / lora.total_gb >= 3


@pytest.mark.parametrize("params_b", [0.135, 1.5, 7, 13, 70])
def test_qlora_needs_less_than_lora_needs_less_than_full(params_b: float) -> None:
    full, lora, qlora = estimate_all(params_b=params_b)
    assert (full.method, lora.method, qlora.method) == ("full_sft", "lora", "qlora")
    assert qlora.total_gb < lora.total_gb < full.total_gb
    assert lora.trainable_params_m == qlora.trainable_params_m < full.trainable_params_m


def test_parts_add_up_to_the_total() -> None:
    for estimate in estimate_all(params_b=7):
        parts = (
            estimate.weights_gb
            + estimate.gradients_gb
            + estimate.optimizer_gb
            + estimate.activations_gb
            + estimate.overhead_gb
        )
        assert parts == pytest.approx(estimate.total_gb, abs=0.05)


def test_gradient_checkpointing_and_sequence_length_change_activations() -> None:
    on = estimate_memory(method="lora", params_b=7)
    off = estimate_memory(
        method="lora", params_b=7, setup=TrainingSetup(gradient_checkpointing=False)
    )
    longer = estimate_memory(method="lora", params_b=7, setup=TrainingSetup(seq_len=4096))
    assert off.activations_gb > on.activations_gb
    assert longer.activations_gb > on.activations_gb


def test_fits_is_unknown_without_gpu_memory() -> None:
    assert estimate_memory(method="lora", params_b=7).fits is None


@pytest.mark.parametrize(
    ("params_b", "gpu"), [(0, 24), (-7, 24), (float("nan"), 24), (7, 0), (7, -1)]
)
def test_bad_sizes_raise_a_typed_error(params_b: float, gpu: float) -> None:
    with pytest.raises(MemoryEstimateError, match="must be a positive number"):
        estimate_memory(method="lora", params_b=params_b, gpu_memory_gb=gpu)


@pytest.mark.parametrize(
    ("params_b", "gpu", "method"),
    [
        (7, 80, "lora"),  # LoRA fits easily; full SFT (~114 GB) does not
        (2, 80, "lora"),  # full fits too, but above 1B adapters are preferred
        (13, 24, "qlora"),  # 16-bit base (26 GB) leaves no room on 24 GB
        (65, 48, "qlora"),  # the QLoRA paper's headline setting
        (7, 8, "qlora"),
        (0.135, 16, "lora"),  # tiny model: LoRA is still the default rung
        (0.5, 80, "lora"),
    ],
)
def test_choose_method(params_b: float, gpu: float, method: str) -> None:
    choice = choose_method(params_b, gpu)
    assert choice.method == method
    assert choice.fits is True
    chosen = next(e for e in choice.estimates if e.method == method)
    assert chosen.fits is True
    assert f"{gpu:g} GB" in " ".join(choice.reasoning)


def test_small_models_mention_that_full_sft_is_affordable() -> None:
    text = " ".join(choose_method(0.135, 16).reasoning)
    assert "full SFT is affordable" in text
    assert "full SFT is affordable" not in " ".join(choose_method(7, 80).reasoning)


def test_choose_method_says_when_nothing_fits() -> None:
    choice = choose_method(70, 24)
    assert choice.method == "qlora"
    assert choice.fits is False
    text = " ".join(choice.reasoning)
    assert "Nothing fits" in text
    assert "FSDP" in text


def test_choose_method_explains_why_not_full_when_it_fits() -> None:
    choice = choose_method(2, 80)
    assert any("Full SFT would fit too" in line for line in choice.reasoning)
