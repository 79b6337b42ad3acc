"""The plan's English: step titles, actions, reasons, preconditions and the verdict's sentences.

Every number in the text comes from what governs it: the data rules of thumb in
`app.advisory.data_needs` and the LoRA recipe's config defaults (`recipes.lora_sft`), read when
the text is rendered. The decisions themselves (which rung, which order, yes or no) are in
`app.advisory.plan`.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.advisory import data_needs
from app.advisory.memory import METHOD_NAMES
from app.advisory.schemas import DATA_NEED_NAMES, RUNG_NAMES, DataNeed, PlanStep, Rung
from app.advisory.schemas import SubcategoryCount as Count
from recipes.prompting import PromptingConfig

# the prompting recipe's default: how often a failing answer is sent back with its error
MAX_REASKS: int = PromptingConfig.default("max_reasks")

SUBCATEGORY_NAMES: dict[str, str] = {
    "missing_knowledge": "missing knowledge",
    "stale_knowledge": "stale knowledge",
    "retrieval_gap": "retrieval gaps",
    "format": "format",
    "style": "style",
    "procedure": "procedure",
    "grounding": "grounding",
    "preference": "preference",
}

ACTIONS: dict[str, str] = {
    "missing_knowledge": "Missing knowledge: index the private sources these answers need "
    "(policies, catalogue, account data) and retrieve them into the prompt.",
    "stale_knowledge": "Stale knowledge: serve changing facts (prices, versions, rules) from a "
    "source that is re-indexed when it changes, with a date on each passage.",
    "retrieval_gap": "Retrieval gaps: the context missed or mis-ranked the fact. Check chunking, "
    "add keyword + embedding (hybrid) search and a reranker, and turn these cases into a "
    "retrieval eval (question -> passage that answers it).",
    "format": "Format: put the output schema and one worked example in the system prompt; "
    f"validate every answer (JSON schema, length, language) and re-ask with the error "
    f"(at most {MAX_REASKS} times).",
    "style": "Style: write the style guide into the system prompt with two or three do/don't "
    "examples; check length and banned phrases automatically.",
    "procedure": "Procedure: state the required steps (ask, escalate, follow the policy) as a "
    "numbered checklist in the prompt and validate that the required step is present.",
    "grounding": "Grounding: instruct the model to answer only from the supplied context and "
    "to quote it; reject answers a faithfulness check cannot support from the context.",
}


def names(subcategories: list[Count]) -> str:
    """'format', 'format and style', 'format, style and procedure'."""
    listed = [SUBCATEGORY_NAMES[s.subcategory] for s in subcategories]
    return listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]


def step_list(steps: Sequence[PlanStep]) -> str:
    return "; ".join(
        f"{names(s.subcategories)} with {RUNG_NAMES[s.rung]} ({s.case_count})" for s in steps
    )


def _number(value: float) -> str:
    """2e-4 rather than 0.0002 for small rates; 1 rather than 1.0."""
    if 0 < abs(value) < 1e-3:
        mantissa, exponent = f"{value:e}".split("e")
        return f"{float(mantissa):g}e{int(exponent)}"
    return f"{value:g}"


def adapter_settings() -> str:
    """The LoRA recipe's default adapter and training settings, as the plan states them."""
    from recipes.lora_sft import LoraSFTConfig

    default = LoraSFTConfig.default
    epochs = float(default("num_train_epochs"))
    targets = list(default("target_modules"))
    layers = "all linear layers" if targets == ["all-linear"] else "modules " + ", ".join(targets)
    return (
        f"r={default('lora_r')}, alpha={default('lora_alpha')}, learning rate "
        f"{_number(default('learning_rate'))}, {_number(epochs)} epoch"
        f"{'' if epochs == 1 else 's'}, {layers}"
    )


def step_text(
    rung: Rung,
    subcategories: list[Count],
    *,
    count: int,
    seeds: int,
    with_sft: bool,
) -> tuple[str, list[str], str, list[str]]:
    """Title, actions, why and preconditions of one step."""
    listed = names(subcategories)
    if rung == "rag":
        return (
            f"Fix retrieval for {listed}",
            [ACTIONS[s.subcategory] for s in subcategories],
            f"{count} failures are facts the model does not have or has out of date. "
            "Retrieval puts the current fact in the prompt; fine-tuning cannot, because facts "
            "trained into weights are frozen at training time and are recalled unreliably.",
            [
                "Access to the source documents behind the failing answers.",
                "A retrieval eval: each failing question with the passage that answers it.",
            ],
        )
    if rung == "prompting":
        return (
            f"Prompt and validate: {listed}",
            [ACTIONS[s.subcategory] for s in subcategories],
            f"{count} behaviour failures have not been tried with prompting yet. Instructions, "
            "worked examples and an automatic validator that re-asks with the error fix most "
            "of them in days, with no training, and they can be changed at any time.",
            ["The failing cases re-run against the new prompt to confirm the fix."],
        )
    if rung == "dpo":
        return _dpo_text(count=count, seeds=seeds, with_sft=with_sft)
    method = METHOD_NAMES[rung]
    curate = (
        f"Curate {data_needs.SFT_MIN_PER_BEHAVIOR}-{data_needs.SFT_TARGET_PER_BEHAVIOR} examples "
        "per behaviour: the input and the ideal answer, in one chat format"
        + (
            f"; start from the {seeds} cases that already have an expected answer."
            if seeds
            else "."
        )
    )
    return (
        f"Fine-tune with {method} for {listed}",
        [
            curate,
            f"Train a {method} adapter: {adapter_settings()}.",
            "Keep the prompt and validators from the prompting step; compare the adapter "
            "against base + prompt on the holdout and promote only if the gate passes.",
        ],
        f"{count} behaviour failures persisted after prompting was tried. A behaviour that "
        "instructions cannot hold (a house format, a procedure) is learnt from examples; "
        "an adapter changes behaviour without a full copy of the model.",
        [
            "Prompting and validators were tried for these behaviours and are still in place.",
            f"A holdout of {data_needs.HOLDOUT_MIN}-{data_needs.HOLDOUT_TARGET} cases never used "
            "in training.",
        ],
    )


def _dpo_text(*, count: int, seeds: int, with_sft: bool) -> tuple[str, list[str], str, list[str]]:
    actions = [
        "Collect preference pairs: the same prompt with a preferred and a rejected answer "
        "(from A/B tests, thumbs up/down, reviewers choosing between two drafts).",
        "Train DPO with a LoRA adapter (the base with the adapter off is the reference).",
        "Gate it with a pairwise judge on the holdout against the current model.",
    ]
    pre = [
        f"At least {data_needs.DPO_MIN_PAIRS} preference pairs"
        + (
            f" ({seeds} failure cases with an expected answer are pairs already)." if seeds else "."
        ),
        "A holdout of prompts with known preferred answers.",
    ]
    if with_sft:
        pre.insert(0, "The SFT step is done: DPO starts from the SFT adapter.")
    return (
        "Teach preferences with DPO",
        actions,
        f"{count} answers are acceptable but people prefer another. That is a ranking "
        "signal, which DPO learns directly from pairs; SFT on single answers cannot.",
        pre,
    )


# ----------------------------------------------------------------------------- the verdict

NO_CASES_HEADLINE = "No failure cases yet: nothing to recommend."
NO_CASES_REASONING = ["Add the failures your users report; the plan is built from them."]
NOT_YET_REASONING = [
    "No behaviour failure has survived a prompting attempt, and no preference "
    "signal calls for DPO.",
    "Tune only the behaviours that the prompting step does not fix; record "
    "'prompting' in the cases' attempted list when you have tried it.",
]
CHEAP_RUNG_NAMES = {"prompting": "prompting with validators", "rag": "retrieval"}


def knowledge_verdict(
    *, knowledge: int, total: int, tuned_cases: int | None
) -> tuple[str, list[str]]:
    """Headline and reasons when knowledge failures are the majority (``tuned_cases``: the
    behaviour failures a tuning step would take, None when there is no tuning step)."""
    share = knowledge / total
    reasoning = [
        f"{knowledge} of {total} failures ({share:.0%}) are knowledge problems: "
        "facts the model lacks, has out of date, or was not given by retrieval.",
        "Fine-tuning does not add reliable, updatable knowledge; retrieval does.",
    ]
    if tuned_cases is not None:
        reasoning.append(
            f"{tuned_cases} behaviour failures may justify tuning later; decide after "
            "retrieval is fixed and re-measured."
        )
    return (
        f"Do not fine-tune; fix retrieval. {share:.0%} of failures are missing "
        "or outdated knowledge, which tuning cannot fix.",
        reasoning,
    )


def untrained_headline(total: int, cheap: Sequence[PlanStep]) -> str:
    rungs = " and ".join(CHEAP_RUNG_NAMES[s.rung] for s in cheap)
    return (
        f"Not yet: fix these {total} failures with {rungs} first. None of them calls for "
        "fine-tuning yet."
    )


def tuning_reasoning(
    *,
    total: int,
    tuning_steps: Sequence[PlanStep],
    cheap: Sequence[PlanStep],
    method_name: str,
    does_not_fit: bool,
    short: Sequence[DataNeed],
) -> list[str]:
    tuned_cases = sum(s.case_count for s in tuning_steps)
    cheap_cases = sum(s.case_count for s in cheap)
    reasoning = [
        f"{tuned_cases} of {total} failures ({tuned_cases / total:.0%}) are behaviours that "
        f"tuning fixes: {step_list(tuning_steps)}.",
    ]
    if cheap_cases:
        reasoning.append(f"The other {cheap_cases} are fixed without training: {step_list(cheap)}.")
    if does_not_fit:
        reasoning.append(f"{method_name} does not fit the GPU at hand (see the memory estimate).")
    reasoning += [
        f"Collect {n.to_collect} more {DATA_NEED_NAMES[n.kind]} first "
        f"(have {n.have}, aim for {n.need})."
        for n in short
    ]
    return reasoning


def tuning_headline(*, label: str, tuned_cases: int, total: int, data_missing: bool) -> str:
    if data_missing:
        return (
            f"Not yet: {label} is the right fix for {tuned_cases} failures "
            f"({tuned_cases / total:.0%}), but the data to train and test it is missing."
        )
    return (
        f"Yes: fine-tune with {label} for {tuned_cases} behaviour failures "
        f"({tuned_cases / total:.0%}); fix the rest without training."
    )
