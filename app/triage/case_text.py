"""A case as one marked, budgeted text: how the LLM reader sees labelled example cases.

One case becomes one sequence such as

    [feedback] old price [input] price of the day pass? [output] The day pass is 7 euros.
    [expected] Since March the day pass costs 9 euros. [context] ... [attempted] prompting
    [source] thumbs_down [meta] app=metro-bot; date=2025-03-02

so a reader sees every field and can compare them; an absent field is marked `-`. Each field is
cut to a word budget (a long context must not crowd out the output or the expected answer).
"""

from __future__ import annotations

import json
from typing import Any

from app.cases.schemas import FailureCase

# Word budgets per field, in reading order. The output and expected answer are compared most
# often, so they get the most room; metadata keys carry cues (`style_guide`, `validator`,
# `*_updated`) but rarely need their long values.
FIELD_WORDS: tuple[tuple[str, int], ...] = (
    ("feedback", 40),
    ("input", 48),
    ("output", 72),
    ("expected", 64),
    ("context", 72),
    ("attempted", 6),
    ("source", 4),
    ("meta", 28),
)

_META_VALUE_CHARS = 60


def _cut(text: str, words: int) -> str:
    parts = text.split()
    if len(parts) <= words:
        return " ".join(parts)
    return " ".join(parts[:words]) + " …"


def _meta_text(metadata: dict[str, Any]) -> str:
    items = []
    for key, value in metadata.items():
        if key in {"url", "id"}:  # provenance, not content
            continue
        rendered = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        items.append(f"{key}={str(rendered)[:_META_VALUE_CHARS]}")
    return "; ".join(items)


def case_text(case: FailureCase) -> str:
    """The marked, budgeted text of `case` that the reader classifies."""
    values = {
        "feedback": case.feedback or "",
        "input": case.input,
        "output": case.output,
        "expected": case.expected or "",
        "context": " | ".join(case.context or []),
        "attempted": " ".join(case.attempted),
        "source": case.source or "",
        "meta": _meta_text(case.metadata),
    }
    pieces = []
    for name, budget in FIELD_WORDS:
        value = values[name].strip()
        pieces.append(f"[{name}] {_cut(value, budget) if value else '-'}")
    return " ".join(pieces)
