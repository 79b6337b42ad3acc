"""How the signals word their evidence: fact lists, quotes and language names in sentences."""

from __future__ import annotations

from app.triage.text_facts import Facts

LANGUAGE_NAMES = {
    "en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "ru": "Russian", "ar": "Arabic", "el": "Greek",
    "cjk": "Chinese/Japanese/Korean",
}  # fmt: skip


def quote(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def show_facts(facts: list[str], limit: int = 3) -> str:
    shown = [f.split(":", 1)[1] if f.startswith(("month:", "day:")) else f for f in facts[:limit]]
    return ", ".join(f"'{quote(s, 24)}'" for s in shown)


def fact_kinds(facts: list[str], source: Facts) -> str:
    """'a number', 'a date and a name', ...: what kinds of fact ``facts`` are."""
    kinds: list[str] = []
    for fact in facts:
        if fact in source.numbers:
            kind = "a number"
        elif fact in source.dates:
            kind = "a date"
        elif fact in source.codes:
            kind = "an identifier"
        else:
            kind = "a name"
        if kind not in kinds:
            kinds.append(kind)
    if not kinds:
        return "facts"
    return " and ".join(kinds) if len(kinds) <= 2 else ", ".join(kinds[:-1]) + " and " + kinds[-1]


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)
