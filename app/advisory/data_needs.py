"""How much data a rung needs before it is worth running, and how much the project has.

Rules of thumb (not laws; they are where teams usually stop seeing noise):

* LoRA SFT: at least 50, better 100 curated input -> ideal-answer examples per behaviour you
  want to change. OpenAI's fine-tuning guide: "we typically see clear improvements from
  fine-tuning on 50 to 100 training examples"; LIMA (Zhou et al. 2023) reached broad alignment
  with 1,000 curated examples, so a single narrow behaviour needs far fewer, but not ten.
* DPO: at least a few hundred preference pairs (chosen vs rejected answer to the same prompt);
  under ~300 pairs the preference signal is mostly noise for a model of useful size.
* Holdout: at least 30, better 50 cases the model never trains on. With 50 cases a pass rate
  near 50% has a 95% confidence interval of about +/-14 points (1.96*sqrt(0.25/50)); with 30 it
  is +/-18, which is about the smallest gap an eval can still tell apart.
"""

from __future__ import annotations

from app.advisory.context import holdout_rows, rows_of
from app.advisory.schemas import DataNeed, PlanStep, ProjectContext

SFT_MIN_PER_BEHAVIOR = 50
SFT_TARGET_PER_BEHAVIOR = 100
DPO_MIN_PAIRS = 300
HOLDOUT_MIN = 30
HOLDOUT_TARGET = 50

SFT_RULE = (
    f"LoRA SFT: {SFT_MIN_PER_BEHAVIOR}-{SFT_TARGET_PER_BEHAVIOR} curated examples per behaviour "
    "(input and the ideal answer), in one format; OpenAI's fine-tuning guide sees clear gains "
    "from 50 to 100 examples."
)
DPO_RULE = (
    f"DPO: at least {DPO_MIN_PAIRS} preference pairs (a prompt, the preferred and the rejected "
    "answer); fewer pairs are mostly noise."
)
HOLDOUT_RULE = (
    f"Holdout: at least {HOLDOUT_MIN}, better {HOLDOUT_TARGET} cases never trained on; with 50, "
    "a pass rate near 50% is known to about +/-14 points (95% interval)."
)


def sft_need(step: PlanStep, context: ProjectContext | None, seeds: int) -> DataNeed:
    behaviors = [s.subcategory for s in step.subcategories]
    need = SFT_TARGET_PER_BEHAVIOR * max(1, len(behaviors))
    have = rows_of(context, "sft")
    return DataNeed(
        kind="sft_examples",
        for_rung=step.rung,
        behaviors=behaviors,
        have=have,
        need=need,
        to_collect=max(0, need - have),
        seeds_from_cases=seeds,
        rule=SFT_RULE,
    )


def dpo_need(step: PlanStep, context: ProjectContext | None, seeds: int) -> DataNeed:
    have = rows_of(context, "preference")
    return DataNeed(
        kind="preference_pairs",
        for_rung="dpo",
        behaviors=[s.subcategory for s in step.subcategories],
        have=have,
        need=DPO_MIN_PAIRS,
        to_collect=max(0, DPO_MIN_PAIRS - have),
        seeds_from_cases=seeds,
        rule=DPO_RULE,
    )


def holdout_need(context: ProjectContext | None, seeds: int) -> DataNeed:
    have = holdout_rows(context)
    return DataNeed(
        kind="holdout",
        for_rung=None,
        have=have,
        need=HOLDOUT_TARGET,
        to_collect=max(0, HOLDOUT_TARGET - have),
        seeds_from_cases=seeds,
        rule=HOLDOUT_RULE,
    )


def minimum_for(need: DataNeed) -> int:
    """The least data with which the rung is still worth a run (below it: warn, don't train)."""
    if need.kind == "sft_examples":
        return SFT_MIN_PER_BEHAVIOR * max(1, len(need.behaviors))
    if need.kind == "preference_pairs":
        return DPO_MIN_PAIRS
    return HOLDOUT_MIN


def is_short(need: DataNeed) -> bool:
    return need.have < minimum_for(need)
