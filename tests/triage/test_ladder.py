"""The escalation ladder, with and without remedies already attempted."""

from __future__ import annotations

import pytest

from app.triage.ladder import UnknownSubcategoryError, category_of, fix_for


@pytest.mark.parametrize("subcategory", ["missing_knowledge", "stale_knowledge", "retrieval_gap"])
@pytest.mark.parametrize("attempted", [[], ["prompting"], ["rag"], ["prompting", "rag", "lora"]])
def test_knowledge_is_always_rag(subcategory: str, attempted: list[str]) -> None:
    assert fix_for(subcategory=subcategory, attempted=attempted) == "rag"
    assert category_of(subcategory) == "knowledge"


@pytest.mark.parametrize("subcategory", ["format", "style", "procedure", "grounding"])
def test_behaviour_prompting_then_lora(subcategory: str) -> None:
    assert fix_for(subcategory=subcategory) == "prompting"
    assert fix_for(subcategory=subcategory, attempted=["rag"]) == "prompting"
    assert fix_for(subcategory=subcategory, attempted=["prompting"]) == "lora"
    assert fix_for(subcategory=subcategory, attempted=("rag", "prompting")) == "lora"
    assert category_of(subcategory) == "behavior"


@pytest.mark.parametrize("attempted", [[], ["prompting"], ["dpo"]])
def test_preference_is_dpo(attempted: list[str]) -> None:
    assert fix_for(subcategory="preference", attempted=attempted) == "dpo"
    assert category_of("preference") == "behavior"


def test_unknown_subcategory_is_a_typed_error() -> None:
    with pytest.raises(UnknownSubcategoryError, match="use one of"):
        fix_for(subcategory="vibes")
