"""Reading failure cases from JSONL files: bare cases or labelled `{"case", "label"}` lines."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from app.cases.schemas import CaseLabel, FailureCase


class CaseFileError(ValueError):
    """A line of a case file is not a valid case; names the file and the line number."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(f"{path}:{line}: {reason}")


@dataclass(frozen=True)
class CaseRecord:
    case: FailureCase
    label: CaseLabel | None
    line: int


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ())) or "case"
    return f"{where}: {error.get('msg', 'invalid')}"


def parse_case_line(text: str, *, path: Path, line: int) -> CaseRecord:
    try:
        data = json.loads(text.strip())
    except json.JSONDecodeError as exc:
        raise CaseFileError(
            path, line, f"not valid JSON ({exc.msg} at column {exc.colno})"
        ) from exc
    if not isinstance(data, dict):
        raise CaseFileError(path, line, "each line must be a JSON object")
    try:
        if "case" in data:
            extra = set(data) - {"case", "label"}
            if extra:
                raise CaseFileError(path, line, f"unexpected keys {sorted(extra)} beside 'case'")
            case = FailureCase.model_validate(data["case"])
            label = CaseLabel.model_validate(data["label"]) if data.get("label") else None
            return CaseRecord(case=case, label=label, line=line)
        return CaseRecord(case=FailureCase.model_validate(data), label=None, line=line)
    except ValidationError as exc:
        raise CaseFileError(path, line, f"invalid case ({_first_error(exc)})") from exc


def read_case_file(path: Path) -> list[CaseRecord]:
    """All cases of a JSONL file; blank lines are skipped; the first bad line raises."""
    if not path.is_file():
        raise CaseFileError(path, 0, "file not found")
    records: list[CaseRecord] = []
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                records.append(parse_case_line(raw, path=path, line=number))
    return records
