"""What a fix did to each held-out case, and the totals (fixed rate), overall and by subcategory.

For each held-out case: failing under the champion and acceptable under the candidate is
**fixed**; failing under both is **still failing**; acceptable under the champion and failing
under the candidate is **broken**; acceptable under both is **still passing**. The fixed rate is
fixed / failing under the champion (the reported failures the fix resolved).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

OUTCOMES = ("fixed", "still_failing", "broken", "still_passing")


def classify(*, champion_ok: bool, candidate_ok: bool) -> str:
    if not champion_ok:
        return "fixed" if candidate_ok else "still_failing"
    return "still_passing" if candidate_ok else "broken"


@dataclass(frozen=True)
class CaseOutcome:
    case_id: str
    subcategory: str
    champion_ok: bool
    candidate_ok: bool

    @property
    def outcome(self) -> str:
        return classify(champion_ok=self.champion_ok, candidate_ok=self.candidate_ok)


def _counts(items: list[CaseOutcome]) -> dict[str, Any]:
    counts: dict[str, Any] = {name: 0 for name in OUTCOMES}
    for item in items:
        counts[item.outcome] += 1
    failing = counts["fixed"] + counts["still_failing"]
    counts["cases"] = len(items)
    counts["failing_under_champion"] = failing
    counts["failing_under_candidate"] = counts["still_failing"] + counts["broken"]
    counts["fixed_rate"] = round(counts["fixed"] / failing, 4) if failing else None
    return counts


def summarize(items: Iterable[CaseOutcome]) -> dict[str, Any]:
    """Totals, totals by subcategory, and each case's outcome."""
    items = list(items)
    by_sub: dict[str, list[CaseOutcome]] = {}
    for item in items:
        by_sub.setdefault(item.subcategory, []).append(item)
    return {
        "totals": _counts(items),
        "by_subcategory": {sub: _counts(group) for sub, group in sorted(by_sub.items())},
        "cases": [
            {
                "case_id": i.case_id,
                "subcategory": i.subcategory,
                "champion_ok": i.champion_ok,
                "candidate_ok": i.candidate_ok,
                "outcome": i.outcome,
            }
            for i in items
        ],
    }


def sentence(totals: dict[str, Any]) -> str:
    """One line: 'fixed 3 of 5 failing held-out cases (60%), 2 still failing, 0 broken'."""
    failing = totals.get("failing_under_champion", 0)
    rate = totals.get("fixed_rate")
    share = f" ({rate:.0%})" if rate is not None else ""
    return (
        f"fixed {totals.get('fixed', 0)} of {failing} failing held-out case(s){share}, "
        f"{totals.get('still_failing', 0)} still failing, {totals.get('broken', 0)} broken "
        f"(of {totals.get('cases', 0)} held out)"
    )
