"""prompting: validators catch bad answers and re-ask; examples are chosen by similarity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from recipes import prompting
from recipes.errors import RecipeConfigError
from recipes.prompting import PromptingConfig, PromptProgram
from recipes.validators import LanguageValidator, detect_language

SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


def _rows(pairs: list[tuple[str, str]]) -> list[dict]:
    return [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in pairs
    ]


TRAIN = _rows(
    [
        ("How long do refunds take?", '{"answer": "Refunds take 5 days."}'),
        ("What is the capital of France?", '{"answer": "Paris"}'),
        ("Can I return shoes after 30 days?", '{"answer": "No, returns close after 30 days."}'),
    ]
)


class ScriptedChat(GenericFakeChatModel):
    """Replays scripted answers and records every prompt it was sent."""

    seen: list = []

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.seen.append(list(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def test_validator_failure_triggers_a_reask_that_fixes_the_answer(tmp_path: Path) -> None:
    # For each holdout row the recipe asks the plain prompt once, then the program.
    script = iter(
        [
            AIMessage(content="Paris, obviously."),  # baseline (plain prompt)
            AIMessage(content="The answer is Paris"),  # program, attempt 1: not JSON
            AIMessage(content='{"answer": "Paris"}'),  # program, re-ask: valid
        ]
    )
    model = ScriptedChat(messages=script)
    model.seen = []
    result = prompting.run(
        PromptingConfig(json_schema=SCHEMA, num_examples=2, max_reasks=2),
        train_rows=TRAIN,
        eval_rows=_rows([("What's the capital city of France?", '{"answer": "Paris"}')]),
        output_dir=tmp_path,
        chat_model=model,
    )
    m = result.metrics
    assert m["baseline_pass_rate"] == 0.0 and m["candidate_pass_rate"] == 1.0
    assert m["reask_recovered"] == 1 and m["candidate_mean_attempts"] == 2
    assert m["candidate_exact_match"] == 1.0 and m["baseline_exact_match"] == 0.0
    # the re-ask showed the model its answer and the validator's error
    reask = model.seen[2]
    assert reask[-2].content == "The answer is Paris"
    assert "not valid JSON" in reask[-1].content
    # the most similar example (capital of France) was chosen first, refunds not at all
    program_prompt = model.seen[1]
    assert program_prompt[1].content == "What is the capital of France?"
    assert "JSON Schema" in program_prompt[0].content
    saved = json.loads(result.artifact("prompt").read_text())
    assert saved["validators"][0]["type"] == "json_schema" and len(saved["examples"]) == 3


def test_reasks_are_bounded(tmp_path: Path) -> None:
    bad = [AIMessage(content="nope")] * 4
    program = PromptProgram(
        system_prompt="s",
        examples=[],
        num_examples=0,
        validators=PromptingConfig(regex=r"^\d+$").build_validators(),
        max_reasks=2,
    )
    outcome = program.answer("How many?", GenericFakeChatModel(messages=iter(bad)))
    assert not outcome.passed and len(outcome.attempts) == 3
    assert "regular expression" in outcome.errors[0]


def test_saved_program_reloads(tmp_path: Path) -> None:
    config = PromptingConfig(json_schema=SCHEMA, max_chars=200, language="en")
    program = PromptProgram(
        system_prompt="Be brief.",
        examples=[],
        num_examples=0,
        validators=config.build_validators(),
        max_reasks=1,
    )
    loaded = PromptProgram.load(program.save(tmp_path / "p.json"))
    assert loaded.to_dict() == program.to_dict()
    assert loaded.validators[0].check('{"answer": 1}') is not None


def test_language_check_is_simple_but_catches_the_wrong_language() -> None:
    assert detect_language("The refund is sent to you within five days of the return.") == "en"
    french = "Le remboursement est envoyé dans les cinq jours et vous recevrez un courriel."
    assert detect_language(french) == "fr"
    assert "French" in LanguageValidator("en").check(french)
    assert LanguageValidator("en").check("OK") is None  # too short to judge


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"json_schema": {"type": "nonsense"}}, "json_schema"),
        ({"regex": "(unclosed"}, "regex"),
        ({"language": "xx"}, "language"),
        ({"min_chars": 10, "max_chars": 5}, "min_chars"),
    ],
)
def test_bad_validator_settings_are_config_errors(overrides: dict, field: str) -> None:
    with pytest.raises(RecipeConfigError) as info:
        PromptingConfig.from_dict(overrides)
    assert info.value.field == field


def test_real_local_model_path(tiny_model: Path, tmp_path: Path) -> None:
    # A real transformers model behind the langchain wrapper: the tiny model answers noise,
    # the regex demands digits, so every answer fails and is re-asked max_reasks times.
    result = prompting.run(
        PromptingConfig(
            base_model=str(tiny_model),
            regex=r"^\d+$",
            max_reasks=1,
            max_new_tokens=8,
            num_examples=1,
        ),
        train_rows=TRAIN,
        eval_rows=TRAIN[:2],
        output_dir=tmp_path,
    )
    report = json.loads(result.artifact("eval_report").read_text())
    assert len(report) == 2 and all(len(r["attempts"]) == 2 for r in report)
    assert result.metrics["candidate_pass_rate"] == 0.0


def test_exact_match_is_the_evals_rule_ignoring_case_and_spacing() -> None:
    from evals.scorers.text import exact_match

    report = [
        {"question": "q1", "reference": "The  answer is Paris", "candidate": "the answer is paris"},
        {"question": "q2", "reference": "Paris.", "candidate": "Paris"},  # a period counts
        {"question": "q3", "reference": '{"a": 1}', "candidate": '{"a":1}'},  # text, not JSON
    ]
    assert prompting._exact_match_rate(report, "candidate") == pytest.approx(1 / 3)
    assert exact_match("Paris ", " Paris") and not exact_match("paris", "Paris")
