"""Procedure signals: acting, asking, escalating and declining, against the expected answer."""

from __future__ import annotations

import re

from app.triage import lexicons
from app.triage.signals.common import CaseTexts, Features, FireFn
from app.triage.signals.weights import W
from app.triage.signals.wording import quote

_QUESTION_WORDS_TEXT = (
    "what whats what's when where wheres why who whos how hows which is are am do does did can "
    "could will would should shall may might has have had was were i im i'm my we our the a an "
    "it its this that there any tell explain"
)
_QUESTION_WORDS = frozenset(_QUESTION_WORDS_TEXT.split())
_FIRST_WORD = re.compile(
    r"\s*(?:please\s+|pls\s+|can you\s+|could you\s+|go ahead and\s+)?([a-z]+)\b", re.I
)
_DECLINES = re.compile(
    r"\b(?:i can(?:'|no)t|i'm not able to|i am not able to|i'm unable to)\b", re.I
)
_OUTPUT_DECLINES = re.compile(r"\bcan(?:'|no)t\b|\bunable\b", re.I)


def is_imperative(text: str) -> bool:
    """The input starts with a verb (after 'please', 'can you'...) and is not a question."""
    first = _FIRST_WORD.match(text)
    return (
        first is not None
        and first.group(1).lower() not in _QUESTION_WORDS
        and not text.rstrip().endswith("?")
    )


def procedure_signals(t: CaseTexts, feats: Features, fire: FireFn) -> None:
    has_expected = t.has_expected
    action = lexicons.ACTION_DONE.search(t.output)
    output_asks = "?" in t.output
    expected_asks = has_expected and ("?" in t.expected or bool(lexicons.VERIFY.search(t.expected)))
    expected_escalation = lexicons.ESCALATION.search(t.expected) if has_expected else None
    output_escalates = bool(lexicons.ESCALATION.search(t.output))
    imperative = is_imperative(t.input)
    declines = _DECLINES.search(t.expected)
    feats["output_action_done"] = float(bool(action))
    feats["expected_asks"] = float(bool(expected_asks))
    feats["output_asks"] = float(output_asks)
    feats["expected_escalates"] = float(bool(expected_escalation))
    feats["output_escalates"] = float(output_escalates)
    feats["imperative_input"] = float(imperative)
    feats["expected_declines"] = float(bool(declines) and has_expected)

    if action and imperative and not has_expected and not output_asks:
        fire(
            "acted_on_request",
            "procedure",
            W.acted_on_request,
            f"the output reports acting on the request at once ('{quote(action.group(0), 20)}')",
        )
    if action and expected_asks and not output_asks:
        fire(
            "acted_without_asking",
            "procedure",
            W.acted_without_asking,
            f"the output acts directly ('{quote(action.group(0), 20)}') where the expected "
            "answer first asks or verifies",
        )
    elif expected_asks and not output_asks and not expected_escalation:
        fire(
            "did_not_ask",
            "procedure",
            W.did_not_ask,
            "the expected answer asks or verifies before answering; the output does not",
        )
    if expected_escalation and not output_escalates:
        fire(
            "did_not_escalate",
            "procedure",
            W.did_not_escalate,
            f"the expected answer escalates or refers ('{quote(expected_escalation.group(0), 20)}'"
            "); the output does not",
        )
    if declines and has_expected and not _OUTPUT_DECLINES.search(t.output):
        fire(
            "should_decline",
            "procedure",
            W.should_decline,
            f"the expected answer declines ('{quote(declines.group(0), 20)}'); the output complies",
        )
