"""Validate a batch of failure cases as a whole: every bad item is named, nothing half-stored."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from app.cases.schemas import CaseLabel, FailureCase, LabelledCase
from app.core.errors import InvalidInputError, PayloadTooLargeError

ParsedCase = tuple[FailureCase, CaseLabel | None]


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(item)"


def parse_item(item: Any) -> ParsedCase:
    """A bare case, or a labelled `{"case": ..., "label": ...}` line."""
    if isinstance(item, dict) and "case" in item:
        labelled = LabelledCase.model_validate(item)
        return labelled.case, labelled.label
    return FailureCase.model_validate(item), None


def parse_batch(
    items: Any,
    *,
    max_items: int,
    first_index: int = 0,
    outcome: str = "nothing in this batch was stored",
) -> list[ParsedCase]:
    """Parse every item; raise one InvalidInputError naming each bad item by index and field
    (`outcome` says what happened to the batch, e.g. that nothing was stored)."""
    if not isinstance(items, list):
        raise InvalidInputError(
            'the body must be a JSON array of cases, or {"cases": [...]}',
            errors=[{"index": None, "field": "(body)", "message": "expected a list of cases"}],
        )
    if not items:
        raise InvalidInputError(
            "the batch is empty: send at least one case",
            errors=[{"index": None, "field": "cases", "message": "empty list"}],
        )
    if len(items) > max_items:
        raise PayloadTooLargeError(
            f"the batch has {len(items)} cases; the limit is {max_items} per request. "
            "Split it (`rung cases import` does this for you)."
        )
    parsed: list[ParsedCase] = []
    errors: list[dict[str, Any]] = []
    for offset, item in enumerate(items):
        index = first_index + offset
        if not isinstance(item, dict):
            errors.append({"index": index, "field": "(item)", "message": "a case is a JSON object"})
            continue
        try:
            parsed.append(parse_item(item))
        except ValidationError as exc:
            errors.extend(
                {"index": index, "field": _field_path(err["loc"]), "message": err["msg"]}
                for err in exc.errors()
            )
    if errors:
        bad = len({e["index"] for e in errors})
        raise InvalidInputError(
            f"{bad} of {len(items)} cases are invalid; {outcome}",
            errors=errors,
        )
    return parsed
