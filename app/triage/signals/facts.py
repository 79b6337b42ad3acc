"""Fact signals: the expected answer's facts (numbers, dates, identifiers, names) against the
output's and the context's, for grounding, retrieval_gap, stale_knowledge and missing_knowledge.
`measure_facts` computes the comparison and its features; `fire_fact_signals` decides which
signals fire and words their evidence."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from app.triage import lexicons
from app.triage.signals.common import CaseTexts, Features, FireFn, capped
from app.triage.signals.weights import W
from app.triage.signals.wording import fact_kinds, quote, show_facts
from app.triage.text_facts import Facts, content_words, extract_facts, fact_in_text, jaccard, words

_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
_NAMES_OLD_VALUE = re.compile(
    r"\bfrom\b[^.]{0,40}\bto\b|\bwas\b|\bformerly|\bpreviously|\bno longer", re.I
)


@dataclass
class FactComparison:
    """Everything the fact signals compare, computed once."""

    texts: CaseTexts
    expected: Facts
    output: Facts
    context: Facts
    expected_list: list[str]  # sorted facts of the expected answer
    output_list: list[str]
    missing: list[str]  # expected facts the output lacks
    extra: list[str]  # output facts the expected answer lacks
    numbers_changed: bool
    word_overlap: float  # Jaccard of output and expected content words
    facts_differ: bool
    expected_in_context: list[str]
    missing_in_context: list[str]
    extra_in_context: list[str]
    extra_not_in_context: list[str]
    expected_context_share: float
    expected_words_in_context: float  # share of expected content words found in the context
    hedges: list[str]
    not_found: re.Match[str] | None
    temporal_cues: list[str]  # change markers in the expected answer ("since", "now")
    time_cues: list[str]  # time-sensitivity cues in input, feedback and expected
    output_years: set[int]
    expected_years: set[int]
    older_year: bool
    hard_expected_context_share: float  # share of expected numbers/codes/dates in the context
    hard_output_in_context: list[str]
    asked_absent_from_context: list[str]  # things the question names that the context lacks
    output_echoes_context: bool
    context_hard_facts: list[str]
    output_hard_not_in_context: list[str]
    contradicts_context: bool

    def in_context(self, fact: str) -> bool:
        return fact_in_text(fact, self.context, self.texts.context.lower())


def measure_facts(t: CaseTexts, feats: Features) -> FactComparison:
    """Compare the facts of expected, output and context; write the fact features."""
    has_expected, has_context = t.has_expected, t.has_context
    output_facts, expected_facts = extract_facts(t.output), extract_facts(t.expected)
    context_facts = extract_facts(t.context)
    output_lower, expected_lower = t.output.lower(), t.expected.lower()
    context_lower = t.context.lower()

    def in_context(fact: str) -> bool:
        return fact_in_text(fact, context_facts, context_lower)

    expected_list = sorted(expected_facts.all)
    output_list = sorted(output_facts.all)
    missing = [f for f in expected_list if not fact_in_text(f, output_facts, output_lower)]
    extra = [f for f in output_list if not fact_in_text(f, expected_facts, expected_lower)]
    feats["n_exp_facts"] = math.log1p(len(expected_list))
    feats["n_out_facts"] = math.log1p(len(output_list))
    feats["exp_fact_recall"] = 1 - len(missing) / len(expected_list) if expected_list else 1.0
    feats["out_fact_precision"] = 1 - len(extra) / len(output_list) if output_list else 1.0
    exp_numbers, out_numbers = expected_facts.numbers, output_facts.numbers
    numbers_conflict = bool(exp_numbers and out_numbers and not (exp_numbers & out_numbers))
    numbers_changed = bool(
        exp_numbers and out_numbers and (out_numbers - exp_numbers) and (exp_numbers - out_numbers)
    )
    feats["numbers_conflict"] = float(numbers_conflict)
    feats["numbers_changed"] = float(numbers_changed)
    output_words, expected_words = content_words(t.output), content_words(t.expected)
    word_overlap = jaccard(output_words, expected_words) if has_expected else 0.0
    feats["cw_jaccard"] = word_overlap
    facts_differ = has_expected and bool(missing) and bool(extra)
    feats["facts_differ"] = float(facts_differ)
    feats["same_facts"] = float(has_expected and not missing and len(expected_list) > 0)
    feats["no_facts"] = float(has_expected and not expected_list and not output_list)

    # Does the context contain the expected facts, and does the output follow the context?
    expected_in_context = [f for f in expected_list if in_context(f)] if has_context else []
    output_in_context = [f for f in output_list if in_context(f)] if has_context else []
    missing_in_context = [f for f in missing if in_context(f)] if has_context else []
    extra_not_in_context = [f for f in extra if not in_context(f)] if has_context else []
    extra_in_context = [f for f in extra if in_context(f)] if has_context else []
    expected_context_share = (
        len(expected_in_context) / len(expected_list) if expected_list and has_context else 0.0
    )
    output_context_share = (
        len(output_in_context) / len(output_list) if output_list and has_context else 0.0
    )
    expected_words_in_context = (
        len(expected_words & content_words(t.context)) / len(expected_words)
        if expected_words and has_context
        else 0.0
    )
    feats["exp_facts_in_ctx"] = expected_context_share
    feats["out_facts_in_ctx"] = output_context_share
    feats["exp_words_in_ctx"] = expected_words_in_context
    feats["missing_facts_in_ctx"] = (
        len(missing_in_context) / len(missing) if missing and has_context else 0.0
    )
    feats["extra_facts_not_in_ctx"] = (
        len(extra_not_in_context) / len(extra) if extra and has_context else 0.0
    )

    hedges = lexicons.HEDGE.findall(t.output)
    not_found = lexicons.NOT_FOUND.search(t.output)
    temporal_cues = lexicons.TEMPORAL.findall(t.expected)
    time_cues = [
        m.group(0).lower()
        for text in (t.input, t.feedback, t.expected)
        for m in lexicons.TIME_CUE.finditer(text)
    ]
    feats["time_cues"] = capped(len(time_cues), 4)
    feats["input_time_cue"] = float(bool(lexicons.TIME_CUE.search(t.input)))
    feats["output_hedge"] = capped(len(hedges), 3)
    feats["output_not_found"] = float(bool(not_found))
    feats["expected_temporal"] = capped(len(temporal_cues), 3)
    output_years = {int(y) for y in _YEAR.findall(t.output)}
    expected_years = {int(y) for y in _YEAR.findall(t.expected)}
    older_year = bool(output_years and expected_years and max(output_years) < max(expected_years))
    feats["output_older_year"] = float(older_year)
    # The expected answer names the output's value as the old one ("reduced from 60 to 40").
    old_value_named = (
        bool(extra)
        and any(fact_in_text(f, expected_facts, expected_lower) for f in output_list)
        and bool(_NAMES_OLD_VALUE.search(t.expected))
    )
    feats["old_value_named"] = float(old_value_named)

    hard_expected = (
        sorted(expected_facts.numbers | expected_facts.codes | expected_facts.dates)
        or expected_list
    )
    hard_expected_context_share = (
        sum(in_context(f) for f in hard_expected) / len(hard_expected)
        if hard_expected and has_context
        else 0.0
    )
    feats["hard_exp_facts_in_ctx"] = hard_expected_context_share
    input_facts = extract_facts(t.input)
    hard_output = sorted(output_facts.numbers | output_facts.codes | output_facts.dates)
    hard_output_in_context = [f for f in hard_output if in_context(f)] if has_context else []
    asked = sorted(input_facts.codes | input_facts.entities | input_facts.numbers)
    asked_absent = [f for f in asked if not in_context(f)] if has_context else []
    echoes = (
        bool(hard_output)
        and len(hard_output_in_context) / max(len(hard_output), 1) >= W.echoes_share
    )
    feats["output_echoes_context"] = float(has_context and echoes)
    feats["asked_subject_absent_from_ctx"] = capped(len(asked_absent), 3)
    context_hard = sorted(context_facts.numbers | context_facts.dates) if has_context else []
    output_not_context = [
        f for f in sorted(output_facts.numbers | output_facts.dates) if not in_context(f)
    ]
    output_words_all = content_words(t.output)
    topical = (
        len(output_words_all & content_words(t.context)) / len(output_words_all)
        if output_words_all
        else 0.0
    )
    feats["output_topical_to_context"] = topical if has_context else 0.0
    contradicts = bool(
        has_context
        and output_not_context
        and context_hard
        and topical >= W.topical_share
        and not echoes
    )
    feats["output_contradicts_context"] = float(contradicts)
    return FactComparison(
        texts=t,
        expected=expected_facts,
        output=output_facts,
        context=context_facts,
        expected_list=expected_list,
        output_list=output_list,
        missing=missing,
        extra=extra,
        numbers_changed=numbers_changed,
        word_overlap=word_overlap,
        facts_differ=facts_differ,
        expected_in_context=expected_in_context,
        missing_in_context=missing_in_context,
        extra_in_context=extra_in_context,
        extra_not_in_context=extra_not_in_context,
        expected_context_share=expected_context_share,
        expected_words_in_context=expected_words_in_context,
        hedges=hedges,
        not_found=not_found,
        temporal_cues=temporal_cues,
        time_cues=time_cues,
        output_years=output_years,
        expected_years=expected_years,
        older_year=older_year,
        hard_expected_context_share=hard_expected_context_share,
        hard_output_in_context=hard_output_in_context,
        asked_absent_from_context=asked_absent,
        output_echoes_context=echoes,
        context_hard_facts=context_hard,
        output_hard_not_in_context=output_not_context,
        contradicts_context=contradicts,
    )


def fire_fact_signals(c: FactComparison, fire: FireFn) -> None:
    """The fact signals that fire for comparison ``c``, with their evidence."""
    _context_signals(c, fire)
    if not c.texts.has_context and c.texts.has_expected and c.missing:
        _expected_without_context_signals(c, fire)
    elif not c.texts.has_context and not c.texts.has_expected and c.hedges:
        fire(
            "generic_output",
            "missing_knowledge",
            W.generic_output,
            f"the output is generic ('{quote(c.hedges[0], 20)}')",
        )


def _context_signals(c: FactComparison, fire: FireFn) -> None:
    has_context, has_expected = c.texts.has_context, c.texts.has_expected
    hard_share = c.hard_expected_context_share
    if (
        has_context
        and c.expected_list
        and hard_share >= W.grounding_hard_share
        and (c.missing_in_context or c.extra_not_in_context)
    ):
        said = (
            f" but the output says {show_facts(c.extra)}"
            if c.extra
            else " but the output leaves it out"
        )
        fire(
            "context_holds_expected",
            "grounding",
            W.context_holds_base + W.context_holds_per_share * hard_share,
            f"context holds {show_facts(c.missing_in_context or c.expected_in_context)}{said}",
        )
    elif (
        has_context
        and has_expected
        and c.expected_words_in_context >= W.context_words_share
        and c.word_overlap < W.context_words_max_overlap
        and not c.expected_list
    ):
        fire(
            "context_holds_expected_words",
            "grounding",
            W.context_holds_words,
            "the context has the wording of the expected answer; the output does not follow it",
        )
    if has_context and c.expected_list and hard_share < W.grounding_hard_share and c.missing:
        absent = [f for f in c.missing if not c.in_context(f)]
        fire(
            "context_lacks_expected",
            "retrieval_gap",
            W.context_lacks_base + W.context_lacks_per_missing * (1 - c.expected_context_share),
            f"the supplied context does not contain the expected {show_facts(absent or c.missing)}",
        )
        if c.extra_in_context:
            fire(
                "output_follows_wrong_context",
                "retrieval_gap",
                W.follows_wrong_context,
                f"the output repeats {show_facts(c.extra_in_context)} from a context passage "
                "that does not answer the question",
            )
    echoes = c.output_echoes_context
    if has_context and echoes and c.asked_absent_from_context:
        fire(
            "context_about_something_else",
            "retrieval_gap",
            W.context_about_something_else,
            f"the output repeats the context ({show_facts(c.hard_output_in_context)}), but the "
            f"context never mentions {show_facts(c.asked_absent_from_context, 2)} from the "
            "question",
        )
    elif has_context and echoes and has_expected and c.missing:
        fire(
            "output_follows_context_expected_elsewhere",
            "retrieval_gap",
            W.follows_context_expected_elsewhere,
            "the output follows the context, but the expected answer is not in it",
        )
    if c.contradicts_context:
        fire(
            "output_contradicts_context",
            "grounding",
            W.contradicts_context,
            f"the output says {show_facts(c.output_hard_not_in_context, 2)} where the context on "
            f"the same topic gives {show_facts(c.context_hard_facts, 2)}",
        )
    if has_context and c.not_found:
        fire(
            "output_not_in_context",
            "retrieval_gap",
            W.output_not_in_context,
            f"the output says the documents lack the answer ('{quote(c.not_found.group(0))}')",
        )
    elif not has_context and c.not_found:
        fire(
            "output_cannot_answer",
            "missing_knowledge",
            W.output_cannot_answer,
            f"the output cannot answer ('{quote(c.not_found.group(0))}')",
        )


def _expected_without_context_signals(c: FactComparison, fire: FireFn) -> None:
    """No context, an expected answer, and facts of it missing from the output."""
    missing, extra, temporal, hedges = c.missing, c.extra, c.temporal_cues, c.hedges
    kinds = fact_kinds(missing, c.expected)
    expected_hard = c.expected.numbers | c.expected.dates | c.expected.codes
    output_hard = c.output.numbers | c.output.dates | c.output.codes
    hard_missing = [f for f in missing if f in expected_hard]
    hard_extra = [f for f in extra if f in output_hard]
    if (
        temporal
        and hard_missing
        and (hard_extra or c.numbers_changed)
        and c.word_overlap >= W.change_min_overlap
    ):
        fire(
            "expected_marks_change",
            "stale_knowledge",
            W.marks_change_base + W.marks_change_per_cue * min(len(temporal), 3),
            f"expected marks a change ('{quote(temporal[0], 20)}') and the output gives "
            f"{show_facts(extra)} instead of {show_facts(missing)}",
        )
    elif c.facts_differ and c.word_overlap >= W.differ_min_overlap and c.time_cues:
        fire(
            "differ_only_in_facts_time",
            "stale_knowledge",
            W.differ_in_facts_time,
            f"expected and output differ only in {kinds} ({show_facts(extra)} vs "
            f"{show_facts(missing)}) on a time-sensitive point ('{c.time_cues[0]}')",
        )
    elif c.facts_differ and c.word_overlap >= W.differ_min_overlap:
        fire(
            "differ_only_in_facts",
            "missing_knowledge",
            W.differ_in_facts,
            f"expected and output differ only in {kinds}: {show_facts(extra)} vs "
            f"{show_facts(missing)}",
        )
    if c.older_year:
        fire(
            "output_older_year",
            "stale_knowledge",
            W.output_older_year,
            f"the output cites {max(c.output_years)}, the expected answer {max(c.expected_years)}",
        )
    t = c.texts
    wordy = len(words(t.output)) > W.wordy_ratio * max(len(words(t.expected)), 1) + W.wordy_slack
    if hedges and (not extra or len(missing) > len(extra)) and not wordy:
        fire(
            "generic_instead_of_specific",
            "missing_knowledge",
            W.generic_base + W.generic_per_hedge * min(len(hedges), 3),
            f"the output is generic ('{quote(hedges[0], 20)}') where the expected answer gives "
            f"specific {kinds} ({show_facts(missing)})",
        )
    elif len(missing) >= 2 and not temporal and not c.facts_differ:
        fire(
            "expected_specific_facts",
            "missing_knowledge",
            W.expected_specific_facts,
            f"the expected answer has specific {kinds} absent from the output "
            f"({show_facts(missing)})",
        )
    if c.expected.codes and not c.time_cues and extra:
        fire(
            "wrong_private_identifier",
            "missing_knowledge",
            W.wrong_private_identifier,
            f"the output invents {show_facts(extra)} where the expected answer has "
            f"{show_facts(missing)}",
        )
