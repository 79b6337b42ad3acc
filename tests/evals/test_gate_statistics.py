"""The gate's statistics say what they know: too few examples is undecided, judges earn their
vote, Holm keeps several metrics from multiplying false failures, intervals keep coverage, a
request can only tighten a stored policy, and the simulated A/A false-fail rate stays low."""

from __future__ import annotations

import numpy as np
import pytest
from eval_helpers import make_run

from evals.calibration import rates
from evals.errors import GateInputError, PolicyError
from evals.gate import compare_runs, metric_scales
from evals.inference import (
    bca_interval,
    detectable_drop,
    holm,
    paired_counts,
    tango_interval,
)
from evals.policy import GatePolicy, loosenings, merge_policy


def test_three_small_positive_differences_are_undecided_not_pass() -> None:
    base = make_run({"m": [0.50, 0.50, 0.50]}, name="b")
    cand = make_run({"m": [0.55, 0.60, 0.52]}, name="c")  # differences 0.05, 0.10, 0.02
    report = compare_runs(baseline=base, candidate=cand)
    (decision,) = report.decisions
    assert decision.status == "undecided"
    assert report.status == "undecided"
    assert decision.reason.startswith("undecided: too few examples (3 paired")
    assert "with 3 examples this gate cannot see a drop under" in decision.reason


def test_detectable_drop_sentence_and_formula() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.8, size=48)
    cand = base + rng.normal(0, 0.1, size=48)
    (decision,) = compare_runs(
        baseline=make_run({"m": base}, name="b"), candidate=make_run({"m": cand}, name="c")
    ).decisions
    sd = float(np.std(cand - base, ddof=1))
    expected = detectable_drop(sd, 48, margin=0.01, confidence=0.95)
    assert decision.detectable_drop == pytest.approx(expected)
    # 0.01 + (t_.975 + t_.80, 47 df) * sd / sqrt(48)
    assert expected == pytest.approx(0.01 + (2.0117 + 0.8489) * sd / np.sqrt(48), rel=1e-3)
    assert decision.detectable_sentence == (
        f"with 48 examples this gate cannot see a drop under {expected:.2g}"
    )


def _judge_run(name: str, scores: np.ndarray, judge: dict) -> object:
    run = make_run({"rubric": scores}, name=name)
    run.judge = judge
    return run


def test_unreliable_judge_is_undecided_with_its_figures_and_kappa() -> None:
    rng = np.random.default_rng(1)
    base = rng.uniform(0.2, 0.8, size=40)
    good = {"rubric": {"metric": "rubric", "judged": 40, "parsed": 39, "unparsed": 1}}
    shaky = {
        "rubric": {"metric": "rubric", "judged": 40, "parsed": 34, "unparsed": 6},
        "agreement": {"rubric_pass_fail": {"n": 20, "accuracy": 0.7, "kappa": 0.41}},
    }
    trusted = compare_runs(
        baseline=_judge_run("b", base, good), candidate=_judge_run("c", base + 0.1, good)
    )
    assert trusted.decisions[0].status == "pass"
    assert trusted.decisions[0].judge is not None
    assert trusted.decisions[0].judge.unparsed_share == pytest.approx(1 / 40)

    report = compare_runs(
        baseline=_judge_run("b", base, good), candidate=_judge_run("c", base + 0.1, shaky)
    )
    (decision,) = report.decisions
    assert decision.status == "undecided"
    assert "judge unreliable (15% of verdicts unparsed, limit 10%" in decision.reason
    assert "kappa vs human labels 0.41" in decision.reason
    assert decision.judge is not None and decision.judge.kappa == pytest.approx(0.41)

    flips = {"pairwise": {"metric": "rubric", "n": 40, "unparsed": 0, "flip_rate": 0.3}}
    flipped = compare_runs(
        baseline=_judge_run("b", base, {}), candidate=_judge_run("c", base + 0.1, flips)
    )
    assert (
        "30% of verdicts flip when the order is swapped, limit 20%" in flipped.decisions[0].reason
    )
    looser = GatePolicy.model_validate({"judge": {"max_flip_rate": 0.35}})
    allowed = compare_runs(
        baseline=_judge_run("b", base, {}),
        candidate=_judge_run("c", base + 0.1, flips),
        policy=looser,
    )
    assert allowed.decisions[0].status == "pass"


def test_holm_adjusts_and_steps_down() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]

    # Two metrics with the same modest drop: each fails alone at 95%, not both after Holm.
    rng = np.random.default_rng(3)
    base = rng.uniform(0.3, 0.7, size=40)
    noise = rng.normal(0, 0.1, size=40)
    noise = (noise - noise.mean()) / noise.std(ddof=1) * 0.1
    cand = base - 0.042 + noise  # upper end -0.0128 at 95%, -0.0083 at 97.5%
    alone = compare_runs(
        baseline=make_run({"a": base}, name="b"), candidate=make_run({"a": cand}, name="c")
    )
    assert alone.decisions[0].status == "fail", alone.decisions[0].reason
    both = compare_runs(
        baseline=make_run({"a": base, "b": base}, name="b"),
        candidate=make_run({"a": cand, "b": cand}, name="c"),
    )
    assert both.holm_tests == 2
    statuses = sorted(d.status for d in both.decisions)
    assert statuses == ["undecided", "undecided"], [d.reason for d in both.decisions]
    assert all("Holm" in d.reason for d in both.decisions)
    assert all(d.fail_confidence is not None for d in both.decisions)


def test_tango_interval_keeps_its_coverage_and_bca_is_seeded() -> None:
    rng = np.random.default_rng(4)
    n, reps = 60, 3000
    base = (rng.random((reps, n)) < 0.7).astype(float)
    flip = rng.random((reps, n))
    cand = base.copy()
    cand[(base == 1) & (flip < 0.15)] = 0
    cand[(base == 0) & (flip < 0.2)] = 1
    truth = 0.3 * 0.2 - 0.7 * 0.15
    gained, lost, _ = paired_counts(cand, base)
    ci = tango_interval(gained, lost, n, confidence=0.95)
    coverage = float(np.mean((ci.low <= truth) & (truth <= ci.high)))
    assert 0.93 <= coverage <= 0.97
    # no discordant pair at all still gives an interval, not a point
    zero = tango_interval(np.array(0), np.array(0), 40, confidence=0.95)
    assert float(zero.low) < -0.05 and float(zero.high) > 0.05

    diffs = rng.normal(0.05, 0.2, size=50)
    first = bca_interval(diffs, confidence=0.95, resamples=2000, seed=3)
    again = bca_interval(diffs, confidence=0.95, resamples=2000, seed=3)
    assert (float(first.low), float(first.high)) == (float(again.low), float(again.high))
    assert float(first.low) < diffs.mean() < float(first.high)


def test_a_run_gated_against_itself_and_an_all_skipped_policy_are_refused() -> None:
    run = make_run({"m": np.linspace(0, 1, 40)}, name="r")
    run.run["id"] = "evr_1"
    with pytest.raises(GateInputError, match="cannot be gated against itself"):
        compare_runs(baseline=run, candidate=run)
    with pytest.raises(ValueError, match="skips every metric"):
        GatePolicy.model_validate({"defaults": {"gate": False}})
    other = make_run({"m": np.linspace(0, 1, 40)}, name="o")
    nothing = compare_runs(
        baseline=other, candidate=other, policy=GatePolicy.model_validate({"only": ["absent"]})
    )
    assert nothing.status == "undecided"
    assert any("cannot pass" in note for note in nothing.notes)


def test_a_request_may_tighten_the_stored_policy_but_not_loosen_it() -> None:
    stored = GatePolicy.model_validate(
        {"defaults": {"margin": 0.02}, "metrics": {"em": {"required": True}}}
    )
    base = make_run({"em": [1.0, 0.0] * 20, "rouge": np.linspace(0.2, 0.8, 40)}, name="b")
    scales = metric_scales(base, base)
    tighter = merge_policy(stored, {"defaults": {"margin": 0.01, "on_undecided": "fail"}})
    assert tighter.for_metric("em").required  # kept from the stored policy
    assert loosenings(stored, tighter, scales=scales) == []
    looser = merge_policy(
        stored,
        {"defaults": {"margin": 0.05, "min_examples": 5}, "metrics": {"em": {"required": False}}},
    )
    problems = loosenings(stored, looser, scales=scales)
    assert any("widens the margin 0.02 -> 0.05" in p for p in problems)
    assert any("min_examples 30 -> 5" in p for p in problems)
    assert any("drops required" in p for p in problems)
    skipped = merge_policy(stored, {"only": ["rouge"]})
    assert any(
        p.startswith("em: stops gating it") for p in loosenings(stored, skipped, scales=scales)
    )
    reseeded = merge_policy(stored, {"seed": 7})
    assert any("seed" in p for p in loosenings(stored, reseeded, scales=scales))
    with pytest.raises(PolicyError, match="skips every metric"):
        merge_policy(stored, {"defaults": {"gate": False}})


@pytest.mark.parametrize("kind", ["continuous", "binary"])
def test_simulated_aa_false_fail_rate_is_at_most_6_percent(kind: str) -> None:
    """1,000 simulated A/A pairs (no real difference) at n = 30 through the gate's own interval
    and decision functions; and the same gate catches most real drops of twice the margin at
    n = 300 (a gate that never fails would pass the first check)."""
    aa = rates(kind, n=30, pairs=1000, drop=0.0, margin=0.05, seed=11, resamples=2000)  # type: ignore[arg-type]
    assert aa.fail <= 0.06
    assert aa.pairs == 1000
    ab = rates(kind, n=300, pairs=300, drop=0.10, margin=0.05, seed=12, resamples=2000)  # type: ignore[arg-type]
    assert ab.fail >= (0.9 if kind == "continuous" else 0.2)
    assert ab.passed <= 0.01
