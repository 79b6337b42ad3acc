"""Batching, streaming and the official `openai` client against `rung serve-model`'s server."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from app.serving.engine import BatchingEngine, GenerationEngine
from app.serving.launch import ModelServerThread

PROMPTS = [f"Tell me about topic number {i}" for i in range(6)]


def _messages(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_batched_greedy_equals_one_at_a_time(engine: GenerationEngine) -> None:
    alone = [
        engine.generate(model="alpha", messages=_messages(p), max_tokens=10, temperature=0)
        for p in PROMPTS
    ]
    batching = BatchingEngine(engine, max_wait_s=0.5, gather_s=0.2)
    try:
        with ThreadPoolExecutor(len(PROMPTS)) as pool:
            together = list(
                pool.map(
                    lambda p: batching.generate(
                        model="alpha", messages=_messages(p), max_tokens=10, temperature=0
                    ),
                    PROMPTS,
                )
            )
        # requests sent together were generated in fewer generate calls than requests
        assert batching.batched_requests == len(PROMPTS)
        assert batching.batches < len(PROMPTS)
    finally:
        batching.close()
    assert [o.choices[0].text for o in together] == [o.choices[0].text for o in alone]
    assert [o.completion_tokens for o in together] == [o.completion_tokens for o in alone]


def test_mixed_adapters_and_limits_in_flight(engine: GenerationEngine) -> None:
    """Requests for different adapters and token limits sent at once each get their own answer."""
    expected = {
        (name, limit): engine.generate(
            model=name, messages=_messages("hello"), max_tokens=limit, temperature=0
        )
        for name in ("base", "alpha", "beta")
        for limit in (3, 9)
    }
    batching = BatchingEngine(engine, max_wait_s=0.3, gather_s=0.1)
    try:
        with ThreadPoolExecutor(6) as pool:
            futures = {
                key: pool.submit(
                    batching.generate,
                    model=key[0],
                    messages=_messages("hello"),
                    max_tokens=key[1],
                    temperature=0,
                )
                for key in expected
            }
            got = {key: future.result() for key, future in futures.items()}
    finally:
        batching.close()
    for key, output in got.items():
        assert output.choices[0].text == expected[key].choices[0].text, key
        assert output.completion_tokens <= key[1]


def test_stream_sse_chunks_match_the_plain_answer(server: ModelServerThread) -> None:
    body = {"model": "beta", "messages": _messages("hi"), "max_tokens": 12, "temperature": 0}
    plain = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=60).json()
    text = plain["choices"][0]["message"]["content"]
    chunks = []
    with httpx.stream(
        "POST",
        f"{server.base_url}/chat/completions",
        json={**body, "stream": True, "stream_options": {"include_usage": True}},
        timeout=60,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    for line in lines[:-1]:
        assert line.startswith("data: ")
        chunks.append(json.loads(line.removeprefix("data: ")))
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content = [c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]]
    assert sum(1 for piece in content if piece) >= 2  # really incremental
    assert "".join(content) == text
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == plain["choices"][0]["finish_reason"]
    assert chunks[-1]["usage"] == plain["usage"]


def test_official_openai_client(server: ModelServerThread) -> None:
    client = OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["tiny-llama", "base", "alpha", "beta"]
    reply = client.chat.completions.create(
        model="alpha", messages=_messages("hi"), max_tokens=10, temperature=0
    )
    text = reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    stream = client.chat.completions.create(
        model="alpha",
        messages=_messages("hi"),
        max_tokens=10,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage = [], None
    for chunk in stream:
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
        if chunk.usage is not None:
            usage = chunk.usage
    assert "".join(pieces) == text
    assert usage is not None and usage.completion_tokens == reply.usage.completion_tokens
    import openai

    with pytest.raises(openai.NotFoundError, match="available"):
        client.chat.completions.create(model="gamma", messages=_messages("hi"), stream=True)


def test_vllm_engine_without_vllm_says_how_to_install(tiny_model: dict[str, Path]) -> None:
    import typer
    from typer.testing import CliRunner

    from app.serving import vllm
    from app.serving.cli import serve_model

    cli = typer.Typer()
    cli.command()(serve_model)
    args = [str(tiny_model["base"]), "--engine", "vllm", "--adapter", f"a={tiny_model['alpha']}"]
    if vllm.vllm_available():  # GPU machines: check the command instead
        command = vllm.vllm_command(
            base=tiny_model["base"],
            served_name="tiny",
            adapters={"a": tiny_model["alpha"]},
            host="127.0.0.1",
            port=1,
        )
        assert "--enable-lora" in command and f"a={tiny_model['alpha']}" in command
        return
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "vLLM is not installed" in result.output and "pip install" in result.output
    bad = CliRunner().invoke(cli, [str(tiny_model["base"]), "--engine", "tgi"])
    assert bad.exit_code == 2 and "unknown engine" in bad.output


def test_seeded_sampling_reproduces_even_when_sent_together(engine: GenerationEngine) -> None:
    kwargs = {"model": "beta", "max_tokens": 8, "temperature": 1.0, "seed": 7, "n": 2}
    alone = engine.generate(messages=_messages("seeded"), **kwargs)
    batching = BatchingEngine(engine, max_wait_s=0.3, gather_s=0.1)
    try:
        with ThreadPoolExecutor(3) as pool:
            outputs = list(
                pool.map(
                    lambda _: batching.generate(messages=_messages("seeded"), **kwargs), [0, 1, 2]
                )
            )
    finally:
        batching.close()
    expected = [c.text for c in alone.choices]
    assert all([c.text for c in o.choices] == expected for o in outputs)
