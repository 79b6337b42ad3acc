"""Pairwise judge: candidate vs the baseline's answer, asked in BOTH orders.

Order 1 shows the candidate as A and the baseline as B; order 2 swaps them. Each verdict is
mapped to the candidate's view (win/tie/loss). When the two agree that is the outcome; when they
disagree the pair is a tie and counts as a flip — the flip rate measures the judge's position
bias. A reply without a valid ``{"winner": "A"|"B"|"tie"}`` leaves the pair unparsed (unscored).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from evals.chat import ChatClient
from evals.dataset import Example
from evals.judges.parsing import extract_json_object

Outcome = Literal["win", "tie", "loss"]
OUTCOME_SCORE: dict[str, float] = {"win": 1.0, "tie": 0.5, "loss": 0.0}

SYSTEM_PROMPT = (
    "You are a strict, fair evaluator. Compare two AI assistant responses to the same question "
    "against the criteria. Ignore their order and length unless the criteria mention length. "
    'Reply with ONLY a JSON object: {"reason": "<one or two sentences>", "winner": "A" or "B" '
    'or "tie"}.'
)


@dataclass(frozen=True)
class PairwiseVerdict:
    """Both orders' verdicts (candidate's view) and the combined outcome (None if unparsed)."""

    candidate_first: Outcome | None
    baseline_first: Outcome | None
    outcome: Outcome | None
    flipped: bool
    reasons: tuple[str, str]
    raw: tuple[str, str]

    @property
    def parsed(self) -> bool:
        return self.outcome is not None


class PairwiseJudge:
    def __init__(
        self,
        *,
        client: ChatClient,
        criteria: str = "Which response answers the question better: correct, complete, and "
        "following the instructions?",
        metric: str = "pairwise",
    ) -> None:
        self.client = client
        self.criteria = criteria
        self.metric = metric

    def messages(self, example: Example, first: str, second: str) -> list[dict[str, str]]:
        parts = [f"Criteria: {self.criteria}", f"Question:\n{example.prompt_text()}"]
        if example.expected is not None:
            parts.append(f"Reference answer:\n{example.expected}")
        parts += [f"Response A:\n{first}", f"Response B:\n{second}", "Your JSON verdict:"]
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": "\n\n".join(parts)},
        ]

    @staticmethod
    def parse(raw: str) -> tuple[Literal["A", "B", "tie"] | None, str]:
        data = extract_json_object(raw)
        if data is None:
            return None, "no JSON object in the judge's reply"
        winner = data.get("winner")
        reason = data.get("reason") if isinstance(data.get("reason"), str) else ""
        if not isinstance(winner, str):
            return None, f"winner {winner!r} is not A, B or tie"
        key = winner.strip().strip('"').lower()
        if key in {"a", "b"}:
            return ("A" if key == "a" else "B"), reason
        if key in {"tie", "draw", "equal"}:
            return "tie", reason
        return None, f"winner {winner!r} is not A, B or tie"

    async def judge(self, example: Example, output: str, baseline_output: str) -> PairwiseVerdict:
        first = await self.client.complete(self.messages(example, output, baseline_output))
        second = await self.client.complete(self.messages(example, baseline_output, output))
        w1, r1 = self.parse(first.text)
        w2, r2 = self.parse(second.text)
        v1: Outcome | None = None if w1 is None else {"A": "win", "B": "loss", "tie": "tie"}[w1]
        v2: Outcome | None = None if w2 is None else {"A": "loss", "B": "win", "tie": "tie"}[w2]
        if v1 is None or v2 is None:
            outcome: Outcome | None = None
            flipped = False
        else:
            flipped = v1 != v2
            outcome = "tie" if flipped else v1
        return PairwiseVerdict(
            candidate_first=v1,
            baseline_first=v2,
            outcome=outcome,
            flipped=flipped,
            reasons=(r1, r2),
            raw=(first.text, second.text),
        )


def summarize_pairwise(verdicts: list[PairwiseVerdict]) -> dict[str, Any]:
    """Win/tie/loss rates over parsed pairs, the flip rate, and first-position wins."""
    parsed = [v for v in verdicts if v.parsed]
    n = len(parsed)
    counts = Counter(v.outcome for v in parsed)
    flips = sum(v.flipped for v in parsed)
    # The response shown first (A) won in both orders: candidate won as A, lost as B.
    first_always = sum(v.candidate_first == "win" and v.baseline_first == "loss" for v in parsed)
    second_always = sum(v.candidate_first == "loss" and v.baseline_first == "win" for v in parsed)
    return {
        "n": n,
        "unparsed": len(verdicts) - n,
        "win_rate": counts["win"] / n if n else None,
        "tie_rate": counts["tie"] / n if n else None,
        "loss_rate": counts["loss"] / n if n else None,
        "flips": flips,
        "flip_rate": flips / n if n else None,
        "first_position_always_won": first_always,
        "second_position_always_won": second_always,
    }
