"""Output validators for the prompting recipe, and the instructions that go with them.

Each validator's ``check(text)`` returns None when the answer passes, else an error message
written for the model (it is sent back in the re-ask). Validators:

* `JsonSchemaValidator` - the answer (optionally inside a ```json fence) parses as JSON and
  satisfies the JSON Schema (``jsonschema``, draft chosen from the schema's ``$schema``).
* `RegexValidator` - ``re.search(pattern, answer)`` finds a match: anchor with ``^...$`` to
  require the whole answer to match.
* `LengthValidator` - the stripped answer has between ``min_chars`` and ``max_chars`` characters.
* `LanguageValidator` - a deliberately simple language check: the answer's words are compared
  with short stop-word lists of English, French, German, Spanish, Italian, Portuguese and Dutch;
  the language with most hits wins. Answers with fewer than 3 stop words are not judged (pass),
  and JSON answers are judged on their string values. Good enough to catch "answered in the
  wrong language"; not a language identifier for short or mixed texts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

from recipes.errors import RecipeConfigError


class Validator(Protocol):
    name: str

    def check(self, text: str) -> str | None: ...

    def instruction(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def extract_json(text: str) -> Any:
    """Parse ``text`` as JSON, accepting a surrounding ```json fence; ValueError otherwise."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1)
    return json.loads(stripped)


@dataclass
class JsonSchemaValidator:
    schema: dict[str, Any]
    name: str = "json_schema"

    def __post_init__(self) -> None:
        import jsonschema

        try:
            jsonschema.validators.validator_for(self.schema).check_schema(self.schema)
        except jsonschema.SchemaError as exc:
            raise RecipeConfigError(
                f"json_schema is not a valid JSON Schema: {exc.message}", field="json_schema"
            ) from exc

    def check(self, text: str) -> str | None:
        import jsonschema

        try:
            value = extract_json(text)
        except ValueError as exc:
            return f"the answer is not valid JSON ({exc}); reply with JSON only"
        validator_cls = jsonschema.validators.validator_for(self.schema)
        errors = sorted(validator_cls(self.schema).iter_errors(value), key=lambda e: e.path)
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path) or "the top level"
            return f"the JSON does not match the schema at {where}: {first.message}"
        return None

    def instruction(self) -> str:
        return "Reply with JSON only, matching this JSON Schema: " + json.dumps(
            self.schema, separators=(",", ":")
        )

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name, "schema": self.schema}


@dataclass
class RegexValidator:
    pattern: str
    name: str = "regex"

    def __post_init__(self) -> None:
        try:
            self._compiled = re.compile(self.pattern, re.DOTALL)
        except re.error as exc:
            raise RecipeConfigError(
                f"regex {self.pattern!r} does not compile: {exc}", field="regex"
            ) from exc

    def check(self, text: str) -> str | None:
        if self._compiled.search(text.strip()):
            return None
        return f"the answer must match the regular expression {self.pattern!r}"

    def instruction(self) -> str:
        return f"The answer must match the regular expression {self.pattern!r}."

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name, "pattern": self.pattern}


@dataclass
class LengthValidator:
    min_chars: int | None = None
    max_chars: int | None = None
    name: str = "length"

    def check(self, text: str) -> str | None:
        n = len(text.strip())
        if self.min_chars is not None and n < self.min_chars:
            return f"the answer has {n} characters; it needs at least {self.min_chars}"
        if self.max_chars is not None and n > self.max_chars:
            return f"the answer has {n} characters; it must have at most {self.max_chars}"
        return None

    def instruction(self) -> str:
        parts = []
        if self.min_chars is not None:
            parts.append(f"at least {self.min_chars}")
        if self.max_chars is not None:
            parts.append(f"at most {self.max_chars}")
        return f"Keep the answer to {' and '.join(parts)} characters."

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name, "min_chars": self.min_chars, "max_chars": self.max_chars}


_STOPWORD_TEXT = {
    "en": "the and is are of to in that it for with you this be on not have was",
    "fr": "le la les et est sont de des du un une que pour dans pas vous avec ce",
    "de": "der die das und ist sind ein eine nicht zu mit von sie ich für auf den",
    "es": "el la los las y es son de del un una que para en no con por usted",
    "it": "il lo la gli le e è sono di del un una che per non con da questo",
    "pt": "o a os as e é são de do da um uma que para em não com por você",
    "nl": "de het een en is zijn van dat niet te met voor op je ik",
}
STOPWORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split(" ")) for lang, words in _STOPWORD_TEXT.items()
}
LANGUAGE_NAMES = {
    "en": "English",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def detect_language(text: str, *, min_hits: int = 3) -> str | None:
    """The language code whose stop words occur most in ``text``; None when too few to tell."""
    try:
        value = extract_json(text)
        text = " ".join(_strings(value)) if not isinstance(value, int | float) else text
    except ValueError:
        pass
    words = [w.lower() for w in _WORD.findall(text)]
    scores = {lang: sum(w in stop for w in words) for lang, stop in STOPWORDS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] >= min_hits else None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@dataclass
class LanguageValidator:
    language: str
    name: str = "language"

    def __post_init__(self) -> None:
        if self.language not in STOPWORDS:
            raise RecipeConfigError(
                f"language {self.language!r} is not supported; use one of "
                f"{', '.join(sorted(STOPWORDS))}",
                field="language",
            )

    def check(self, text: str) -> str | None:
        found = detect_language(text)
        if found is None or found == self.language:
            return None
        return (
            f"the answer is in {LANGUAGE_NAMES[found]}; answer in {LANGUAGE_NAMES[self.language]}"
        )

    def instruction(self) -> str:
        return f"Answer in {LANGUAGE_NAMES[self.language]}."

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name, "language": self.language}


def validators_from_dicts(items: list[dict[str, Any]]) -> list[Validator]:
    """Rebuild validators from their ``to_dict`` form (the prompt artefact)."""
    out: list[Validator] = []
    for item in items:
        kind = item.get("type")
        if kind == "json_schema":
            out.append(JsonSchemaValidator(schema=item["schema"]))
        elif kind == "regex":
            out.append(RegexValidator(pattern=item["pattern"]))
        elif kind == "length":
            out.append(
                LengthValidator(min_chars=item.get("min_chars"), max_chars=item.get("max_chars"))
            )
        elif kind == "language":
            out.append(LanguageValidator(language=item["language"]))
        else:
            raise RecipeConfigError(f"unknown validator type {kind!r}", field="validators")
    return out


def failures(text: str, validators: list[Validator]) -> list[str]:
    """Error messages of every validator ``text`` fails (empty: it passes all)."""
    return [error for v in validators if (error := v.check(text)) is not None]
