"""Style signals: length against the expected answer, tone (emoji, apologies, slang, rudeness,
empathy), persona and reading level."""

from __future__ import annotations

import math

from app.triage import lexicons
from app.triage.signals.common import CaseTexts, Features, FireFn, capped
from app.triage.signals.weights import W
from app.triage.signals.wording import quote
from app.triage.text_facts import extract_facts, fact_in_text, structure, style_markers


def style_signals(t: CaseTexts, feats: Features, fire: FireFn) -> None:
    has_expected = t.has_expected
    out_markers = style_markers(t.output)
    exp_markers = style_markers(t.expected) if has_expected else None
    out_shape = structure(t.output)
    exp_shape = structure(t.expected) if has_expected else None
    ratio = (out_shape.words + 1) / (exp_shape.words + 1) if exp_shape else 1.0
    feats["length_ratio_log"] = math.log(ratio)
    feats["output_words_log"] = math.log1p(out_shape.words)
    feats["expected_words_log"] = math.log1p(exp_shape.words) if exp_shape else 0.0
    output_facts, expected_facts = extract_facts(t.output), extract_facts(t.expected)
    expected_covered = not expected_facts.all or all(
        fact_in_text(f, output_facts, t.output.lower()) for f in expected_facts.all
    )
    limit_given = bool(lexicons.LENGTH_LIMIT.search(t.input))
    tight = lexicons.TIGHT_FORM.search(t.input)
    feats["tight_form_request"] = float(bool(tight))
    if (
        tight
        and (ratio >= W.long_ratio or (not exp_shape and out_shape.words >= W.tight_form_min_words))
        and not limit_given
    ):
        fire(
            "tight_form_too_long",
            "format",
            W.tight_form_too_long,
            f"the input asks for a short form ('{quote(tight.group(0), 20)}'); the output has "
            f"{out_shape.words} words",
        )
    elif (
        exp_shape
        and ratio >= W.long_ratio
        and expected_covered
        and not limit_given
        and out_shape.words >= W.verbose_min_words
    ):
        fire(
            "verbose_same_content",
            "style",
            W.verbose_base + min(W.verbose_max_extra, W.verbose_per_ratio * ratio),
            f"the output is {ratio:.1f}× longer than expected with the same facts",
        )
    elif (
        exp_shape
        and ratio <= W.curt_ratio
        and expected_covered
        and exp_shape.words >= W.curt_min_expected_words
    ):
        fire(
            "curt_same_content",
            "style",
            W.curt_same_content,
            f"the output is much shorter than expected ({out_shape.words} vs {exp_shape.words} "
            "words)",
        )
    if not exp_shape and out_shape.words >= W.very_long_words:
        fire(
            "very_long_output",
            "style",
            W.very_long_output,
            f"the output is long ({out_shape.words} words)",
        )

    emoji_excess = out_markers.emoji - (exp_markers.emoji if exp_markers else 0)
    exclamation_excess = out_markers.exclamations - (exp_markers.exclamations if exp_markers else 0)
    feats["emoji_excess"] = capped(max(emoji_excess, 0), 5)
    feats["exclamation_excess"] = capped(max(exclamation_excess, 0), 5)
    if (
        emoji_excess >= W.emoji_excess
        or exclamation_excess >= W.exclamation_excess
        or (emoji_excess >= 1 and exclamation_excess >= 1)
    ):
        fire(
            "emoji_exclamations",
            "style",
            W.emoji_exclamations,
            f"the output has {out_markers.emoji} emoji and {out_markers.exclamations} "
            "exclamation marks",
        )
    apology_excess = out_markers.apologies - (exp_markers.apologies if exp_markers else 0)
    feats["apologies"] = capped(max(apology_excess, 0), 3)
    if out_markers.apologies >= 2 and apology_excess >= 1:
        fire(
            "over_apologetic",
            "style",
            W.over_apologetic,
            f"the output apologises {out_markers.apologies} times",
        )
    feats["ai_disclaimer"] = float(
        out_markers.ai_disclaimer and not (exp_markers and exp_markers.ai_disclaimer)
    )
    if feats["ai_disclaimer"]:
        fire("breaks_persona", "style", W.breaks_persona, "the output breaks persona ('as an AI…')")
    slang_excess = out_markers.slang - (exp_markers.slang if exp_markers else 0)
    feats["slang"] = capped(max(slang_excess, 0), 3)
    if slang_excess >= 2 or (slang_excess >= 1 and exp_markers is not None):
        fire(
            "casual_register",
            "style",
            W.casual_register,
            "the output uses a casual register (slang)",
        )
    long_word_excess = out_markers.long_word_ratio - (
        exp_markers.long_word_ratio if exp_markers else W.default_long_word_ratio
    )
    feats["long_word_excess"] = long_word_excess
    feats["sentence_length_excess"] = (
        out_markers.avg_sentence_words
        - (exp_markers.avg_sentence_words if exp_markers else W.default_sentence_words)
    ) / W.sentence_words_scale
    if (
        out_markers.long_word_ratio >= W.reading_long_ratio
        and long_word_excess >= W.reading_long_excess
        and out_shape.words >= W.reading_min_words
    ):
        fire(
            "reading_level",
            "style",
            W.reading_level,
            "the output's vocabulary is harder than expected "
            f"({out_markers.long_word_ratio:.0%} long words)",
        )
    feats["caps_words"] = capped(out_markers.caps_words, 3)
    _tone_signals(t, out_markers.long_word_ratio, out_markers.avg_sentence_words, feats, fire)


def _tone_signals(
    t: CaseTexts, long_word_ratio: float, sentence_words: float, feats: Features, fire: FireFn
) -> None:
    """Rudeness, missing empathy, and expert text for a lay audience."""
    has_expected = t.has_expected
    rude = lexicons.RUDE.search(t.output)
    feats["output_rude"] = float(bool(rude))
    if rude and not (has_expected and lexicons.RUDE.search(t.expected)):
        fire(
            "dismissive_tone",
            "style",
            W.dismissive_tone,
            f"the output is dismissive ('{quote(rude.group(0), 25)}')",
        )
    upset = lexicons.DISTRESS.search(t.input)
    output_empathy = lexicons.EMPATHY.search(t.output)
    expected_empathy = has_expected and lexicons.EMPATHY.search(t.expected)
    feats["empathy_missing"] = float(bool(upset and not output_empathy))
    if upset and not output_empathy and (expected_empathy or not has_expected):
        fire(
            "no_empathy",
            "style",
            W.no_empathy_expected if expected_empathy else W.no_empathy,
            f"the user sounds upset ('{quote(upset.group(0), 20)}'); the output does not "
            "acknowledge it",
        )
    lay = lexicons.LAY_AUDIENCE.search(t.input)
    feats["lay_audience"] = float(bool(lay))
    if lay and (long_word_ratio >= W.lay_long_ratio or sentence_words >= W.lay_sentence_words):
        fire(
            "lay_audience_hard_text",
            "style",
            W.lay_audience_hard_text,
            f"the input addresses '{quote(lay.group(0), 25)}' but the output reads at an expert "
            "level",
        )
