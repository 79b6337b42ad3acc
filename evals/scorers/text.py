"""Deterministic pass/fail scorers on the output text: 1.0 pass, 0.0 fail.

Format scorers take their settings as parameters or, per example, from ``example.metadata``
(``json_schema``, ``regex``, ``length``), so one holdout can mix formats.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jsonschema import SchemaError
from jsonschema.validators import validator_for

from evals.dataset import Example
from evals.errors import ScorerError
from evals.scorers.base import Score, ScorerContext, register

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n?\s*```\s*$", re.DOTALL)


def _normalize(text: str, *, strip: bool, case_sensitive: bool, collapse_spaces: bool) -> str:
    if strip:
        text = text.strip()
    if collapse_spaces:
        text = " ".join(text.split())
    if not case_sensitive:
        text = text.casefold()
    return text


def exact_match(
    output: str,
    expected: str,
    *,
    strip: bool = True,
    case_sensitive: bool = True,
    collapse_spaces: bool = False,
) -> bool:
    """The one exact-match rule: equal after the optional normalisation (the `exact_match`
    scorer, and recipes that report an exact-match rate, use this)."""
    opts = {"strip": strip, "case_sensitive": case_sensitive, "collapse_spaces": collapse_spaces}
    return _normalize(output, **opts) == _normalize(expected, **opts)


@register("exact_match")
class ExactMatch:
    """1 when the output equals ``expected`` (after optional normalisation)."""

    def __init__(
        self,
        *,
        context: ScorerContext,
        metric: str = "exact_match",
        strip: bool = True,
        case_sensitive: bool = True,
        collapse_spaces: bool = False,
    ) -> None:
        self.metric = metric
        self._opts = {
            "strip": strip,
            "case_sensitive": case_sensitive,
            "collapse_spaces": collapse_spaces,
        }

    async def score(self, example: Example, output: str) -> Score:
        if example.expected is None:
            return Score.unscored("example has no expected answer")
        return Score(1.0 if exact_match(output, example.expected, **self._opts) else 0.0)


def _load_json(output: str, *, allow_fence: bool) -> tuple[Any, str | None]:
    text = output.strip()
    if allow_fence:
        match = _FENCE.match(text)
        if match:
            text = match.group(1)
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"not JSON: {exc.msg} at char {exc.pos}"


@register("json_valid")
class JsonValid:
    """1 when the whole output parses as JSON (a ```json fence is allowed with allow_fence)."""

    def __init__(
        self, *, context: ScorerContext, metric: str = "json_valid", allow_fence: bool = False
    ) -> None:
        self.metric = metric
        self.allow_fence = allow_fence

    async def score(self, example: Example, output: str) -> Score:
        _, problem = _load_json(output, allow_fence=self.allow_fence)
        return Score(0.0, problem) if problem else Score(1.0)


@register("json_schema")
class JsonSchema:
    """1 when the output is JSON that validates against a JSON Schema.

    The schema comes from ``schema`` (a dict), ``schema_file`` (a path), or the example's
    ``metadata["json_schema"]``, which wins when present.
    """

    def __init__(
        self,
        *,
        context: ScorerContext,
        metric: str = "json_schema",
        schema: dict[str, Any] | None = None,
        schema_file: str | None = None,
        allow_fence: bool = False,
    ) -> None:
        self.metric = metric
        self.allow_fence = allow_fence
        if schema is None and schema_file is not None:
            path = Path(schema_file)
            if not path.is_file():
                raise ScorerError(f"json_schema: schema_file not found: {path}")
            try:
                schema = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise ScorerError(f"json_schema: {path} is not valid JSON ({exc.msg})") from exc
        self.schema = schema
        if schema is not None:
            self._check(schema)

    @staticmethod
    def _check(schema: dict[str, Any]) -> None:
        try:
            validator_for(schema).check_schema(schema)
        except SchemaError as exc:
            raise ScorerError(f"json_schema: invalid schema: {exc.message}") from exc

    async def score(self, example: Example, output: str) -> Score:
        schema = example.metadata.get("json_schema", self.schema)
        if schema is None:
            return Score.unscored("no schema (pass schema= or set metadata.json_schema)")
        value, problem = _load_json(output, allow_fence=self.allow_fence)
        if problem:
            return Score(0.0, problem)
        validator = validator_for(schema)(schema)
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
        if errors:
            return Score(0.0, f"schema violation: {errors[0].message}")
        return Score(1.0)


@register("regex")
class Regex:
    """1 when the output matches ``pattern`` (search by default; ``mode=fullmatch`` for all of it).

    ``metadata["regex"]`` on an example overrides the pattern for that example.
    """

    def __init__(
        self,
        *,
        context: ScorerContext,
        metric: str = "regex",
        pattern: str | None = None,
        mode: str = "search",
        ignore_case: bool = False,
        multiline: bool = False,
    ) -> None:
        if mode not in {"search", "fullmatch", "match"}:
            raise ScorerError(f"regex: mode must be search, match or fullmatch, not {mode!r}")
        self.metric = metric
        self.mode = mode
        self.flags = (re.IGNORECASE if ignore_case else 0) | (re.MULTILINE if multiline else 0)
        self.pattern = self._compile(pattern) if pattern is not None else None

    def _compile(self, pattern: str) -> re.Pattern[str]:
        try:
            return re.compile(pattern, self.flags)
        except re.error as exc:
            raise ScorerError(f"regex: invalid pattern {pattern!r}: {exc}") from exc

    async def score(self, example: Example, output: str) -> Score:
        own = example.metadata.get("regex")
        pattern = self._compile(own) if isinstance(own, str) else self.pattern
        if pattern is None:
            return Score.unscored("no pattern (pass pattern= or set metadata.regex)")
        matched = getattr(pattern, self.mode)(output) is not None
        return Score(1.0 if matched else 0.0)


@register("length")
class Length:
    """1 when the output's length lies within bounds (chars and/or words, inclusive).

    ``metadata["length"]`` (a dict of the same keys) overrides the bounds per example.
    """

    _KEYS = ("min_chars", "max_chars", "min_words", "max_words")

    def __init__(
        self,
        *,
        context: ScorerContext,
        metric: str = "length",
        min_chars: int | None = None,
        max_chars: int | None = None,
        min_words: int | None = None,
        max_words: int | None = None,
    ) -> None:
        self.metric = metric
        self.bounds = {
            "min_chars": min_chars,
            "max_chars": max_chars,
            "min_words": min_words,
            "max_words": max_words,
        }

    async def score(self, example: Example, output: str) -> Score:
        bounds = dict(self.bounds)
        own = example.metadata.get("length")
        if isinstance(own, dict):
            bounds.update({k: v for k, v in own.items() if k in self._KEYS})
        if all(v is None for v in bounds.values()):
            return Score.unscored("no bounds (pass min_/max_chars or min_/max_words)")
        chars, words = len(output.strip()), len(output.split())
        checks = [
            bounds["min_chars"] is None or chars >= bounds["min_chars"],
            bounds["max_chars"] is None or chars <= bounds["max_chars"],
            bounds["min_words"] is None or words >= bounds["min_words"],
            bounds["max_words"] is None or words <= bounds["max_words"],
        ]
        if all(checks):
            return Score(1.0)
        return Score(0.0, f"{chars} chars, {words} words outside {bounds}")
