"""Rubric judge: grades one output on a 1-5 scale against criteria, with a reason.

The judge must answer with a JSON object ``{"reason": "...", "score": <int>}``. A reply without
such an object, or with a score off the scale, is UNPARSED: the example stays unscored on the
rubric metric and is counted — it is never given a default score.
"""

from __future__ import annotations

from dataclasses import dataclass

from evals.chat import ChatClient
from evals.dataset import Example
from evals.judges.parsing import as_int, extract_json_object

DEFAULT_CRITERIA = (
    "The response answers the question correctly and completely.",
    "It follows every instruction in the question (format, length, style).",
    "It states nothing false or unsupported.",
)

SYSTEM_PROMPT = (
    "You are a strict, fair evaluator of AI assistant responses. Grade the response against the "
    "criteria on an integer scale from {low} (fails them) to {high} (fully meets them). "
    'Reply with ONLY a JSON object: {{"reason": "<one or two sentences>", "score": <integer '
    "{low}-{high}>}}."
)


@dataclass(frozen=True)
class RubricVerdict:
    """The judge's grade (None when unparsed), its reason and the raw reply."""

    score: int | None
    reason: str
    raw: str
    cached: bool = False

    @property
    def parsed(self) -> bool:
        return self.score is not None


class RubricJudge:
    """Grades outputs with an LLM judge. ``metric`` is the score key: (score-low)/(high-low)."""

    def __init__(
        self,
        *,
        client: ChatClient,
        criteria: str | list[str] | tuple[str, ...] = DEFAULT_CRITERIA,
        scale: tuple[int, int] = (1, 5),
        metric: str = "rubric",
        pass_threshold: int | None = None,
    ) -> None:
        if scale[0] >= scale[1]:
            raise ValueError(f"scale must be (low, high) with low < high, got {scale}")
        self.client = client
        self.criteria = [criteria] if isinstance(criteria, str) else list(criteria)
        self.scale = scale
        self.metric = metric
        # a grade at or above this counts as "pass" when comparing with pass/fail human labels
        self.pass_threshold = scale[1] - 1 if pass_threshold is None else pass_threshold

    def messages(self, example: Example, output: str) -> list[dict[str, str]]:
        low, high = self.scale
        criteria = "\n".join(f"- {c}" for c in self.criteria)
        parts = [f"Criteria:\n{criteria}", f"Question:\n{example.prompt_text()}"]
        if example.expected is not None:
            parts.append(f"Reference answer:\n{example.expected}")
        if example.context:
            parts.append("Context given to the assistant:\n" + "\n---\n".join(example.context))
        parts.append(f"Response to grade:\n{output}")
        parts.append("Your JSON verdict:")
        return [
            {"role": "system", "content": SYSTEM_PROMPT.format(low=low, high=high)},
            {"role": "user", "content": "\n\n".join(parts)},
        ]

    def parse(self, raw: str) -> tuple[int | None, str]:
        """``(score, reason)``; score None when the reply holds no valid verdict."""
        data = extract_json_object(raw)
        if data is None:
            return None, "no JSON object in the judge's reply"
        score = as_int(data.get("score"))
        reason = data.get("reason")
        reason = reason if isinstance(reason, str) else ""
        low, high = self.scale
        if score is None or not low <= score <= high:
            return None, f"score {data.get('score')!r} is not an integer in {low}-{high}"
        return score, reason

    def normalize(self, score: int) -> float:
        low, high = self.scale
        return (score - low) / (high - low)

    async def judge(self, example: Example, output: str) -> RubricVerdict:
        completion = await self.client.complete(self.messages(example, output))
        score, reason = self.parse(completion.text)
        return RubricVerdict(
            score=score, reason=reason, raw=completion.text, cached=completion.cached
        )
