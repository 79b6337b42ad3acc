"""The recipes' LocalChatModel and a local judge generate through the shared engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.serving.engine import GenerationEngine
from evals.chat import ChatClient
from evals.dataset import Example
from evals.judges.rubric import RubricJudge
from recipes.local_chat import LocalChatModel, local_engine


def test_local_chat_model_answers_like_the_server_engine(
    tiny_model: dict[str, Path], engine: GenerationEngine
) -> None:
    chat = LocalChatModel(
        model_path=str(tiny_model["base"]), adapter_path=str(tiny_model["alpha"]), max_new_tokens=8
    )
    reply = chat.invoke("hello there")
    expected = engine.generate(
        model="alpha",
        messages=[{"role": "user", "content": "hello there"}],
        max_tokens=8,
        temperature=0,
    )
    assert reply.text == expected.choices[0].text.strip()
    assert reply.usage_metadata["output_tokens"] == expected.completion_tokens
    # the same process-wide batching engine serves every caller of this (model, adapter)
    shared = local_engine(str(tiny_model["base"]), str(tiny_model["alpha"]))
    before = shared.batched_requests
    replies = chat.batch(["one", "two", "three"])
    assert len(replies) == 3 and shared.batched_requests == before + 3


def test_rubric_judge_runs_on_the_local_engine(tiny_model: dict[str, Path]) -> None:
    judge_model = LocalChatModel(model_path=str(tiny_model["base"]), max_new_tokens=6)
    judge = RubricJudge(client=ChatClient(model=judge_model, model_name="tiny-judge"))
    verdict = asyncio.run(judge.judge(Example(id="1", input="2+2?", expected="4"), "4"))
    # a random tiny model writes no JSON verdict: the judge reports that instead of a score
    assert verdict.raw and verdict.score is None and "JSON" in verdict.reason
