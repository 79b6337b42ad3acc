"""Feedback signals: cue words of each subcategory in the reporter's note (`lexicons.FEEDBACK`)."""

from __future__ import annotations

import math

from app.triage import lexicons
from app.triage.signals.common import CaseTexts, Features, FireFn, capped
from app.triage.signals.weights import W
from app.triage.text_facts import words


def feedback_hits(t: CaseTexts) -> dict[str, list[str]]:
    """The distinct cue words found per subcategory, in order of appearance."""
    return {
        subcategory: list(dict.fromkeys(m.group(0).lower() for m in pattern.finditer(t.feedback)))
        for subcategory, pattern in lexicons.FEEDBACK.items()
    }


def feedback_signals(t: CaseTexts, feats: Features, fire: FireFn) -> None:
    for subcategory, hits in feedback_hits(t).items():
        feats[f"fb_{subcategory}"] = capped(len(hits), 3)
        if hits:
            extra = min(len(hits) - 1, int(W.feedback_extra_hits_counted))
            quoted = ", ".join(f"'{h.strip()}'" for h in hits[:2])
            fire(
                f"feedback_{subcategory}",
                subcategory,
                W.feedback_base + W.feedback_per_extra_hit * extra,
                f"feedback says {quoted}",
            )
    feats["fb_words"] = math.log1p(len(words(t.feedback)))
