"""The paired gate: improvements pass, regressions fail, and paired statistics see what an
unpaired comparison calls noise."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from eval_helpers import make_run

from evals.errors import GateInputError, PolicyError
from evals.gate import compare_runs
from evals.policy import GatePolicy, effective_margin, load_policy, parse_margin
from evals.stats import mcnemar_exact, paired_bootstrap_ci, welch_pvalue

RNG_SEED = 7


def _spread_baseline(n: int = 40) -> np.ndarray:
    """Scores that vary a lot from example to example (easy and hard examples)."""
    return np.random.default_rng(RNG_SEED).uniform(0.1, 0.9, size=n)


def test_real_improvement_passes() -> None:
    base = _spread_baseline()
    noise = np.random.default_rng(1).normal(0, 0.02, size=base.size)
    cand = np.clip(base + 0.06 + noise, 0, 1)
    report = compare_runs(
        baseline=make_run({"rouge_l": base}, name="base"),
        candidate=make_run({"rouge_l": cand}, name="cand"),
    )
    (decision,) = report.decisions
    assert report.status == "pass"
    assert decision.status == "pass"
    assert decision.ci_low is not None and decision.ci_low > 0
    assert decision.n == 40
    assert decision.margin == pytest.approx(0.01)
    assert decision.test == "bca_bootstrap"
    # p of "no drop beyond the margin": an improvement is nowhere near a drop
    assert decision.p_value is not None and decision.p_value > 0.999
    assert decision.detectable_drop is not None and decision.detectable_drop > decision.margin


def test_clear_regression_fails_with_numbers() -> None:
    base = _spread_baseline()
    cand = np.clip(base - 0.2, 0, 1)
    report = compare_runs(
        baseline=make_run({"semantic_similarity": base}, name="base"),
        candidate=make_run({"semantic_similarity": cand}, name="cand"),
    )
    (decision,) = report.decisions
    assert report.status == "fail"
    assert decision.status == "fail"
    assert decision.ci_high is not None and decision.ci_high < -decision.margin  # type: ignore[operator]
    assert decision.mean_diff == pytest.approx(float((cand - base).mean()))
    assert decision.baseline_mean == pytest.approx(float(base.mean()))
    assert decision.candidate_mean == pytest.approx(float(cand.mean()))


def test_paired_statistics_catch_a_drop_an_unpaired_test_calls_noise() -> None:
    """Every example drops by ~0.03 (3x the margin), but the examples differ far more among
    themselves than that: Welch's unpaired test sees nothing, the paired CI sees a regression."""
    base = _spread_baseline(40)
    jitter = np.random.default_rng(2).uniform(-0.005, 0.005, size=base.size)
    cand = base - 0.03 + jitter
    assert np.all(cand < base)  # a consistent drop on every example

    unpaired_p = welch_pvalue(cand, base)
    assert unpaired_p is not None and unpaired_p > 0.3  # "no significant difference"
    # An unpaired bootstrap of the difference of means straddles zero and the margin too.
    rng = np.random.default_rng(0)
    boot = [
        rng.choice(cand, cand.size).mean() - rng.choice(base, base.size).mean() for _ in range(2000)
    ]
    low, high = np.quantile(boot, [0.025, 0.975])
    assert low < -0.01 < high and low < 0 < high

    report = compare_runs(
        baseline=make_run({"rouge_l": base}, name="base"),
        candidate=make_run({"rouge_l": cand}, name="cand"),
    )
    (decision,) = report.decisions
    assert decision.status == "fail", decision.reason
    assert report.status == "fail"
    assert decision.ci_high is not None and decision.ci_high < -0.01
    assert decision.unpaired_p_value == pytest.approx(unpaired_p)
    assert decision.p_value is not None and decision.p_value < 1e-10  # paired, one-sided


def test_mcnemar_exact_matches_the_binomial_formula() -> None:
    base = np.array([1] * 10 + [0] * 10)
    cand = np.array([0] * 8 + [1] * 2 + [0] * 10)  # 8 lost, 0 gained
    result = mcnemar_exact(cand, base)
    assert (result.lost, result.gained) == (8, 0)
    assert result.p_value == pytest.approx(2 * 0.5**8)

    cand2 = np.array([0] * 3 + [1] * 7 + [1] * 3 + [0] * 7)  # 3 lost, 3 gained
    balanced = mcnemar_exact(cand2, base)
    assert (balanced.lost, balanced.gained) == (3, 3)
    assert balanced.p_value == pytest.approx(1.0)

    lost, gained = 2, 9
    expected = min(1.0, 2 * sum(math.comb(11, k) for k in range(lost + 1)) / 2**11)
    base3 = np.array([1] * lost + [0] * gained)
    cand3 = np.array([0] * lost + [1] * gained)
    assert mcnemar_exact(cand3, base3).p_value == pytest.approx(expected)


def test_pass_fail_regression_uses_the_tango_interval() -> None:
    base = np.array([1] * 30 + [0] * 10)
    cand = base.copy()
    cand[:9] = 0  # nine examples that passed now fail, none gained
    report = compare_runs(
        baseline=make_run({"exact_match": base}, name="base"),
        candidate=make_run({"exact_match": cand}, name="cand"),
    )
    (decision,) = report.decisions
    assert decision.status == "fail"
    assert decision.test == "tango_score"
    assert (decision.lost, decision.gained) == (9, 0)
    assert decision.p_value is not None and decision.p_value < 0.01
    assert decision.ci_high is not None and decision.ci_high < -0.01


def test_few_discordant_pairs_stay_undecided() -> None:
    """4 of 40 examples lost: McNemar p = 0.125, so the score interval must not call it a
    regression either (a percentile bootstrap would: every resample is <= 0)."""
    base = np.array([1] * 30 + [0] * 10)
    cand = base.copy()
    cand[:4] = 0
    boot = paired_bootstrap_ci(cand - base, seed=0)
    assert boot.high < -0.01  # what a bootstrap would have concluded
    report = compare_runs(
        baseline=make_run({"exact_match": base}, name="base"),
        candidate=make_run({"exact_match": cand}, name="cand"),
    )
    (decision,) = report.decisions
    assert mcnemar_exact(cand, base).p_value == pytest.approx(0.125)
    assert decision.status == "undecided"
    assert report.status == "undecided"
    assert decision.ci_low < -0.01 < decision.ci_high  # type: ignore[operator]


def test_undecided_by_default_and_fails_under_a_strict_policy(tmp_path: Path) -> None:
    base = _spread_baseline(40)
    noise = np.random.default_rng(3).normal(0, 0.15, size=base.size)
    cand = np.clip(base + noise, 0, 1)
    baseline = make_run({"rouge_l": base}, name="base")
    candidate = make_run({"rouge_l": cand}, name="cand")

    lenient = compare_runs(baseline=baseline, candidate=candidate)
    (decision,) = lenient.decisions
    assert decision.status == "undecided", decision
    assert decision.ci_low < -0.01 < decision.ci_high  # type: ignore[operator]
    assert lenient.status == "undecided"  # never a pass

    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("defaults:\n  on_undecided: fail\n", encoding="utf-8")
    strict = compare_runs(baseline=baseline, candidate=candidate, policy=load_policy(policy_file))
    assert strict.decisions[0].status == "fail"
    assert strict.status == "fail"


def test_lower_is_better_metric_fails_when_it_rises() -> None:
    rng = np.random.default_rng(4)
    base = rng.uniform(50, 150, size=30)  # e.g. words per answer; not in [0, 1]
    cand = base * 1.2
    policy = GatePolicy.model_validate({"metrics": {"words": {"direction": "lower"}}})
    report = compare_runs(
        baseline=make_run({"words": base}, name="b"),
        candidate=make_run({"words": cand}, name="c"),
        policy=policy,
    )
    (decision,) = report.decisions
    assert decision.status == "fail"
    assert decision.margin == pytest.approx(0.01 * base.mean())  # 1% of the baseline mean
    assert decision.ci_low is not None and decision.ci_low > 0  # candidate - baseline rose

    better = compare_runs(
        baseline=make_run({"words": base}, name="b"),
        candidate=make_run({"words": base * 0.8}, name="c"),
        policy=policy,
    )
    assert better.decisions[0].status == "pass"


def test_min_examples_and_partial_overlap() -> None:
    base = make_run({"m": [0.5, 0.6, 0.7]}, name="b", ids=["a", "b", "c"])
    cand = make_run({"m": [0.5, 0.6, 0.9]}, name="c", ids=["b", "c", "d"])
    policy = GatePolicy.model_validate({"defaults": {"min_examples": 5}})
    report = compare_runs(baseline=base, candidate=cand, policy=policy)
    assert report.n_shared == 2
    assert (report.baseline_only, report.candidate_only) == (1, 1)
    assert report.decisions[0].status == "undecided"
    assert "min_examples" in report.decisions[0].reason
    assert report.notes


def test_no_shared_ids_is_an_input_error() -> None:
    with pytest.raises(GateInputError, match="share no example ids"):
        compare_runs(
            baseline=make_run({"m": [1.0]}, name="b", ids=["x"]),
            candidate=make_run({"m": [1.0]}, name="c", ids=["y"]),
        )


def test_a_metric_scored_by_two_scorer_versions_is_not_compared() -> None:
    rng = np.random.default_rng(3)
    scores = rng.uniform(0.2, 0.8, size=30)
    old = make_run({"rouge_l": scores, "exact_match": (scores > 0.5) * 1.0}, name="champion")
    new = make_run({"rouge_l": scores + 0.1, "exact_match": (scores > 0.5) * 1.0}, name="cand")
    new.run["scorer_versions"] = {"rouge_l": 2}  # the champion's run predates versions: 1
    with pytest.raises(GateInputError, match=r"rouge_l was scored by version 1 .* version 2"):
        compare_runs(baseline=old, candidate=new)
    old.run["scorer_versions"] = {"rouge_l": 2}
    decisions = {d.metric: d.status for d in compare_runs(baseline=old, candidate=new).decisions}
    assert decisions["rouge_l"] == "pass"
    # a metric only one run has is not a version clash (the gate reports it as missing)
    only_new = make_run({"rouge_l": scores + 0.1, "bleu": scores}, name="cand")
    only_new.run["scorer_versions"] = {"rouge_l": 2, "bleu": 3}
    compare_runs(baseline=old, candidate=only_new)


def test_required_metric_missing_fails_and_ungated_metric_is_skipped() -> None:
    rng = np.random.default_rng(8)
    b_scores = rng.uniform(0.2, 0.8, size=40)
    base = make_run({"a": b_scores, "b": b_scores}, name="b")
    cand = make_run({"a": b_scores + 0.05}, name="c")
    policy = GatePolicy.model_validate({"metrics": {"b": {"required": True}}})
    report = compare_runs(baseline=base, candidate=cand, policy=policy)
    status = {d.metric: d.status for d in report.decisions}
    assert status == {"a": "pass", "b": "fail"}
    assert report.status == "fail"

    not_a = GatePolicy.model_validate({"metrics": {"a": {"gate": False}}})
    both = make_run({"a": b_scores + 0.05, "b": b_scores + 0.05}, name="c")
    report2 = compare_runs(baseline=base, candidate=both, policy=not_a)
    assert {d.metric: d.status for d in report2.decisions} == {"a": "skipped", "b": "pass"}
    assert report2.status == "pass"


def test_margins_absolute_relative_and_default() -> None:
    assert parse_margin(0.02) == (0.02, False)
    assert parse_margin("2%") == (pytest.approx(0.02), True)
    rules = GatePolicy().for_metric("x")
    assert effective_margin(rules, baseline_mean=0.5, unit_interval=True) == 0.01
    assert effective_margin(rules, baseline_mean=200.0, unit_interval=False) == pytest.approx(2.0)
    rel = GatePolicy.model_validate({"defaults": {"margin": "5%"}}).for_metric("x")
    assert effective_margin(rel, baseline_mean=0.4, unit_interval=True) == pytest.approx(0.02)


def test_policy_files_json_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "p.json"
    good.write_text('{"metrics": {"exact_match": {"margin": 0.05, "confidence": 0.9}}}')
    policy = load_policy(good)
    assert policy.for_metric("exact_match").margin == 0.05
    assert policy.for_metric("exact_match").confidence == 0.9
    bad = tmp_path / "bad.yaml"
    bad.write_text("metrics:\n  exact_match: {direction: sideways}\n")
    with pytest.raises(PolicyError, match="direction"):
        load_policy(bad)
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "missing.yaml")


def test_bootstrap_is_seeded_and_covers_the_mean() -> None:
    diffs = np.random.default_rng(5).normal(0.1, 0.3, size=60)
    first = paired_bootstrap_ci(diffs, seed=11)
    again = paired_bootstrap_ci(diffs, seed=11)
    assert first == again
    assert first.low < diffs.mean() < first.high
    narrow = paired_bootstrap_ci(diffs, confidence=0.5, seed=11)
    assert first.low < narrow.low < narrow.high < first.high
