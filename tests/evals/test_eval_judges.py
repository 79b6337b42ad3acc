"""LLM judges on scripted chat models: parsing, position swap, unparsed counts, agreement."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from scripted_chat import ScriptedChat

from evals.cache import GenerationCache
from evals.chat import ChatClient
from evals.dataset import Example
from evals.judges import PairwiseJudge, RubricJudge, judge_agreement, same_model_warning
from evals.judges.parsing import extract_json_object
from evals.runner import Progress, run_eval
from evals.scorers import build_scorer
from evals.solver import ChatModelSolver, PrecomputedSolver


def _graded(text: str) -> str:
    return text.split("Response to grade:\n", 1)[1].split("\n\nYour JSON verdict:")[0]


def _pair(text: str) -> tuple[str, str]:
    match = re.search(r"Response A:\n(.*)\n\nResponse B:\n(.*)\n\nYour JSON verdict:", text, re.S)
    assert match
    return match.group(1), match.group(2)


def _client(rule, *, name: str = "judge-model", **kw) -> ChatClient:  # type: ignore[no-untyped-def]
    return ChatClient(model=ScriptedChat(rule=rule, **kw), model_name=name)


def _examples(outputs: dict[str, tuple[str, str]], **extra: object) -> list[Example]:
    return [
        Example(id=i, input=f"question {i}", output=out, baseline_output=base, **extra)  # type: ignore[arg-type]
        for i, (out, base) in outputs.items()
    ]


def test_json_extraction() -> None:
    assert extract_json_object('Sure! ```json\n{"score": 4, "reason": "ok"}\n```') == {
        "score": 4,
        "reason": "ok",
    }
    assert extract_json_object("score: 4") is None
    assert extract_json_object('{bad} then {"winner": "A"}') == {"winner": "A"}


def test_rubric_parses_and_counts_unparsed_without_defaulting() -> None:
    def rule(text: str) -> str:
        answer = _graded(text)
        if "good" in answer:
            return 'Verdict: {"reason": "fine", "score": 5}'
        if "meh" in answer:
            return '{"reason": "partly", "score": "3"}'
        if "weird" in answer:
            return '{"reason": "off scale", "score": 9}'
        return "I would give it a four out of five."  # no JSON: must stay unscored

    judge = RubricJudge(client=_client(rule))
    examples = _examples(
        {"a": ("good", ""), "b": ("meh", ""), "c": ("weird", ""), "d": ("bad", "")}
    )
    result = asyncio.run(
        run_eval(examples=examples, solver=PrecomputedSolver(), scorers=[], rubric_judge=judge)
    )
    scores = {e.id: e.scores.get("rubric") for e in result.examples}
    assert scores == {"a": 1.0, "b": 0.5, "c": None, "d": None}
    by_id = {e.id: e for e in result.examples}
    assert "unparsed" in by_id["d"].unscored["rubric"]
    assert by_id["d"].judge["rubric"]["raw"].startswith("I would give")
    assert result.judge["unparsed"] == 2
    assert result.judge["rubric"]["parsed"] == 2
    assert result.judge["rubric"]["mean_score"] == 4.0
    assert result.summary["rubric"].n == 2


def test_pairwise_runs_both_orders_and_reports_flips() -> None:
    """A judge that always picks position A: every pair flips, so every pair is a tie."""
    client = _client(lambda text: '{"reason": "first is better", "winner": "A"}')
    judge = PairwiseJudge(client=client)
    examples = _examples({"a": ("cand 1", "base 1"), "b": ("cand 2", "base 2")})
    result = asyncio.run(
        run_eval(examples=examples, solver=PrecomputedSolver(), scorers=[], pairwise_judge=judge)
    )
    assert client.model.calls == 4  # type: ignore[attr-defined]  # two orders per example
    pairwise = result.judge["pairwise"]
    assert pairwise["flip_rate"] == 1.0
    assert pairwise["tie_rate"] == 1.0 and pairwise["win_rate"] == 0.0
    assert pairwise["first_position_always_won"] == 2
    assert {e.scores["pairwise"] for e in result.examples} == {0.5}
    assert all(e.judge["pairwise"]["flipped"] for e in result.examples)


def test_pairwise_consistent_preferences_and_unparsed() -> None:
    def rule(text: str) -> str:
        first, second = _pair(text)
        if "garbled" in first + second:
            return "no idea"
        if "Paris" in first and "Paris" not in second:
            return '{"winner": "A", "reason": "correct"}'
        if "Paris" in second and "Paris" not in first:
            return '{"winner": "B", "reason": "correct"}'
        return '{"winner": "tie", "reason": "same"}'

    judge = PairwiseJudge(client=_client(rule))
    examples = _examples(
        {
            "win": ("Paris", "Lyon"),
            "loss": ("Lyon", "Paris"),
            "tie": ("Paris", "Paris"),
            "tie2": ("Rome", "Lyon"),
            "bad": ("garbled", "Lyon"),
        }
    )
    result = asyncio.run(
        run_eval(examples=examples, solver=PrecomputedSolver(), scorers=[], pairwise_judge=judge)
    )
    scores = {e.id: e.scores.get("pairwise") for e in result.examples}
    assert scores == {"win": 1.0, "loss": 0.0, "tie": 0.5, "tie2": 0.5, "bad": None}
    pairwise = result.judge["pairwise"]
    assert pairwise["n"] == 4 and pairwise["unparsed"] == 1
    assert pairwise["flip_rate"] == 0.0
    assert (pairwise["win_rate"], pairwise["tie_rate"], pairwise["loss_rate"]) == (0.25, 0.5, 0.25)
    assert result.judge["unparsed"] == 1


def test_agreement_with_human_labels() -> None:
    # judge pass/fail = P P F F, human = P F F F: accuracy 3/4, kappa (0.75 - 0.5) / 0.5 = 0.5
    figures = judge_agreement([True, True, False, False], [True, False, False, False])
    assert figures.n == 4
    assert figures.accuracy == pytest.approx(0.75)
    assert figures.kappa == pytest.approx(0.5)
    assert judge_agreement([1, 1], [1, 1]).kappa is None  # undefined with a single label

    grades = {"a": 5, "b": 4, "c": 2, "d": 1}

    def rule(text: str) -> str:
        return json.dumps({"reason": "r", "score": grades[_graded(text)]})

    labels = {"a": True, "b": False, "c": False, "d": False}
    examples = [
        Example(id=k, input="q", output=k, human_label=labels[k]) for k in ("a", "b", "c", "d")
    ]
    result = asyncio.run(
        run_eval(
            examples=examples,
            solver=PrecomputedSolver(),
            scorers=[],
            rubric_judge=RubricJudge(client=_client(rule)),  # pass = grade >= 4
        )
    )
    agreement = result.judge["agreement"]["rubric_pass_fail"]
    assert agreement["n"] == 4
    assert agreement["accuracy"] == pytest.approx(0.75)
    assert agreement["kappa"] == pytest.approx(0.5)

    scale_examples = [
        Example(id=k, input="q", output=k, human_label=v)
        for k, v in {"a": 5, "b": 4, "c": 1, "d": 1}.items()
    ]
    scaled = asyncio.run(
        run_eval(
            examples=scale_examples,
            solver=PrecomputedSolver(),
            scorers=[],
            rubric_judge=RubricJudge(client=_client(rule)),
        )
    )
    scale = scaled.judge["agreement"]["rubric_scale"]
    assert scale["accuracy"] == pytest.approx(0.75)
    assert scale["weighted_kappa"] > scale["kappa"]  # near-misses count for the ordinal kappa


def test_same_model_judge_is_flagged() -> None:
    assert same_model_warning(candidate="SmolLM2", judge="smollm2 ") is not None
    assert same_model_warning(candidate="a", judge="b") is None
    client = _client(lambda t: '{"score": 3, "reason": "x"}', name="same")
    candidate = ChatClient(model=ScriptedChat(rule=lambda t: "answer"), model_name="same")
    result = asyncio.run(
        run_eval(
            examples=[Example(id="1", input="q")],
            solver=ChatModelSolver(client=candidate),
            scorers=[],
            rubric_judge=RubricJudge(client=client),
        )
    )
    assert any("same model" in w for w in result.judge["warnings"])


def test_cache_bounded_concurrency_and_progress(tmp_path: Path) -> None:
    examples = [Example(id=str(i), input=f"q{i}", expected=f"a{i}") for i in range(6)]
    cache = GenerationCache(tmp_path / "cache")
    first_model = ScriptedChat(rule=lambda t: "a" + t[1:], delay_s=0.02)
    updates: list[Progress] = []

    def run(model: ScriptedChat) -> object:
        client = ChatClient(model=model, model_name="cand", endpoint="http://x/v1", cache=cache)
        return asyncio.run(
            run_eval(
                examples=examples,
                solver=ChatModelSolver(client=client),
                scorers=[build_scorer("exact_match")],
                concurrency=2,
                progress=updates.append,
            )
        )

    first = run(first_model)
    assert first_model.calls == 6
    assert first_model.max_in_flight == 2
    assert [u.done for u in updates] == [1, 2, 3, 4, 5, 6]
    assert updates[-1].eta_s == 0.0 and all(u.total == 6 for u in updates)
    assert first.summary["exact_match"].mean == 1.0  # type: ignore[attr-defined]
    assert first.run["n_cached"] == 0  # type: ignore[attr-defined]

    second_model = ScriptedChat(rule=lambda t: "never called")
    second = run(second_model)
    assert second_model.calls == 0  # outputs came from the cache; only re-scored
    assert second.run["n_cached"] == 6  # type: ignore[attr-defined]
    assert second.summary["exact_match"].mean == 1.0  # type: ignore[attr-defined]


def test_generation_errors_are_recorded_per_example() -> None:
    def rule(text: str) -> str:
        if "boom" in text:
            raise RuntimeError("endpoint exploded")
        return "fine"

    client = ChatClient(model=ScriptedChat(rule=rule), model_name="cand")
    examples = [Example(id="ok", input="hello"), Example(id="bad", input="boom")]
    result = asyncio.run(
        run_eval(
            examples=examples,
            solver=ChatModelSolver(client=client),
            scorers=[build_scorer("length:max_words=3")],
        )
    )
    by_id = {e.id: e for e in result.examples}
    assert by_id["ok"].scores == {"length": 1.0}
    assert by_id["bad"].scores == {} and "endpoint exploded" in (by_id["bad"].error or "")
    assert result.run["n_errors"] == 1
