"""Each registered scorer on small inputs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from evals.dataset import Example, load_dataset, parse_example
from evals.errors import DatasetError, ScorerError
from evals.scorers import REGISTRY, Score, ScorerContext, build_scorer, parse_scorer_spec


def _score(spec: str, output: str, **example: object) -> Score:
    fields: dict[str, object] = {"id": "x", "input": "q"}
    fields.update(example)
    scorer = build_scorer(spec)
    return asyncio.run(scorer.score(Example.model_validate(fields), output))


def test_registry_names() -> None:
    assert {
        "exact_match",
        "json_valid",
        "json_schema",
        "regex",
        "length",
        "rouge_l",
        "bleu",
        "chrf",
        "string_similarity",
        "semantic_similarity",
        "context_precision",
        "context_recall",
        "faithfulness",
        "answer_correctness",
    } <= set(REGISTRY)


def test_spec_parsing() -> None:
    assert parse_scorer_spec("exact_match") == ("exact_match", {})
    assert parse_scorer_spec("length:max_words=5,min_words=1") == (
        "length",
        {"max_words": 5, "min_words": 1},
    )
    assert parse_scorer_spec('regex:{"pattern": "a{1,3}"}') == ("regex", {"pattern": "a{1,3}"})
    with pytest.raises(ScorerError, match="unknown scorer"):
        build_scorer("nope")
    with pytest.raises(ScorerError, match="key=value"):
        parse_scorer_spec("regex:oops")


def test_exact_match() -> None:
    assert _score("exact_match", " Paris\n", expected="Paris").value == 1.0
    assert _score("exact_match", "paris", expected="Paris").value == 0.0
    assert _score("exact_match:case_sensitive=false", "paris", expected="Paris").value == 1.0
    unscored = _score("exact_match", "Paris")
    assert unscored.value is None and "expected" in (unscored.reason or "")


def test_json_valid_and_schema() -> None:
    assert _score("json_valid", '{"a": 1}').value == 1.0
    assert _score("json_valid", "{'a': 1}").value == 0.0
    fenced = '```json\n{"a": 1}\n```'
    assert _score("json_valid", fenced).value == 0.0
    assert _score("json_valid:allow_fence=true", fenced).value == 1.0
    schema = {
        "type": "object",
        "required": ["answer"],
        "properties": {"answer": {"type": "string"}},
    }
    spec = "json_schema:" + json.dumps({"schema": schema})
    assert _score(spec, '{"answer": "yes"}').value == 1.0
    bad = _score(spec, '{"answer": 3}')
    assert bad.value == 0.0 and "schema violation" in (bad.reason or "")
    per_example = _score(
        "json_schema", "[1, 2]", metadata={"json_schema": {"type": "array", "maxItems": 1}}
    )
    assert per_example.value == 0.0
    with pytest.raises(ScorerError, match="invalid schema"):
        build_scorer('json_schema:{"schema": {"type": 12}}')


def test_regex_and_length() -> None:
    assert _score(r"regex:pattern=\d+", "order 66").value == 1.0
    assert _score(r'regex:{"pattern": "\\d+", "mode": "fullmatch"}', "order 66").value == 0.0
    assert _score("regex", "abc", metadata={"regex": "^a"}).value == 1.0
    with pytest.raises(ScorerError, match="invalid pattern"):
        build_scorer("regex:pattern=(")
    assert _score("length:max_words=3", "one two three").value == 1.0
    assert _score("length:max_words=3", "one two three four").value == 0.0
    assert _score("length:min_chars=5", "abc").value == 0.0
    assert _score("length", "abc", metadata={"length": {"max_chars": 2}}).value == 0.0


def test_reference_overlap_scorers_order_outputs_sensibly() -> None:
    ref = "The capital of France is Paris."
    for name in ("rouge_l", "bleu", "chrf", "string_similarity"):
        same = _score(name, ref, expected=ref).value
        close = _score(name, "Paris is the capital of France.", expected=ref).value
        far = _score(name, "Bananas are yellow fruit.", expected=ref).value
        assert same == pytest.approx(1.0), name
        assert same is not None and close is not None and far is not None
        assert same > close > far >= 0.0, (name, same, close, far)


def test_semantic_similarity_with_minilm() -> None:
    ref = "The capital of France is Paris."
    close = _score("semantic_similarity", "Paris is France's capital city.", expected=ref).value
    far = _score("semantic_similarity", "I like to play football.", expected=ref).value
    assert close is not None and far is not None
    assert 0.0 <= far < close <= 1.0
    assert close > 0.7


def test_context_precision_and_recall_without_an_llm() -> None:
    fields = {
        "context": ["Refunds are accepted within 30 days.", "Our office is in Berlin."],
        "reference_contexts": ["Refunds are accepted within 30 days."],
    }
    recall = _score("context_recall", "whatever", **fields).value
    assert recall == pytest.approx(1.0)
    precision = _score("context_precision", "whatever", **fields).value
    assert precision is not None and precision == pytest.approx(1.0, abs=1e-6)
    wrong_first = {
        "context": ["Our office is in Berlin.", "Refunds are accepted within 30 days."],
        "reference_contexts": fields["reference_contexts"],
    }
    lower = _score("context_precision", "whatever", **wrong_first).value
    assert lower is not None and lower < precision
    assert _score("context_recall", "x").value is None


def test_llm_scorers_need_a_judge() -> None:
    with pytest.raises(ScorerError, match="judge model"):
        build_scorer("faithfulness", context=ScorerContext())


def test_dataset_ids_and_errors(tmp_path: Path) -> None:
    a = parse_example({"input": "hello"})
    b = parse_example({"input": "hello", "expected": "hi"})
    c = parse_example({"input": [{"role": "user", "content": "hello"}]})
    assert a.id == b.id and len(a.id) == 16
    assert c.id != a.id
    assert parse_example({"id": 7, "input": "x"}).id == "7"
    path = tmp_path / "d.jsonl"
    path.write_text('{"input": "a"}\n\n{"input": "a"}\n')
    with pytest.raises(DatasetError, match="duplicate example id"):
        load_dataset(path)
    path.write_text('{"input": "a", "bogus": 1}\n')
    with pytest.raises(DatasetError, match=":1: invalid example"):
        load_dataset(path)
    path.write_text('{"input": "a"\n')
    with pytest.raises(DatasetError, match="not valid JSON"):
        load_dataset(path)


def test_ragas_faithfulness_through_a_langchain_judge() -> None:
    """The ragas LLM metric runs on any BaseChatModel; replies it cannot parse stay unscored."""
    from scripted_chat import ScriptedChat

    def supported(text: str) -> str:
        if "verdict" in text:  # ragas's NLI step
            return (
                '{"statements": [{"statement": "Paris is the capital.", "reason": "in the '
                'context", "verdict": 1}]}'
            )
        return '{"statements": ["Paris is the capital."]}'  # ragas's statement step

    example = Example(
        id="1", input="Capital of France?", context=["Paris is the capital of France."]
    )
    good = build_scorer("faithfulness", context=ScorerContext(judge=ScriptedChat(rule=supported)))
    assert asyncio.run(good.score(example, "Paris is the capital.")).value == 1.0

    confused = ScriptedChat(rule=lambda text: "no idea")
    bad = build_scorer("faithfulness", context=ScorerContext(judge=confused))
    verdict = asyncio.run(bad.score(example, "Paris is the capital."))
    assert verdict.value is None and "not usable" in (verdict.reason or "")
