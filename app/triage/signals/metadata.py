"""Source and metadata signals: what the case's ``source`` and metadata keys say about it."""

from __future__ import annotations

import re

from app.triage import lexicons
from app.triage.signals.common import CaseTexts, Features, FireFn
from app.triage.signals.weights import W

# Metadata keys that support a subcategory: (feature, key pattern, signal, subcategory, weight,
# evidence with the matched key as {key}).
METADATA_SIGNALS: tuple[tuple[str, re.Pattern[str], str, str, float, str], ...] = (
    (
        "meta_preference",
        lexicons.PREFERENCE_METADATA_KEY,
        "metadata_preference",
        "preference",
        W.metadata_preference,
        "metadata records a comparison ('{key}')",
    ),
    (
        "meta_format",
        lexicons.FORMAT_METADATA_KEY,
        "metadata_validator",
        "format",
        W.metadata_validator,
        "metadata names a validator/schema for the output",
    ),
    (
        "meta_stale",
        lexicons.STALE_METADATA_KEY,
        "metadata_change_date",
        "stale_knowledge",
        W.metadata_change_date,
        "metadata dates a change of the facts ('{key}')",
    ),
)


def source_metadata_signals(t: CaseTexts, feats: Features, fire: FireFn) -> None:
    preference_source = bool(t.source and lexicons.PREFERENCE_SOURCE.search(t.source))
    feats["src_preference"] = float(preference_source)
    if preference_source:
        fire(
            "source_preference",
            "preference",
            W.source_preference,
            f"source is '{t.source}', a comparison signal",
        )
    feats["src_eval"] = float("eval" in t.source)
    feats["src_thumbs"] = float("thumb" in t.source or "csat" in t.source)
    feats["src_review"] = float("review" in t.source or "red_team" in t.source)
    feats["src_ticket"] = float("ticket" in t.source or "report" in t.source)
    keys = t.metadata_keys
    for feature, pattern, name, subcategory, weight, evidence in METADATA_SIGNALS:
        key = pattern.search(keys)
        feats[feature] = float(bool(key))
        if key:
            fire(name, subcategory, weight, evidence.format(key=key.group(0)))
    feats["meta_style"] = float(bool(lexicons.STYLE_METADATA_KEY.search(keys)))
    feats["meta_retrieval"] = float(bool(lexicons.RETRIEVAL_METADATA_KEY.search(keys)))
