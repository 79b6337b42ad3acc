"""Every anti-pattern warning: shown when the project shows it, absent when it does not."""

from __future__ import annotations

from app.advisory.context import recipe_rung
from app.advisory.plan import build_recommendation
from app.advisory.schemas import (
    AntiPatternWarning,
    DatasetInfo,
    EvalInfo,
    JobInfo,
    ProjectContext,
)
from app.cases.schemas import FailureCase

from .corpus import Pair, pairs_with, split

HOLDOUT = DatasetInfo(name="holdout", kind="holdout", rows=60, has_holdout=True)
SFT = DatasetInfo(name="sft", kind="sft", rows=500, formats=["chatml"])
PAIRS = DatasetInfo(name="pairs", kind="preference", rows=400, formats=["chatml"])
CLEAN = ProjectContext(datasets=[HOLDOUT, SFT, PAIRS], params_b=8, gpu_memory_gb=80)
EVAL = EvalInfo(name="holdout", candidate="c", baseline="b", gate_decision="fail")


def _warnings(pairs: list[Pair], context: ProjectContext | None) -> list[AntiPatternWarning]:
    cases, results = split(pairs)
    return build_recommendation(cases=cases, results=results, context=context).warnings


def _codes(pairs: list[Pair], context: ProjectContext | None) -> list[str]:
    return [w.code for w in _warnings(pairs, context)]


def _behavior(corpus: list[Pair]) -> list[Pair]:
    return pairs_with(corpus, "format", "style", "procedure", "grounding")


def _with(**update: object) -> ProjectContext:
    return CLEAN.model_copy(update=update)


def test_a_clean_behaviour_project_has_no_warnings(corpus) -> None:
    assert _codes(_behavior(corpus), CLEAN) == []


def test_recipe_names_map_to_rungs() -> None:
    assert recipe_rung("lora_sft") == "lora"
    assert recipe_rung("qlora_sft") == "qlora"
    assert recipe_rung("sft") == "full_sft"
    assert recipe_rung("full_sft") == "full_sft"
    assert recipe_rung("dpo_lora") == "dpo"
    assert recipe_rung("rag_index") == "rag"
    assert recipe_rung("eval") is None


def test_tuning_attempted_on_knowledge_cases(corpus) -> None:
    (case, result) = pairs_with(corpus, "stale_knowledge")[0]
    tuned = case.model_copy(update={"attempted": ["prompting", "lora"]})
    pairs = [(tuned, result), *_behavior(corpus)]
    warnings = [w for w in _warnings(pairs, CLEAN) if w.code == "tuning_for_knowledge"]
    assert len(warnings) == 1
    assert warnings[0].severity == "critical"
    assert "1 knowledge failure" in warnings[0].message


def test_tuning_jobs_on_a_knowledge_heavy_project(corpus) -> None:
    pairs = pairs_with(corpus, "missing_knowledge", "stale_knowledge", "retrieval_gap")
    jobs = [JobInfo(recipe="lora_sft", state="succeeded")]
    codes = _codes(pairs, _with(jobs=jobs, evals=[EVAL]))
    assert codes.count("tuning_for_knowledge") == 1
    # the same job on a behaviour project is fine
    assert "tuning_for_knowledge" not in _codes(_behavior(corpus), _with(jobs=jobs, evals=[EVAL]))


def test_stale_knowledge_while_tuning_is_planned(corpus) -> None:
    mixed = pairs_with(corpus, "stale_knowledge") + _behavior(corpus)
    assert "stale_knowledge_in_training" in _codes(mixed, CLEAN)
    # stale facts with no tuning on the table: retrieval alone, no warning
    untuned = pairs_with(corpus, "stale_knowledge") + [
        p for p in _behavior(corpus) if not p[0].attempted
    ]
    assert "stale_knowledge_in_training" not in _codes(untuned, CLEAN)


def test_no_holdout(corpus) -> None:
    no_holdout = _with(datasets=[SFT])
    (warning,) = [w for w in _warnings(_behavior(corpus), no_holdout) if w.code == "no_holdout"]
    assert warning.severity == "warning"
    jobs = [JobInfo(recipe="lora_sft", state="running")]
    (warning,) = [
        w
        for w in _warnings(_behavior(corpus), _with(datasets=[SFT], jobs=jobs))
        if w.code == "no_holdout"
    ]
    assert warning.severity == "critical"
    assert "no_holdout" in _codes(_behavior(corpus), None)
    split_holdout = DatasetInfo(kind="sft", rows=500, holdout_rows=50, formats=["chatml"])
    assert "no_holdout" not in _codes(_behavior(corpus), _with(datasets=[split_holdout]))


def test_no_evals_after_a_finished_tuning_job(corpus) -> None:
    jobs = [JobInfo(recipe="lora_sft", state="succeeded")]
    assert "no_evals" in _codes(_behavior(corpus), _with(jobs=jobs))
    assert "no_evals" not in _codes(_behavior(corpus), _with(jobs=jobs, evals=[EVAL]))
    running = [JobInfo(recipe="lora_sft", state="running")]
    assert "no_evals" not in _codes(_behavior(corpus), _with(jobs=running))


def test_mixed_training_formats(corpus) -> None:
    alpaca = DatasetInfo(name="old", kind="sft", rows=100, formats=["alpaca"])
    (warning,) = [
        w
        for w in _warnings(_behavior(corpus), _with(datasets=[HOLDOUT, SFT, alpaca]))
        if w.code == "mixed_formats"
    ]
    assert "alpaca, chatml" in warning.message
    # a holdout in another format is not training data
    other = DatasetInfo(kind="holdout", rows=50, formats=["raw"])
    assert "mixed_formats" not in _codes(_behavior(corpus), _with(datasets=[other, SFT]))


def test_mostly_synthetic_training_data(corpus) -> None:
    synthetic = SFT.model_copy(update={"synthetic_share": 0.8})
    assert "mostly_synthetic" in _codes(_behavior(corpus), _with(datasets=[HOLDOUT, synthetic]))
    some = SFT.model_copy(update={"synthetic_share": 0.3})
    assert "mostly_synthetic" not in _codes(_behavior(corpus), _with(datasets=[HOLDOUT, some]))


def test_too_few_examples_for_a_job(corpus) -> None:
    jobs = [
        JobInfo(id="small", recipe="lora_sft", state="succeeded", train_rows=20),
        JobInfo(id="pairs", recipe="dpo", state="succeeded", train_rows=120),
        JobInfo(id="fine", recipe="lora_sft", state="succeeded", train_rows=400),
    ]
    warnings = [
        w
        for w in _warnings(_behavior(corpus), _with(jobs=jobs, evals=[EVAL]))
        if w.code == "too_few_examples"
    ]
    messages = " ".join(w.message for w in warnings)
    assert len(warnings) == 2
    assert "Job small" in messages and "Job pairs" in messages
    assert "Job fine" not in messages


def test_too_few_examples_for_the_planned_recipe(corpus) -> None:
    few = SFT.model_copy(update={"rows": 30})
    (warning,) = [
        w
        for w in _warnings(_behavior(corpus), _with(datasets=[HOLDOUT, few]))
        if w.code == "too_few_examples"
    ]
    assert "30 SFT examples" in warning.message
    assert "LoRA" in warning.message


def test_too_many_epochs(corpus) -> None:
    jobs = [
        JobInfo(id="a", recipe="lora_sft", state="succeeded", epochs=3),
        JobInfo(id="b", recipe="dpo", state="succeeded", config={"num_train_epochs": 5}),
        JobInfo(id="c", recipe="lora_sft", state="succeeded", epochs=2),
        JobInfo(id="d", recipe="rag_index", state="succeeded", epochs=10),
    ]
    warnings = [
        w
        for w in _warnings(_behavior(corpus), _with(jobs=jobs, evals=[EVAL]))
        if w.code == "too_many_epochs"
    ]
    assert sorted(w.message.split()[1] for w in warnings) == ["a", "b"]


def test_many_full_fine_tuned_copies(corpus) -> None:
    one = [JobInfo(recipe="full_sft", state="succeeded")]
    two = [*one, JobInfo(recipe="sft", state="failed")]
    assert "full_copies" not in _codes(_behavior(corpus), _with(jobs=one, evals=[EVAL]))
    assert "full_copies" in _codes(_behavior(corpus), _with(jobs=two, evals=[EVAL]))


def test_uncertain_triage(corpus) -> None:
    pairs = _behavior(corpus)
    flagged = [(c, r.model_copy(update={"needs_review": True})) for c, r in pairs[:6]]
    assert "triage_uncertain" in _codes(flagged + pairs[6:], CLEAN)
    assert "triage_uncertain" not in _codes(pairs, CLEAN)


def test_warnings_are_ordered_by_severity(corpus) -> None:
    case = FailureCase(input="What is the price?", output="$29", attempted=["lora"])
    (_, stale) = pairs_with(corpus, "stale_knowledge")[0]
    jobs = [JobInfo(recipe="full_sft", state="succeeded", epochs=4)] * 2
    warnings = _warnings([(case, stale), *_behavior(corpus)], ProjectContext(jobs=jobs))
    ranks = [{"critical": 0, "warning": 1, "info": 2}[w.severity] for w in warnings]
    assert ranks == sorted(ranks)
    assert warnings[0].severity == "critical"
    assert all(w.what_to_do for w in warnings)
