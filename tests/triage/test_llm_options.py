"""Second opinion and knowledge probe logic, with scripted langchain chat models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage

from app.cases.schemas import SUBCATEGORIES, FailureCase
from app.triage import knowledge_probe, second_opinion
from app.triage.engine import TriageEngine
from tests.triage.test_signals import CASES


def _answer(subcategory: str, confidence: float) -> str:
    return json.dumps({"subcategory": subcategory, "confidence": confidence})


@pytest.mark.parametrize(
    "text",
    [
        "I think it's style",
        '{"subcategory": "vibes", "confidence": 0.9}',
        '{"subcategory": "style"}',
        '{"subcategory": "style", "confidence": 1.7}',
        '{"subcategory": "style", "confidence": true}',
        "{not json}",
    ],
)
def test_unusable_answers_are_rejected_not_defaulted(text: str) -> None:
    with pytest.raises(second_opinion.UnparseableOpinionError):
        second_opinion.parse_opinion(text)


def test_parse_finds_json_inside_prose() -> None:
    opinion = second_opinion.parse_opinion('Sure.\n{"subcategory": "Format", "confidence": 0.7}')
    assert opinion == second_opinion.Opinion("format", 0.7)


def test_combine_weighs_the_llm_by_its_confidence() -> None:
    probs = np.full(8, 1 / 8)
    mixed = second_opinion.combine(probs, second_opinion.Opinion("style", 1.0))
    style = SUBCATEGORIES.index("style")
    assert mixed[style] == pytest.approx(0.5 / 8 + 0.5)  # as sure as can be: half and half
    assert mixed.sum() == pytest.approx(1.0)
    sure = np.full(8, 0.1 / 7)
    sure[0] = 0.9
    assert second_opinion.weight_for(sure, second_opinion.Opinion("style", 0.45)) == (
        pytest.approx(0.25)  # half as sure as the offline model: half the weight
    )


class RecordingChatModel(FakeListChatModel):
    """A scripted chat model that keeps the prompts it was sent."""

    prompts: list[str] = []

    def _call(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
        self.prompts.append("\n".join(str(m.content) for m in messages))
        return super()._call(messages, stop=stop, run_manager=run_manager, **kwargs)


def test_the_llm_reads_the_label_guide_and_labelled_neighbours(engine: TriageEngine) -> None:
    assert engine.classifier.neighbours is not None, "the shipped artefact keeps its examples"
    model = RecordingChatModel(responses=[_answer("grounding", 0.8)], prompts=[])
    result = engine.triage([CASES["grounding"]], second_opinion=model)[0]
    (prompt,) = model.prompts
    assert "grounding: the supplied context held the answer" in prompt  # the label guide
    assert prompt.count("\n=> ") == 4  # four labelled examples
    examples = [line for line in prompt.splitlines() if line.startswith("=> ")]
    assert max(examples.count(e) for e in examples) <= 2  # at most two of one label
    assert prompt.rstrip().endswith(CASES["grounding"].source or "") or "Model output" in prompt
    assert any("the LLM reads this as grounding" in e for e in result.evidence)


def test_an_unsure_llm_moves_but_does_not_overrule_a_clear_case(engine: TriageEngine) -> None:
    clear = CASES["format"]
    offline = engine.triage([clear])[0]
    model = FakeListChatModel(responses=[_answer("style", 0.4)])
    with_llm = engine.triage([clear], second_opinion=model)[0]
    assert with_llm.subcategory == offline.subcategory == "format"
    assert with_llm.probabilities["style"] > offline.probabilities["style"]
    assert any("the LLM reads this as style" in e for e in with_llm.evidence)

    vague = FailureCase(
        input="can you help with my order", output="Sure, what is the order number?"
    )
    base = engine.triage([vague])[0]
    target = next(s for s in SUBCATEGORIES if s != base.subcategory and s in {"procedure", "style"})
    tipped = engine.triage(
        [vague], second_opinion=FakeListChatModel(responses=[_answer(target, 1.0)])
    )[0]
    assert tipped.probabilities[target] > base.probabilities[target]


def test_unparseable_second_opinion_is_ignored_and_counted(engine: TriageEngine) -> None:
    case = CASES["grounding"]
    before = engine.stats.second_opinion_unparseable
    offline = engine.triage([case])[0]
    model = GenericFakeChatModel(messages=iter([AIMessage("grounding, probably")]))
    result = engine.triage([case], second_opinion=model)[0]
    assert engine.stats.second_opinion_unparseable == before + 1
    assert result.probabilities == offline.probabilities
    assert not any("the LLM reads" in e for e in result.evidence)


def test_probe_targets_skip_facts_given_in_the_input() -> None:
    case = FailureCase(
        input="What is the reorder point for part KX-220?",
        output="Around 100 units.",
        expected="KX-220 reorders at 340 units.",
    )
    assert knowledge_probe.probe_targets(case) == ("340",)
    assert knowledge_probe.probe_targets(case.model_copy(update={"expected": None})) == ()


def test_probe_levels_follow_slick() -> None:
    case = FailureCase(
        input="What is the reorder point for part KX-220?", output="100", expected="340 units"
    )
    never = FakeListChatModel(responses=["About 100 units.", "I am not sure.", "Maybe 120."])
    outcome = knowledge_probe.probe_case(never, case, samples=3)
    assert outcome is not None and outcome.level == "unknown"
    always = FakeListChatModel(responses=["It's 340 units."])
    known = knowledge_probe.probe_case(always, case, samples=3)
    assert known is not None and known.level == "known" and known.hits == 3
    once = FakeListChatModel(responses=["340 units", "100", "120", "90"])
    weak = knowledge_probe.probe_case(once, case, samples=4)
    assert weak is not None and weak.level == "weakly_known" and weak.hits == 1

    probs = np.full(8, 1 / 8)
    boosted = knowledge_probe.apply_probe(probs, outcome)
    damped = knowledge_probe.apply_probe(probs, known)
    knowledge = [
        SUBCATEGORIES.index(s) for s in ("missing_knowledge", "stale_knowledge", "retrieval_gap")
    ]
    assert boosted[knowledge].sum() > 3 / 8 > damped[knowledge].sum()
    assert np.allclose(knowledge_probe.apply_probe(probs, weak), probs)


def test_probe_pushes_an_unknown_fact_toward_knowledge(engine: TriageEngine) -> None:
    case = FailureCase(
        input="How many loading bays does the Fenwick depot have?",
        output="The Fenwick depot has 12 loading bays.",
        expected="Fenwick has 18 loading bays.",
    )
    base = engine.triage([case])[0]
    never = FakeListChatModel(responses=["It has 12 bays.", "Probably 10.", "Around 14 bays."])
    probed = engine.triage([case], probe=never)[0]
    knowledge = ("missing_knowledge", "stale_knowledge", "retrieval_gap")
    assert sum(probed.probabilities[s] for s in knowledge) > sum(
        base.probabilities[s] for s in knowledge
    )
    assert any("never produced '18'" in e for e in probed.evidence)
    assert probed.category == "knowledge"


def test_chat_model_factory_takes_parameters() -> None:
    model = second_opinion.chat_model(base_url="http://127.0.0.1:9/v1", api_key="k", model="m")
    assert model.model_name == "m"
