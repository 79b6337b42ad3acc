"""The ladder and the plan for knowledge-heavy, behaviour-heavy, preference and mixed projects."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from app.advisory.costs import ENGINEER_DAY_USD, GPU_HOUR_USD
from app.advisory.plan import AdvisoryInputError, build_recommendation, ladder_rung
from app.advisory.report import recommendation_json
from app.advisory.schemas import (
    TUNING_RUNGS,
    DatasetInfo,
    EvalInfo,
    JobInfo,
    ProjectContext,
    Recommendation,
)
from app.cases.schemas import KNOWLEDGE_SUBCATEGORIES, FailureCase
from app.triage.result import TriageResult

from .corpus import pairs_with, split

READY = ProjectContext(
    base_model="Llama-3.1-8B-Instruct",
    params_b=8,
    gpu_memory_gb=80,
    datasets=[
        DatasetInfo(name="sft", kind="sft", rows=600, formats=["chatml"]),
        DatasetInfo(name="pairs", kind="preference", rows=400, formats=["chatml"]),
        DatasetInfo(name="holdout", kind="holdout", rows=60, has_holdout=True),
    ],
)


def _rungs(rec: Recommendation) -> list[str]:
    return [step.rung for step in rec.plan]


def _case(**fields: object) -> FailureCase:
    return FailureCase(input="q", output="a", **fields)


def _result(subcategory: str) -> TriageResult:
    category = "knowledge" if subcategory in KNOWLEDGE_SUBCATEGORIES else "behavior"
    return TriageResult(
        category=category,
        subcategory=subcategory,
        fix="rag" if category == "knowledge" else "prompting",
        confidence=0.9,
        engine_version="test",
    )


# ----------------------------------------------------------------------------- the ladder


@pytest.mark.parametrize(
    ("subcategory", "attempted", "rung"),
    [
        ("missing_knowledge", [], "rag"),
        ("stale_knowledge", ["prompting", "lora"], "rag"),  # tuning never fixes knowledge
        ("retrieval_gap", ["rag"], "rag"),
        ("format", [], "prompting"),
        ("style", ["rag"], "prompting"),
        ("procedure", ["prompting"], "qlora"),
        ("grounding", ["prompting", "lora"], "qlora"),
        ("format", ["lora"], "prompting"),  # tuned without trying prompting: prompt first
        ("preference", [], "dpo"),
        ("preference", ["prompting"], "dpo"),
    ],
)
def test_ladder_rung(subcategory: str, attempted: list[str], rung: str) -> None:
    case = _case(attempted=attempted)
    assert ladder_rung(case, _result(subcategory), tuning_method="qlora") == rung


# ----------------------------------------------------------------------------- mixed project


def test_mixed_project_orders_cheap_rungs_first_then_by_share(corpus) -> None:
    cases, results = split(corpus)
    rec = build_recommendation(cases=cases, results=results)
    assert _rungs(rec) == ["prompting", "rag", "lora", "dpo"]
    expected = Counter(
        ladder_rung(c, r, tuning_method="lora") for c, r in zip(cases, results, strict=True)
    )
    for step in rec.plan:
        assert step.case_count == expected[step.rung]
        assert step.share == pytest.approx(expected[step.rung] / len(cases), abs=1e-4)
    assert sum(step.case_count for step in rec.plan) == len(cases)
    assert [s.order for s in rec.plan] == [1, 2, 3, 4]
    assert [s.when for s in rec.plan] == ["first", "second", "later", "later"]
    # prompting (10) outranks RAG (9) inside the no-training tier
    assert rec.plan[0].case_count > rec.plan[1].case_count
    assert rec.counts.total == 30
    assert rec.counts.by_category == {"knowledge": 9, "behavior": 21}
    assert rec.counts.needs_review == sum(r.needs_review for r in results)
    assert rec.counts.engine_versions == ["triage-0.3.1"]


def test_mixed_project_without_data_is_not_yet(corpus) -> None:
    cases, results = split(corpus)
    rec = build_recommendation(cases=cases, results=results)
    assert rec.should_fine_tune.answer == "not yet"
    assert rec.should_fine_tune.label == "not yet: LoRA, then DPO"
    assert rec.headline.startswith("Not yet:")
    kinds = {n.kind: n for n in rec.data_needs}
    assert set(kinds) == {"sft_examples", "preference_pairs", "holdout"}
    assert kinds["sft_examples"].need == 100 * len(kinds["sft_examples"].behaviors)
    assert kinds["holdout"].to_collect == 50


def test_mixed_project_with_data_and_holdout_is_yes(corpus) -> None:
    cases, results = split(corpus)
    rec = build_recommendation(cases=cases, results=results, context=READY)
    assert rec.should_fine_tune.answer == "yes"
    assert rec.should_fine_tune.label == "yes: LoRA, then DPO"
    assert rec.should_fine_tune.method == "lora"
    assert all(n.to_collect == 0 for n in rec.data_needs)


def test_steps_carry_evidence_examples_and_costs(corpus) -> None:
    cases, results = split(corpus)
    rec = build_recommendation(cases=cases, results=results, context=READY)
    for step in rec.plan:
        members = {
            i
            for i, (c, r) in enumerate(zip(cases, results, strict=True))
            if ladder_rung(c, r, tuning_method="lora") == step.rung
        }
        assert 1 <= len(step.examples) <= 3
        assert {ex.index for ex in step.examples} <= members
        for ex in step.examples:
            assert ex.evidence == results[ex.index].evidence
            assert cases[ex.index].input.startswith(ex.input.rstrip("…"))
        counted = Counter(t for i in members for t in results[i].evidence)
        assert [(e.text, e.count) for e in step.evidence_summary] == [
            (t, n) for t, n in counted.most_common(len(step.evidence_summary))
        ]
        cost = step.cost
        assert cost.total_usd == pytest.approx(
            cost.compute_usd + cost.engineering_days * ENGINEER_DAY_USD, abs=ENGINEER_DAY_USD / 10
        )
        assert cost.compute_usd == pytest.approx(cost.gpu_hours * GPU_HOUR_USD, abs=1)
        assert cost.assumptions
        assert (cost.gpu_hours > 0) == (step.rung in TUNING_RUNGS)
    lora = next(s for s in rec.plan if s.rung == "lora")
    assert lora.evidence_summary[0].text == "prompting already attempted"
    assert lora.evidence_summary[0].count == lora.case_count


def test_model_score_lines_do_not_count_as_evidence(corpus) -> None:
    cases, results = split(corpus)
    noted = [
        r.model_copy(
            update={"evidence": [*r.evidence, "knowledge problem: p(knowledge)=0.97", "review: x"]}
        )
        for r in results
    ]
    rec = build_recommendation(cases=cases, results=noted, context=READY)
    summaries = [e.text for step in rec.plan for e in step.evidence_summary]
    assert summaries and not any(t.startswith(("knowledge problem", "review:")) for t in summaries)
    plain = build_recommendation(cases=cases, results=results, context=READY)
    assert summaries == [e.text for step in plain.plan for e in step.evidence_summary]


def test_examples_prefer_distinct_subcategories_and_confident_cases(corpus) -> None:
    cases, results = split(corpus)
    rec = build_recommendation(cases=cases, results=results)
    rag = next(s for s in rec.plan if s.rung == "rag")
    assert len({ex.subcategory for ex in rag.examples}) == 3
    assert not any(ex.needs_review for ex in rag.examples)


# ----------------------------------------------------------------------------- knowledge-heavy


def test_knowledge_heavy_project_says_do_not_fine_tune(corpus) -> None:
    pairs = pairs_with(corpus, "missing_knowledge", "stale_knowledge", "retrieval_gap")
    pairs += pairs_with(corpus, "format")[:3]
    cases, results = split(pairs)
    rec = build_recommendation(cases=cases, results=results, context=READY)
    assert rec.should_fine_tune.answer == "no"
    assert rec.headline.startswith("Do not fine-tune; fix retrieval.")
    assert rec.plan[0].rung == "rag"
    assert rec.plan[0].share == pytest.approx(9 / 12, abs=1e-4)
    assert rec.plan[0].title.startswith("Fix retrieval")


def test_knowledge_cases_never_land_on_a_tuning_step() -> None:
    cases = [
        _case(attempted=["prompting", "lora"]),
        _case(attempted=["dpo"]),
        _case(attempted=["prompting"]),
    ]
    results = [_result("stale_knowledge"), _result("missing_knowledge"), _result("format")]
    rec = build_recommendation(cases=cases, results=results)
    rag = next(s for s in rec.plan if s.rung == "rag")
    assert rag.case_count == 2
    for step in rec.plan:
        if step.rung in TUNING_RUNGS:
            assert not {s.subcategory for s in step.subcategories} & KNOWLEDGE_SUBCATEGORIES
    assert rec.should_fine_tune.answer == "no"


# ----------------------------------------------------------------------------- behaviour-heavy


def test_behavior_heavy_project_prompting_first_then_lora(corpus) -> None:
    cases, results = split(pairs_with(corpus, "format", "style", "procedure", "grounding"))
    rec = build_recommendation(cases=cases, results=results, context=READY)
    assert _rungs(rec) == ["prompting", "lora"]
    attempted = sum("prompting" in c.attempted for c in cases)
    assert rec.plan[1].case_count == attempted
    assert rec.plan[0].case_count == len(cases) - attempted
    assert rec.should_fine_tune.label == "yes: LoRA"
    assert rec.tuning is not None and rec.tuning.method == "lora"


def test_behavior_never_prompted_is_not_yet_and_has_no_tuning_advice(corpus) -> None:
    pairs = [p for p in pairs_with(corpus, "format", "style") if not p[0].attempted]
    cases, results = split(pairs)
    rec = build_recommendation(cases=cases, results=results, context=READY)
    assert _rungs(rec) == ["prompting"]
    assert rec.should_fine_tune.answer == "not yet"
    assert rec.should_fine_tune.label == "not yet"
    assert rec.tuning is None
    assert [n.kind for n in rec.data_needs] == ["holdout"]


def test_tight_memory_switches_the_tuning_step_to_qlora(corpus) -> None:
    cases, results = split(pairs_with(corpus, "format", "procedure"))
    context = READY.model_copy(update={"params_b": 13, "gpu_memory_gb": 24})
    rec = build_recommendation(cases=cases, results=results, context=context)
    assert "qlora" in _rungs(rec)
    assert rec.should_fine_tune.label == "yes: QLoRA"
    assert rec.tuning is not None
    assert rec.tuning.method == "qlora"
    names = [h.name for h in rec.tuning.hyperparameters]
    assert {"r", "lora_alpha", "learning_rate", "bnb_4bit_quant_type"} <= set(names)


def test_the_advice_states_the_values_the_recipes_run_with() -> None:
    from app.advisory import memory, plan_wording, tuning
    from recipes.dpo import DPORecipeConfig
    from recipes.full_sft import FullSFTConfig
    from recipes.lora_sft import LoraSFTConfig
    from recipes.prompting import PromptingConfig

    full = {h.name: h.value for h in tuning._full_hyperparameters()}
    assert full["learning_rate"] == FullSFTConfig().learning_rate == 2e-5  # was advised as 1e-5
    dpo = {h.name: h.value for h in tuning._dpo_hyperparameters()}
    assert dpo["beta"] == DPORecipeConfig().beta
    assert memory.DEFAULT_SETUP.lora_r == LoraSFTConfig().lora_r  # the memory estimate's rank
    reasks = PromptingConfig().max_reasks
    assert f"re-ask with the error (at most {reasks} times)" in plan_wording.ACTIONS["format"]
    assert "retry once" not in " ".join(plan_wording.ACTIONS.values())


def test_default_lora_hyperparameters(corpus) -> None:
    cases, results = split(pairs_with(corpus, "format"))
    rec = build_recommendation(cases=cases, results=results)
    assert rec.tuning is not None
    values = {h.name: h.value for h in rec.tuning.hyperparameters}
    assert values["r"] == 16
    assert values["lora_alpha"] == 2 * values["r"]
    assert values["learning_rate"] == 2e-4
    assert values["num_train_epochs"] == 1
    assert values["target_modules"] == "all-linear"
    assert all(h.why for h in rec.tuning.hyperparameters)
    # without a model size or GPU the advice says what is missing
    assert "base model size" in rec.tuning.reasoning[0]
    assert rec.tuning.fits is None


def test_nothing_fits_needs_several_gpus(corpus) -> None:
    cases, results = split(pairs_with(corpus, "format"))
    context = ProjectContext(params_b=70, gpu_memory_gb=24)
    rec = build_recommendation(cases=cases, results=results, context=context)
    tuning_step = next(s for s in rec.plan if s.rung in TUNING_RUNGS)
    assert tuning_step.cost.gpus == 2
    assert rec.tuning is not None and rec.tuning.fits is False
    assert any("does not fit" in line for line in rec.should_fine_tune.reasoning)


# ----------------------------------------------------------------------------- preference


def test_preference_only_project_is_dpo_without_sft_precondition(corpus) -> None:
    cases, results = split(pairs_with(corpus, "preference"))
    rec = build_recommendation(cases=cases, results=results)
    assert _rungs(rec) == ["dpo"]
    dpo = rec.plan[0]
    assert dpo.share == 1.0
    assert not any("SFT step" in p for p in dpo.preconditions)
    need = next(n for n in rec.data_needs if n.kind == "preference_pairs")
    assert need.need == 300
    assert need.seeds_from_cases == sum(c.expected is not None for c in cases)
    assert rec.should_fine_tune.label == "not yet: DPO"


def test_preference_after_sft_when_both_apply(corpus) -> None:
    pairs = pairs_with(corpus, "preference") + [
        p for p in pairs_with(corpus, "format") if "prompting" in p[0].attempted
    ]
    cases, results = split(pairs)
    rec = build_recommendation(cases=cases, results=results, context=READY)
    assert _rungs(rec) == ["lora", "dpo"]
    assert any("SFT step is done" in p for p in rec.plan[1].preconditions)
    assert rec.should_fine_tune.label == "yes: LoRA, then DPO"


# ----------------------------------------------------------------------------- context, errors


def test_evals_and_jobs_are_summarised() -> None:
    context = ProjectContext(
        jobs=[
            JobInfo(
                id="j1",
                recipe="qlora_sft",
                state="succeeded",
                config={"epochs": 2},
                metrics={"train_loss": 0.4, "steps": 120, "note": "ok", "merged": True},
            )
        ],
        evals=[
            EvalInfo(
                name="holdout",
                candidate="j1",
                baseline="base",
                metrics={"pass_rate": 0.8, "judge": 0.6},
                baseline_metrics={"pass_rate": 0.7},
                gate_decision="pass",
            )
        ],
    )
    rec = build_recommendation(cases=[_case()], results=[_result("format")], context=context)
    (job,) = rec.jobs
    assert (job.rung, job.epochs) == ("qlora", 2.0)
    assert job.metrics == {"train_loss": 0.4, "steps": 120.0}  # numbers only
    (ev,) = rec.evals
    assert ev.gate_decision == "pass"
    metrics = {m.name: m for m in ev.metrics}
    assert metrics["pass_rate"].delta == pytest.approx(0.1)
    assert metrics["judge"].baseline is None and metrics["judge"].delta is None


def test_json_round_trips(corpus) -> None:
    cases, results = split(corpus)
    rec = build_recommendation(cases=cases, results=results, context=READY)
    data = recommendation_json(rec)
    assert data == rec.model_dump(mode="json")
    assert Recommendation.model_validate(json.loads(json.dumps(data))) == rec


def test_empty_project() -> None:
    rec = build_recommendation(cases=[], results=[])
    assert rec.plan == []
    assert rec.data_needs == []
    assert rec.should_fine_tune.answer == "not yet"
    assert rec.counts.total == 0


def test_mismatched_inputs_raise_a_typed_error() -> None:
    with pytest.raises(AdvisoryInputError, match="one triage result per case"):
        build_recommendation(cases=[_case(), _case()], results=[_result("format")])


# ----------------------------------------------------------------------------- wording numbers


def test_the_wording_takes_its_numbers_from_the_constants_and_recipe_defaults(
    corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Change the data rules and the LoRA recipe's defaults: the plan's text follows."""
    import dataclasses

    from app.advisory import data_needs
    from recipes.lora_sft import LoraSFTConfig

    pairs = pairs_with(corpus, "preference") + [
        p for p in pairs_with(corpus, "format") if "prompting" in p[0].attempted
    ]
    cases, results = split(pairs)

    def texts() -> str:
        rec = build_recommendation(cases=cases, results=results, context=READY)
        return json.dumps([s.model_dump(mode="json") for s in rec.plan])

    before = texts()
    assert "At least 300 preference pairs" in before and "Curate 50-100 examples" in before
    assert "r=16, alpha=32, learning rate 2e-4, 1 epoch, all linear layers" in before
    assert "A holdout of 30-50 cases" in before

    monkeypatch.setattr(data_needs, "DPO_MIN_PAIRS", 250)
    monkeypatch.setattr(data_needs, "SFT_MIN_PER_BEHAVIOR", 40)
    monkeypatch.setattr(data_needs, "SFT_TARGET_PER_BEHAVIOR", 80)
    monkeypatch.setattr(data_needs, "HOLDOUT_MIN", 25)
    monkeypatch.setattr(data_needs, "HOLDOUT_TARGET", 45)
    fields = {f.name: f for f in dataclasses.fields(LoraSFTConfig)}
    for name, value in [("lora_r", 8), ("lora_alpha", 24), ("learning_rate", 1e-4)]:
        monkeypatch.setattr(fields[name], "default", value)
    monkeypatch.setattr(fields["num_train_epochs"], "default", 3.0)
    monkeypatch.setattr(fields["target_modules"], "default_factory", lambda: ["q_proj", "v_proj"])
    after = texts()
    assert "At least 250 preference pairs" in after and "Curate 40-80 examples" in after
    assert "r=8, alpha=24, learning rate 1e-4, 3 epochs, modules q_proj, v_proj" in after
    assert "A holdout of 25-45 cases" in after
