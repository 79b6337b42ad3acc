"""`rung serve-model`'s OpenAI-compatible API on a tiny Llama with two real LoRA adapters."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import torch
import typer
from langchain_openai import ChatOpenAI
from typer.testing import CliRunner

from app.serving.cli import parse_adapters, serve_model
from app.serving.engine import GenerationEngine, UnknownModelError
from app.serving.launch import ModelServerThread

MESSAGES = [{"role": "user", "content": "The capital of France is"}]


def _chat(server: ModelServerThread, **body: object) -> httpx.Response:
    payload = {"messages": MESSAGES, "max_tokens": 12, "temperature": 0, **body}
    return httpx.post(f"{server.base_url}/chat/completions", json=payload, timeout=60)


def test_models_lists_base_alias_and_adapters(server: ModelServerThread) -> None:
    data = httpx.get(f"{server.base_url}/models", timeout=10).json()
    assert data["object"] == "list"
    assert [m["id"] for m in data["data"]] == ["tiny-llama", "base", "alpha", "beta"]


def test_greedy_completion_with_usage(server: ModelServerThread, engine: GenerationEngine) -> None:
    first = _chat(server, model="tiny-llama")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["object"] == "chat.completion" and body["model"] == "tiny-llama"
    (choice,) = body["choices"]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] in {"stop", "length"}
    usage = body["usage"]
    assert usage["prompt_tokens"] == engine.encode(MESSAGES).shape[1]
    assert 0 < usage["completion_tokens"] <= 12
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    again = _chat(server, model="base").json()  # the alias is the same weights, greedy
    assert again["choices"][0]["message"]["content"] == choice["message"]["content"]


def test_adapter_chosen_per_request_changes_logits_and_outputs(
    server: ModelServerThread, engine: GenerationEngine
) -> None:
    base = engine.next_token_logits(model="base", messages=MESSAGES)
    alpha = engine.next_token_logits(model="alpha", messages=MESSAGES)
    beta = engine.next_token_logits(model="beta", messages=MESSAGES)
    assert not torch.allclose(base, alpha, atol=1e-3)
    assert not torch.allclose(alpha, beta, atol=1e-3)
    # switching back to the base really disables the adapters
    assert torch.allclose(engine.next_token_logits(model="tiny-llama", messages=MESSAGES), base)

    texts = {
        name: _chat(server, model=name, max_tokens=16).json()["choices"][0]["message"]["content"]
        for name in ("base", "alpha", "beta")
    }
    assert len(set(texts.values())) == 3, texts
    # interleaved requests keep returning each adapter's own answer
    assert (
        _chat(server, model="alpha", max_tokens=16).json()["choices"][0]["message"]["content"]
        == texts["alpha"]
    )


def test_sampling_n_seed_and_stop(server: ModelServerThread) -> None:
    sampled = _chat(server, model="alpha", temperature=1.0, top_p=0.9, n=3, seed=123).json()
    assert len(sampled["choices"]) == 3
    again = _chat(server, model="alpha", temperature=1.0, top_p=0.9, n=3, seed=123).json()
    assert [c["message"]["content"] for c in sampled["choices"]] == [
        c["message"]["content"] for c in again["choices"]
    ]
    greedy = _chat(server, model="beta", n=2).json()
    assert len(greedy["choices"]) == 2
    full = greedy["choices"][0]["message"]["content"]
    if len(full) > 2:
        marker = full[1:3]
        cut = _chat(server, model="beta", stop=[marker]).json()["choices"][0]
        assert cut["message"]["content"] == full[: full.find(marker)]
        assert cut["finish_reason"] == "stop"


def test_errors(server: ModelServerThread) -> None:
    missing = _chat(server, model="gamma")
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["code"] == "model_not_found"
    assert "alpha" in error["message"] and "tiny-llama" in error["message"]

    for body, field in (
        ({"model": "base", "temperature": 5}, "temperature"),
        ({"model": "base", "messages": []}, "messages"),
        ({"model": "base", "stream": "yes please"}, "stream"),
        ({"model": "base", "n": 100}, "n"),
    ):
        response = _chat(server, **body)
        assert response.status_code == 400, (body, response.text)
        assert field in response.json()["error"]["message"]

    too_long = _chat(server, model="base", max_tokens=100_000)
    assert too_long.status_code == 400
    assert "context" in too_long.json()["error"]["message"]


def test_langchain_chat_openai_client(server: ModelServerThread) -> None:
    raw = _chat(server, model="alpha").json()["choices"][0]["message"]["content"]
    client = ChatOpenAI(
        base_url=server.base_url, api_key="unused", model="alpha", temperature=0, max_tokens=12
    )
    reply = asyncio.run(client.ainvoke(MESSAGES[0]["content"]))
    assert reply.text == raw
    assert reply.usage_metadata is not None and reply.usage_metadata["output_tokens"] > 0


def test_unknown_model_in_process(engine: GenerationEngine) -> None:
    with pytest.raises(UnknownModelError, match="available"):
        engine.generate(model="nope", messages=MESSAGES)


def test_cli_adapter_specs_and_bad_adapter_exit_2(tiny_model: dict[str, Path]) -> None:
    assert parse_adapters(["a=/x", "b=/y"]) == {"a": Path("/x"), "b": Path("/y")}
    with pytest.raises(typer.BadParameter):
        parse_adapters(["no-equals"])
    cli = typer.Typer()
    cli.command()(serve_model)
    result = CliRunner().invoke(
        cli, [str(tiny_model["base"]), "--adapter", f"x={tiny_model['base']}"]
    )
    assert result.exit_code == 2
    assert "not a peft adapter folder" in result.output
