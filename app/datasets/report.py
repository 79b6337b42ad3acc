"""The validation report of a dataset push: errors block the push (422), warnings do not.

Checks and their severity:

========================  ========  ========================================================
check                     severity  meaning
========================  ========  ========================================================
unparseable               error     the line is not valid UTF-8 JSON
line_too_long             error     the line is over `MAX_LINE_BYTES`
shape                     error     a JSON value that no known format fits, or a bad field
empty_turn                error     a message, prompt, answer or document with no text
mixed_formats             error     a line in another format than the file's first row
holdout_leakage           error     a row present in both the training file and the holdout
duplicate_id              error     two documents with the same id
too_few_rows              error     fewer training rows than the kind's hard minimum
too_large                 error     a .txt/.md document over `MAX_DOCUMENT_BYTES`
duplicate                 warning   the same normalised row as an earlier line
near_duplicate            warning   nearly the same text as an earlier line (MinHash)
over_token_budget         warning   an example longer than the base model's context
personal_data             warning   an e-mail address, phone number or card number (Luhn)
prompt_in_both_splits     warning   the same prompt in training and holdout rows
few_rows                  warning   fewer rows than recommended for the kind
no_holdout_rows           warning   the hash split left no holdout rows (dataset too small)
mostly_synthetic          warning   over half the rows have ``metadata.synthetic`` true
========================  ========  ========================================================

Each check lists at most `MAX_LISTED` items (with file and line) and counts all of them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

MAX_LISTED = 20
Severity = Literal["error", "warning"]


@dataclass
class Report:
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    error_counts: Counter[str] = field(default_factory=Counter)
    warning_counts: Counter[str] = field(default_factory=Counter)
    stats: dict[str, Any] = field(default_factory=dict)

    def add(
        self,
        severity: Severity,
        check: str,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        **extra: Any,
    ) -> None:
        counts = self.error_counts if severity == "error" else self.warning_counts
        items = self.errors if severity == "error" else self.warnings
        counts[check] += 1
        if counts[check] <= MAX_LISTED:
            item: dict[str, Any] = {"check": check, "file": file, "line": line, "message": message}
            item.update(extra)
            items.append(item)

    def error(self, check: str, message: str, **where: Any) -> None:
        self.add("error", check, message, **where)

    def warning(self, check: str, message: str, **where: Any) -> None:
        self.add("warning", check, message, **where)

    @property
    def ok(self) -> bool:
        return not self.error_counts

    def summary(self) -> str:
        if self.ok:
            return f"valid, {sum(self.warning_counts.values())} warning(s)"
        parts = [f"{n} {check}" for check, n in sorted(self.error_counts.items())]
        return "the dataset has errors: " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": sorted(self.errors, key=_order),
            "warnings": sorted(self.warnings, key=_order),
            "counts": {
                "errors": dict(sorted(self.error_counts.items())),
                "warnings": dict(sorted(self.warning_counts.items())),
            },
            "stats": self.stats,
        }


def _order(item: dict[str, Any]) -> tuple[str, int, str]:
    return (item.get("file") or "", item.get("line") or 0, item["check"])
