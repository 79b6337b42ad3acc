"""Scoring the champion's and the candidate's answers: acceptable per step, and the rubric
judge when one is configured (a real OpenAI-compatible server with the tiny model: it cannot
produce a verdict, and an unparsed verdict never counts as acceptable)."""

from __future__ import annotations

import json
from pathlib import Path

from app.cases.models import Case
from app.config import Settings
from app.fixes.builders import infer_validators
from app.fixes.evaluation import Answer, exact_match, score_answers


def _case(i: int, expected: str) -> Case:
    return Case(
        id=f"cas_{i}", project_id="p", input=f"question {i}", output="bad answer", expected=expected
    )


def test_acceptable_per_step_and_outcomes() -> None:
    settings = Settings(env="test")
    expected = "Your parcel is at the depot and arrives tomorrow."
    answers = [
        # fixed: the candidate says the expected answer
        Answer(
            case=_case(0, expected),
            subcategory="grounding",
            champion="I have no idea, sorry.",
            candidate=expected.upper(),
        ),
        # broken: the champion was right, the candidate is not
        Answer(
            case=_case(1, expected),
            subcategory="grounding",
            champion=expected,
            candidate="Bananas are yellow.",
        ),
        # still failing
        Answer(case=_case(2, expected), subcategory="style", champion="No.", candidate="Maybe."),
    ]
    scored = score_answers(answers, recipe="lora_sft", settings=settings)
    assert [o.outcome for o in scored.outcomes] == ["fixed", "broken", "still_failing"]
    assert scored.candidate[0]["exact_match"] == 1.0 and scored.candidate[0]["acceptable"] == 1.0
    assert scored.champion[1]["similarity"] > 0.99

    # prompting: format cases are judged by the validators alone; other cases need closeness too
    prompted = [
        Answer(
            case=_case(3, '{"a": 1}'),
            subcategory="format",
            champion="a is 1",
            candidate='{"a": 2}',
            champion_errors=["not JSON"],
            candidate_errors=[],
        ),
        Answer(
            case=_case(4, expected),
            subcategory="procedure",
            champion=expected,
            candidate="Bananas are yellow.",
            champion_errors=[],
            candidate_errors=[],
        ),
    ]
    scored = score_answers(prompted, recipe="prompting", settings=settings)
    assert [o.outcome for o in scored.outcomes] == ["fixed", "broken"]
    assert scored.candidate[0]["validators"] == 1.0
    assert "format cases" in scored.criterion


def test_exact_match_and_inferred_validators() -> None:
    assert exact_match("  The Parcel arrives.  ", "the parcel   arrives")
    assert exact_match('{"b": 1, "a": 2}', '```json\n{"a": 2, "b": 1}\n```')
    assert not exact_match("yes", "no")
    answers = [json.dumps({"id": f"PP{i}", "ok": True, "days": i}) for i in range(5)]
    config = infer_validators(answers)
    assert config["json_schema"] == {
        "type": "object",
        "required": ["days", "id", "ok"],
        "properties": {
            "days": {"type": "integer"},
            "id": {"type": "string"},
            "ok": {"type": "boolean"},
        },
    }
    assert (
        config["min_chars"]
        <= min(map(len, answers))
        <= max(map(len, answers))
        <= config["max_chars"]
    )
    prose = ["The parcel is at the depot and it will be delivered with the next round."] * 3
    config = infer_validators(prose)
    assert "json_schema" not in config and config["language"] == "en"


def test_a_configured_judge_that_gives_no_verdict_never_makes_an_answer_acceptable(
    tiny_model: Path,
) -> None:
    from app.serving.engine import GenerationEngine
    from app.serving.launch import ModelServerThread

    engine = GenerationEngine.load(base=tiny_model, base_name="tiny")
    expected = "Your parcel is at the depot."
    answers = [
        Answer(case=_case(0, expected), subcategory="grounding", champion="no", candidate=expected)
    ]
    with ModelServerThread(engine, default_max_tokens=8) as server:
        settings = Settings(env="test", llm_base_url=server.base_url, llm_model="tiny")
        scored = score_answers(answers, recipe="lora_sft", settings=settings)
    # no verdict either way: the tiny model's context is too short for the rubric (the call
    # fails) or its reply holds no JSON verdict; both leave the answer unscored
    assert scored.judge["unparsed"] == 2
    assert "judge" in scored.criterion
    # the candidate matches exactly, but without a verdict it is not counted as acceptable
    assert scored.candidate[0]["exact_match"] == 1.0
    assert scored.candidate[0]["acceptable"] == 0.0
    assert "fixes_failure" not in scored.candidate[0]
    assert scored.outcomes[0].outcome == "still_failing"


def test_the_judge_grades_answers_concurrently_and_keeps_their_order() -> None:
    """A judge behind a real HTTP server that grades by the answer it is shown (5 when the
    answer says "fixed it", else 1) and counts how many calls it holds at once."""
    import threading
    import time

    from tests.scripted_endpoint import chat_reply, scripted_endpoint

    state = {"in_flight": 0, "most": 0, "calls": 0}
    lock = threading.Lock()

    def judge(body: dict) -> tuple[int, dict]:
        with lock:
            state["in_flight"] += 1
            state["calls"] += 1
            state["most"] = max(state["most"], state["in_flight"])
        time.sleep(0.2)  # long enough for the other calls to arrive
        with lock:
            state["in_flight"] -= 1
        score = 5 if "fixed it" in body["messages"][-1]["content"] else 1
        return 200, chat_reply(json.dumps({"reason": "graded", "score": score}))

    expected = "Your parcel is at the depot."
    answers = [
        Answer(
            case=_case(i, expected),
            subcategory="grounding",
            champion="no idea",
            candidate="we fixed it: " + expected if i % 2 else "still no idea",
        )
        for i in range(6)
    ]
    with scripted_endpoint(judge) as base_url:
        settings = Settings(env="test", llm_base_url=base_url, llm_model="judge")
        scored = score_answers(answers, recipe="lora_sft", settings=settings)
    assert state["calls"] == 12 and state["most"] > 1  # both sides, several calls at once
    assert [row["fixes_failure"] for row in scored.candidate] == [0.0, 1.0] * 3
    assert all(row["fixes_failure"] == 0.0 for row in scored.champion)
    assert scored.judge["unparsed"] == 0 and scored.judge["call_errors"] == 0
