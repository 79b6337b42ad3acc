"""`ChatClient.for_endpoint` (evals' httpx client) against a real `rung serve-model` server, and
its retries against a real HTTP server that fails on purpose (tests/scripted_endpoint.py)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI

from app.serving.launch import ModelServerThread
from evals.chat import ChatClient, ChatEndpointError, GenerationParams
from evals.scorers import ScorerContext, build_scorer
from evals.scorers.rag import _ragas_llm
from tests.scripted_endpoint import chat_reply, scripted_endpoint

MESSAGES = [{"role": "user", "content": "Say something."}]


def test_replies_match_the_official_openai_client(server: ModelServerThread) -> None:
    official = OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
    for model in ("tiny-llama", "alpha"):
        want = official.chat.completions.create(
            model=model,
            messages=MESSAGES,
            max_tokens=12,
            temperature=0,  # type: ignore[arg-type]
        )
        client = ChatClient.for_endpoint(
            endpoint=server.base_url,
            model=model,
            params=GenerationParams(temperature=0.0, max_tokens=12),
        )

        async def ask(client: ChatClient = client) -> str:
            try:
                return (await client.complete(MESSAGES)).text
            finally:
                await client.aclose()

        assert asyncio.run(ask()) == want.choices[0].message.content
        assert asyncio.run(ask()) == want.choices[0].message.content  # a second event loop


def test_an_unknown_model_is_a_clear_error_without_retries(server: ModelServerThread) -> None:
    client = ChatClient.for_endpoint(endpoint=server.base_url, model="gamma", max_retries=3)
    with pytest.raises(ChatEndpointError, match=r"answered 404: .*available") as caught:
        asyncio.run(client.complete(MESSAGES))
    assert caught.value.status == 404 and not caught.value.retryable


def test_nothing_listening_is_a_transport_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ChatClient.for_endpoint(endpoint=f"http://127.0.0.1:{port}/v1", model="m")
    with pytest.raises(ChatEndpointError, match="cannot reach") as caught:
        asyncio.run(client.complete(MESSAGES))
    assert caught.value.status is None and caught.value.retryable


@pytest.fixture()
def flaky() -> Iterator[tuple[str, dict[str, Any]]]:
    """An endpoint that answers 503 to the first ``state["failures"]`` requests, then "ok"."""
    state: dict[str, Any] = {"failures": 0, "seen": []}

    def script(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        state["seen"].append(body)
        if len(state["seen"]) <= state["failures"]:
            return 503, {"error": {"message": "overloaded, try again"}}
        return 200, chat_reply("ok")

    with scripted_endpoint(script) as base_url:
        yield base_url, state


def test_a_503_is_retried_up_to_max_retries(flaky: tuple[str, dict[str, Any]]) -> None:
    url, state = flaky
    state["failures"] = 1
    client = ChatClient.for_endpoint(
        endpoint=url, model="m", api_key="sk-test", params=GenerationParams(max_tokens=5)
    )
    assert asyncio.run(client.complete(MESSAGES)).text == "ok"
    assert len(state["seen"]) == 2
    first = state["seen"][0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer sk-test"
    assert first["model"] == "m" and first["max_tokens"] == 5 and first["temperature"] == 0.0

    state["seen"], state["failures"] = [], 5
    with pytest.raises(ChatEndpointError, match="503: overloaded, try again"):
        asyncio.run(
            ChatClient.for_endpoint(endpoint=url, model="m", max_retries=2).complete(MESSAGES)
        )
    assert len(state["seen"]) == 3  # one try and two retries


def test_a_reply_without_a_message_is_a_clear_error_not_retried() -> None:
    calls: list[dict[str, Any]] = []

    def empty(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        calls.append(body)
        return 200, {"choices": []}

    with scripted_endpoint(empty) as url:
        client = ChatClient.for_endpoint(endpoint=url, model="m", max_retries=3)
        with pytest.raises(ChatEndpointError, match=r"200 without choices\[0\]\.message"):
            asyncio.run(client.complete(MESSAGES))
    assert len(calls) == 1


def test_ragas_judge_metrics_get_a_langchain_model_for_the_endpoint(
    flaky: tuple[str, dict[str, Any]],
) -> None:
    url, _ = flaky
    client = ChatClient.for_endpoint(endpoint=url, model="judge", api_key="sk-j")
    assert client.model is None  # nothing langchain until a metric asks
    build_scorer("faithfulness", context=ScorerContext(judge=client))
    model = _ragas_llm(ScorerContext(judge=client), "faithfulness").langchain_llm
    assert str(model.openai_api_base).rstrip("/") == url and model.model_name == "judge"
    assert client.langchain_model() is model


def test_a_client_needs_exactly_one_model() -> None:
    with pytest.raises(ValueError, match="langchain model or an OpenAI endpoint"):
        ChatClient(model_name="x")
