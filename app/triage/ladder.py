"""The escalation ladder: which fix a subcategory gets, given what was already attempted.

Knowledge problems (missing, stale, not retrieved) are fixed by retrieval, never by tuning.
What people prefer among acceptable answers is fixed by DPO. Every other behaviour problem is
fixed first by prompting with validators, then by LoRA supervised tuning once prompting has
been tried.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.cases.schemas import KNOWLEDGE_SUBCATEGORIES, SUBCATEGORIES, Category, Fix


class UnknownSubcategoryError(ValueError):
    """A subcategory outside LABELS.md was given."""


def _check(subcategory: str) -> None:
    if subcategory not in SUBCATEGORIES:
        raise UnknownSubcategoryError(
            f"unknown subcategory {subcategory!r}; use one of {', '.join(SUBCATEGORIES)}"
        )


def category_of(subcategory: str) -> Category:
    """'knowledge' for missing/stale/retrieval-gap, 'behavior' for the rest."""
    _check(subcategory)
    return "knowledge" if subcategory in KNOWLEDGE_SUBCATEGORIES else "behavior"


def fix_for(*, subcategory: str, attempted: Iterable[str] = ()) -> Fix:
    """The cheapest rung that fits `subcategory`, given the remedies in `attempted`."""
    _check(subcategory)
    if subcategory in KNOWLEDGE_SUBCATEGORIES:
        return "rag"
    if subcategory == "preference":
        return "dpo"
    return "lora" if "prompting" in set(attempted) else "prompting"
