"""An LLM's reading of a case, combined with the offline probabilities by confidence.

The LLM is any langchain `BaseChatModel` (e.g. `chat_model(base_url=..., api_key=..., model=...)`
builds a `ChatOpenAI`; the service builds one from `RUNG_LLM_*`). It reads the label guide, a few
labelled training cases nearest to this one (`app.triage.neighbours`, at most two per label so
the borders show), then the case, and must answer one JSON object
`{"subcategory": ..., "confidence": ...}`.

Combination: the LLM's answer becomes a distribution with `confidence` on its subcategory and the
rest spread evenly over the other seven, mixed in with weight
`w = MAX_WEIGHT * c_llm / max(c_llm, c_offline)`: half and half when the LLM is at least as sure
as the offline model, less as it is less sure. An answer that does not parse, names an unknown
subcategory or lacks a confidence in [0, 1] is ignored (the offline result stands) and counted;
nothing is ever defaulted.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from app.cases.schemas import SUBCATEGORIES, FailureCase

log = logging.getLogger(__name__)

MAX_WEIGHT = 0.5
_MAX_FIELD = 1_500

SYSTEM_PROMPT = """You triage failures of LLM applications. Pick exactly one subcategory:
- missing_knowledge: the model lacks private or domain facts it never saw
  (internal policy, catalogue, customer data)
- stale_knowledge: the model states facts that were true once and have changed
  (prices, versions, laws, people in roles)
- retrieval_gap: context was supplied but did not contain, or mis-ranked, the fact needed
- format: content right, structure wrong (schema, JSON, length limit, sections, language of reply)
- style: tone, voice, persona, verbosity, reading level
- procedure: the domain way of working is wrong (skips a required step, does not escalate
  or ask, ignores a policy)
- grounding: the supplied context held the answer and the model ignored or contradicted it
- preference: the answer is acceptable but people prefer another (pairwise or A/B signal)
Answer with one JSON object only: {"subcategory": "<one of the above>", "confidence": <0..1>}"""


@dataclass(frozen=True)
class Opinion:
    subcategory: str
    confidence: float


class UnparseableOpinionError(ValueError):
    """The LLM's answer is not a usable opinion."""


def chat_model(
    *, base_url: str, api_key: str, model: str, temperature: float = 0.0, timeout_s: float = 60.0
) -> BaseChatModel:
    """A `ChatOpenAI` for an OpenAI-compatible endpoint (settings passed in, never read here)."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=base_url, api_key=api_key, model=model, temperature=temperature, timeout=timeout_s
    )


def _clip(text: str | None) -> str:
    text = text or ""
    return text if len(text) <= _MAX_FIELD else text[:_MAX_FIELD] + "…"


def case_prompt(case: FailureCase) -> str:
    parts = [
        f"User input: {_clip(case.input)}",
        f"Model output (the failure): {_clip(case.output)}",
    ]
    if case.expected:
        parts.append(f"Expected answer: {_clip(case.expected)}")
    if case.context:
        joined = "\n".join(f"- {_clip(c)}" for c in case.context[:8])
        parts.append(f"Context passages given to the model:\n{joined}")
    if case.feedback:
        parts.append(f"Reviewer feedback: {_clip(case.feedback)}")
    if case.source:
        parts.append(f"Source: {case.source}")
    return "\n".join(parts)


def parse_opinion(text: str) -> Opinion:
    """The opinion in an LLM answer; raises `UnparseableOpinionError` when there is none."""
    match = re.search(r"\{.*?\}", text or "", re.S)
    if not match:
        raise UnparseableOpinionError("no JSON object in the answer")
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError as exc:
        raise UnparseableOpinionError(f"invalid JSON: {exc.msg}") from exc
    subcategory = str(data.get("subcategory", "")).strip().lower()
    if subcategory not in SUBCATEGORIES:
        raise UnparseableOpinionError(f"unknown subcategory {subcategory!r}")
    confidence = data.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise UnparseableOpinionError("confidence missing or not a number")
    if not 0.0 <= float(confidence) <= 1.0:
        raise UnparseableOpinionError(f"confidence {confidence} outside [0, 1]")
    return Opinion(subcategory=subcategory, confidence=float(confidence))


def examples_prompt(examples: Sequence[tuple[str, str]]) -> str:
    """Labelled cases shown before the case to triage."""
    if not examples:
        return ""
    lines = ["Labelled examples of similar cases:"]
    lines.extend(f"{text}\n=> {label}" for text, label in examples)
    return "\n\n".join(lines) + "\n\nNow the case to triage:\n"


def ask(
    model: BaseChatModel, case: FailureCase, *, examples: Sequence[tuple[str, str]] = ()
) -> Opinion:
    """One opinion; raises `UnparseableOpinionError` for an unusable answer."""
    prompt = examples_prompt(examples) + case_prompt(case)
    message = model.invoke([SystemMessage(SYSTEM_PROMPT), HumanMessage(prompt)])
    content = message.content if isinstance(message.content, str) else str(message.content)
    return parse_opinion(content)


def weight_for(probs: np.ndarray, opinion: Opinion) -> float:
    """How much the LLM's answer counts against this row of offline probabilities."""
    offline = float(np.max(probs))
    return MAX_WEIGHT * opinion.confidence / max(opinion.confidence, offline, 1e-9)


def combine(probs: np.ndarray, opinion: Opinion, *, weight: float | None = None) -> np.ndarray:
    """Mix one row of offline probabilities with the LLM's opinion, by confidence."""
    weight = weight_for(probs, opinion) if weight is None else weight
    llm = np.full(len(SUBCATEGORIES), (1.0 - opinion.confidence) / (len(SUBCATEGORIES) - 1))
    llm[SUBCATEGORIES.index(opinion.subcategory)] = opinion.confidence
    mixed = (1.0 - weight) * probs + weight * llm
    return mixed / mixed.sum()
