"""Explainable signals computed from one failure case.

`compute_signals(case)` returns numeric features (for the learned model) and the signals that
fired (each supports one subcategory with a weight and carries a human-readable evidence
sentence). Signals use only the case itself: input, output, expected, context, feedback,
source and metadata.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from app.cases.schemas import SUBCATEGORIES, FailureCase
from app.triage import lexicons
from app.triage.text_facts import (
    Facts,
    content_words,
    extract_facts,
    fact_in_text,
    guess_language,
    jaccard,
    json_keys,
    looks_like_json,
    parse_json,
    structure,
    style_markers,
    words,
)

_LANGUAGE_NAMES = {
    "en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "ru": "Russian", "ar": "Arabic", "el": "Greek",
    "cjk": "Chinese/Japanese/Korean",
}  # fmt: skip
_LANGUAGE_CODES = {
    "english": "en", "french": "fr", "german": "de", "spanish": "es", "italian": "it",
    "portuguese": "pt", "dutch": "nl", "russian": "ru", "arabic": "ar", "greek": "el",
    "chinese": "cjk", "japanese": "cjk", "korean": "cjk", "mandarin": "cjk", "cantonese": "cjk",
}  # fmt: skip
_REQUESTED_LANGUAGE = re.compile(
    r"\b(?:in|into|to)\s+(english|french|german|spanish|italian|portuguese|dutch|russian|arabic|"
    r"greek|chinese|japanese|korean|mandarin|cantonese|vietnamese|polish|turkish|hindi|thai|"
    r"swedish|norwegian|danish|finnish|czech|romanian|hungarian|ukrainian|indonesian|tagalog|"
    r"hebrew|persian|farsi|urdu|bengali|swahili)\b",
    re.IGNORECASE,
)


def _non_ascii_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if ord(c) > 127) / len(letters)


_QUESTION_WORDS_TEXT = (
    "what whats what's when where wheres why who whos how hows which is are am do does did can "
    "could will would should shall may might has have had was were i im i'm my we our the a an "
    "it its this that there any tell explain"
)
_QUESTION_WORDS = frozenset(_QUESTION_WORDS_TEXT.split())
FireFn = Callable[[str, str, float, str], None]
_LOCALE_RE = re.compile(r"^([a-z]{2})(?:[-_][A-Za-z]{2})?$")


@dataclass(frozen=True)
class Signal:
    """One fired signal: which subcategory it supports, how strongly, and why."""

    name: str
    subcategory: str
    weight: float
    evidence: str


@dataclass
class SignalReport:
    features: dict[str, float]
    signals: list[Signal] = field(default_factory=list)

    def support(self) -> dict[str, float]:
        """Summed signal weight per subcategory (saturating at 2)."""
        totals = dict.fromkeys(SUBCATEGORIES, 0.0)
        for signal in self.signals:
            totals[signal.subcategory] += signal.weight
        return {name: min(value, 2.0) for name, value in totals.items()}


def _quote(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show_facts(facts: list[str], limit: int = 3) -> str:
    shown = [f.split(":", 1)[1] if f.startswith(("month:", "day:")) else f for f in facts[:limit]]
    return ", ".join(f"'{_quote(s, 24)}'" for s in shown)


def _fact_kinds(facts: list[str], source: Facts) -> str:
    kinds: list[str] = []
    for fact in facts:
        if fact in source.numbers:
            kind = "a number"
        elif fact in source.dates:
            kind = "a date"
        elif fact in source.codes:
            kind = "an identifier"
        else:
            kind = "a name"
        if kind not in kinds:
            kinds.append(kind)
    if not kinds:
        return "facts"
    return " and ".join(kinds) if len(kinds) <= 2 else ", ".join(kinds[:-1]) + " and " + kinds[-1]


def _normalise(text: str | None) -> str:
    return " ".join((text or "").replace("’", "'").split())


@dataclass
class _Texts:
    input: str
    output: str
    expected: str
    context: str
    feedback: str
    source: str
    metadata_keys: str
    metadata_text: str


def _texts(case: FailureCase) -> _Texts:
    metadata = case.metadata or {}
    return _Texts(
        input=case.input or "",
        output=case.output or "",
        expected=case.expected or "",
        context="\n".join(case.context or []),
        feedback=_normalise(case.feedback),
        source=(case.source or "").strip().lower(),
        metadata_keys=" ".join(str(k) for k in metadata),
        metadata_text=" ".join(f"{k} {v}" for k, v in metadata.items() if isinstance(v, str)),
    )


def compute_signals(case: FailureCase) -> SignalReport:
    """All signals and numeric features of one case."""
    t = _texts(case)
    feats: dict[str, float] = {}
    fired: list[Signal] = []

    def fire(name: str, subcategory: str, weight: float, evidence: str) -> None:
        fired.append(Signal(name, subcategory, weight, evidence))

    has_expected = bool(t.expected.strip())
    has_context = bool(t.context.strip())
    has_feedback = bool(t.feedback)
    feats["has_expected"] = float(has_expected)
    feats["has_context"] = float(has_context)
    feats["has_feedback"] = float(has_feedback)
    feats["n_context"] = math.log1p(len(case.context or []))
    feats["attempted_prompting"] = float("prompting" in case.attempted)
    feats["attempted_rag"] = float("rag" in case.attempted)
    feats["attempted_tuning"] = float(bool({"lora", "dpo"} & set(case.attempted)))

    _feedback_signals(t, feats, fire)
    _source_metadata_signals(t, case, feats, fire)
    _fact_signals(t, feats, fire, has_expected=has_expected, has_context=has_context)
    _format_signals(t, case, feats, fire, has_expected=has_expected)
    _style_signals(t, feats, fire, has_expected=has_expected)
    _procedure_signals(t, feats, fire, has_expected=has_expected)

    report = SignalReport(features=feats, signals=fired)
    for name, value in report.support().items():
        feats[f"support_{name}"] = value
    return report


def _feedback_signals(t: _Texts, feats: dict[str, float], fire: FireFn) -> None:
    text = t.feedback
    for subcategory, pattern in lexicons.FEEDBACK.items():
        hits = list(dict.fromkeys(m.group(0).lower() for m in pattern.finditer(text)))
        feats[f"fb_{subcategory}"] = min(len(hits), 3) / 3.0
        if hits:
            quoted = ", ".join(f"'{h.strip()}'" for h in hits[:2])
            weight = 0.6 + 0.15 * min(len(hits) - 1, 2)
            fire(
                f"feedback_{subcategory}",
                subcategory,
                weight,
                f"feedback says {quoted}",
            )
    feats["fb_words"] = math.log1p(len(words(text)))


# Metadata keys that support a subcategory: (feature, key pattern, signal, subcategory, weight,
# evidence with the matched key as {key}).
_METADATA_SIGNALS: tuple[tuple[str, re.Pattern[str], str, str, float, str], ...] = (
    (
        "meta_preference",
        lexicons.PREFERENCE_METADATA_KEY,
        "metadata_preference",
        "preference",
        0.6,
        "metadata records a comparison ('{key}')",
    ),
    (
        "meta_format",
        lexicons.FORMAT_METADATA_KEY,
        "metadata_validator",
        "format",
        0.35,
        "metadata names a validator/schema for the output",
    ),
    (
        "meta_stale",
        lexicons.STALE_METADATA_KEY,
        "metadata_change_date",
        "stale_knowledge",
        0.3,
        "metadata dates a change of the facts ('{key}')",
    ),
)


def _source_metadata_signals(
    t: _Texts, case: FailureCase, feats: dict[str, float], fire: FireFn
) -> None:
    pref_source = bool(t.source and lexicons.PREFERENCE_SOURCE.search(t.source))
    feats["src_preference"] = float(pref_source)
    if pref_source:
        fire("source_preference", "preference", 0.9, f"source is '{t.source}', a comparison signal")
    feats["src_eval"] = float("eval" in t.source)
    feats["src_thumbs"] = float("thumb" in t.source or "csat" in t.source)
    feats["src_review"] = float("review" in t.source or "red_team" in t.source)
    feats["src_ticket"] = float("ticket" in t.source or "report" in t.source)
    keys = t.metadata_keys
    for feature, pattern, name, subcategory, weight, evidence in _METADATA_SIGNALS:
        key = pattern.search(keys)
        feats[feature] = float(bool(key))
        if key:
            fire(name, subcategory, weight, evidence.format(key=key.group(0)))
    feats["meta_style"] = float(bool(lexicons.STYLE_METADATA_KEY.search(keys)))
    feats["meta_retrieval"] = float(bool(lexicons.RETRIEVAL_METADATA_KEY.search(keys)))
    del case


def _fact_signals(
    t: _Texts, feats: dict[str, float], fire: FireFn, *, has_expected: bool, has_context: bool
) -> None:
    out_f, exp_f, ctx_f = (
        extract_facts(t.output),
        extract_facts(t.expected),
        extract_facts(t.context),
    )
    out_l, exp_l, ctx_l = t.output.lower(), t.expected.lower(), t.context.lower()
    exp_facts = sorted(exp_f.all)
    out_facts = sorted(out_f.all)
    missing = [f for f in exp_facts if not fact_in_text(f, out_f, out_l)]
    extra = [f for f in out_facts if not fact_in_text(f, exp_f, exp_l)]
    feats["n_exp_facts"] = math.log1p(len(exp_facts))
    feats["n_out_facts"] = math.log1p(len(out_facts))
    feats["exp_fact_recall"] = 1 - len(missing) / len(exp_facts) if exp_facts else 1.0
    feats["out_fact_precision"] = 1 - len(extra) / len(out_facts) if out_facts else 1.0
    num_conflict = bool(exp_f.numbers and out_f.numbers and not (exp_f.numbers & out_f.numbers))
    num_changed = bool(
        exp_f.numbers
        and out_f.numbers
        and (out_f.numbers - exp_f.numbers)
        and (exp_f.numbers - out_f.numbers)
    )
    feats["numbers_conflict"] = float(num_conflict)
    feats["numbers_changed"] = float(num_changed)
    out_cw, exp_cw = content_words(t.output), content_words(t.expected)
    overlap = jaccard(out_cw, exp_cw) if has_expected else 0.0
    feats["cw_jaccard"] = overlap
    facts_differ = has_expected and bool(missing) and bool(extra)
    feats["facts_differ"] = float(facts_differ)
    feats["same_facts"] = float(has_expected and not missing and len(exp_facts) > 0)
    feats["no_facts"] = float(has_expected and not exp_facts and not out_facts)

    # Does the context contain the expected facts, and does the output follow the context?
    exp_in_ctx = [f for f in exp_facts if fact_in_text(f, ctx_f, ctx_l)] if has_context else []
    out_in_ctx = [f for f in out_facts if fact_in_text(f, ctx_f, ctx_l)] if has_context else []
    missing_in_ctx = [f for f in missing if fact_in_text(f, ctx_f, ctx_l)] if has_context else []
    extra_not_ctx = [f for f in extra if not fact_in_text(f, ctx_f, ctx_l)] if has_context else []
    extra_in_ctx = [f for f in extra if fact_in_text(f, ctx_f, ctx_l)] if has_context else []
    exp_ctx_share = len(exp_in_ctx) / len(exp_facts) if exp_facts and has_context else 0.0
    out_ctx_share = len(out_in_ctx) / len(out_facts) if out_facts and has_context else 0.0
    exp_cw_ctx = (
        len(exp_cw & content_words(t.context)) / len(exp_cw) if exp_cw and has_context else 0.0
    )
    feats["exp_facts_in_ctx"] = exp_ctx_share
    feats["out_facts_in_ctx"] = out_ctx_share
    feats["exp_words_in_ctx"] = exp_cw_ctx
    feats["missing_facts_in_ctx"] = (
        len(missing_in_ctx) / len(missing) if missing and has_context else 0.0
    )
    feats["extra_facts_not_in_ctx"] = (
        len(extra_not_ctx) / len(extra) if extra and has_context else 0.0
    )

    hedge = lexicons.HEDGE.findall(t.output)
    not_found = lexicons.NOT_FOUND.search(t.output)
    temporal = lexicons.TEMPORAL.findall(t.expected)
    time_cues = [
        m.group(0).lower()
        for text in (t.input, t.feedback, t.expected)
        for m in lexicons.TIME_CUE.finditer(text)
    ]
    feats["time_cues"] = min(len(time_cues), 4) / 4.0
    feats["input_time_cue"] = float(bool(lexicons.TIME_CUE.search(t.input)))
    feats["output_hedge"] = min(len(hedge), 3) / 3.0
    feats["output_not_found"] = float(bool(not_found))
    feats["expected_temporal"] = min(len(temporal), 3) / 3.0
    out_years = {int(y) for y in re.findall(r"\b(19[5-9]\d|20\d\d)\b", t.output)}
    exp_years = {int(y) for y in re.findall(r"\b(19[5-9]\d|20\d\d)\b", t.expected)}
    older_year = bool(out_years and exp_years and max(out_years) < max(exp_years))
    feats["output_older_year"] = float(older_year)
    # The expected answer names the output's value as the old one ("reduced from 60 to 40").
    old_value_named = (
        bool(extra)
        and any(fact_in_text(f, exp_f, exp_l) for f in out_facts)
        and bool(
            re.search(
                r"\bfrom\b[^.]{0,40}\bto\b|\bwas\b|\bformerly|\bpreviously|\bno longer",
                t.expected,
                re.I,
            )
        )
    )
    feats["old_value_named"] = float(old_value_named)

    hard_exp = sorted(exp_f.numbers | exp_f.codes | exp_f.dates) or exp_facts
    hard_share = (
        sum(fact_in_text(f, ctx_f, ctx_l) for f in hard_exp) / len(hard_exp)
        if hard_exp and has_context
        else 0.0
    )
    feats["hard_exp_facts_in_ctx"] = hard_share
    if has_context and exp_facts and hard_share >= 0.5 and (missing_in_ctx or extra_not_ctx):
        said = (
            f" but the output says {_show_facts(extra)}"
            if extra
            else " but the output leaves it out"
        )
        fire(
            "context_holds_expected",
            "grounding",
            0.5 + 0.4 * hard_share,
            f"context holds {_show_facts(missing_in_ctx or exp_in_ctx)}{said}",
        )
    elif has_context and has_expected and exp_cw_ctx >= 0.6 and overlap < 0.5 and not exp_facts:
        fire(
            "context_holds_expected_words",
            "grounding",
            0.45,
            "the context has the wording of the expected answer; the output does not follow it",
        )
    if has_context and exp_facts and hard_share < 0.5 and missing:
        absent = [f for f in missing if not fact_in_text(f, ctx_f, ctx_l)]
        fire(
            "context_lacks_expected",
            "retrieval_gap",
            0.5 + 0.4 * (1 - exp_ctx_share),
            f"the supplied context does not contain the expected {_show_facts(absent or missing)}",
        )
        if extra_in_ctx:
            fire(
                "output_follows_wrong_context",
                "retrieval_gap",
                0.4,
                f"the output repeats {_show_facts(extra_in_ctx)} from a context passage that does "
                "not answer the question",
            )
    in_f = extract_facts(t.input)
    hard_out = sorted(out_f.numbers | out_f.codes | out_f.dates)
    hard_out_in_ctx = [f for f in hard_out if fact_in_text(f, ctx_f, ctx_l)] if has_context else []
    asked_absent = (
        [
            f
            for f in sorted(in_f.codes | in_f.entities | in_f.numbers)
            if not fact_in_text(f, ctx_f, ctx_l)
        ]
        if has_context
        else []
    )
    echoes = bool(hard_out) and len(hard_out_in_ctx) / max(len(hard_out), 1) >= 0.7
    feats["output_echoes_context"] = float(has_context and echoes)
    feats["asked_subject_absent_from_ctx"] = min(len(asked_absent), 3) / 3.0
    if has_context and echoes and asked_absent:
        fire(
            "context_about_something_else",
            "retrieval_gap",
            0.6,
            f"the output repeats the context ({_show_facts(hard_out_in_ctx)}), but the context "
            f"never mentions {_show_facts(asked_absent, 2)} from the question",
        )
    elif has_context and echoes and has_expected and missing:
        fire(
            "output_follows_context_expected_elsewhere",
            "retrieval_gap",
            0.4,
            "the output follows the context, but the expected answer is not in it",
        )
    ctx_hard = sorted(ctx_f.numbers | ctx_f.dates) if has_context else []
    out_not_ctx = [
        f for f in sorted(out_f.numbers | out_f.dates) if not fact_in_text(f, ctx_f, ctx_l)
    ]
    out_cw_all = content_words(t.output)
    topical = len(out_cw_all & content_words(t.context)) / len(out_cw_all) if out_cw_all else 0.0
    feats["output_topical_to_context"] = topical if has_context else 0.0
    contradicts = bool(has_context and out_not_ctx and ctx_hard and topical >= 0.35 and not echoes)
    feats["output_contradicts_context"] = float(contradicts)
    if contradicts:
        fire(
            "output_contradicts_context",
            "grounding",
            0.45,
            f"the output says {_show_facts(out_not_ctx, 2)} where the context on the same topic "
            f"gives {_show_facts(ctx_hard, 2)}",
        )
    if has_context and not_found:
        fire(
            "output_not_in_context",
            "retrieval_gap",
            0.55,
            f"the output says the documents lack the answer ('{_quote(not_found.group(0))}')",
        )
    elif not has_context and not_found:
        fire(
            "output_cannot_answer",
            "missing_knowledge",
            0.3,
            f"the output cannot answer ('{_quote(not_found.group(0))}')",
        )

    if not has_context and has_expected and missing:
        kinds = _fact_kinds(missing, exp_f)
        hard_missing = [f for f in missing if f in exp_f.numbers | exp_f.dates | exp_f.codes]
        hard_extra = [f for f in extra if f in out_f.numbers | out_f.dates | out_f.codes]
        if temporal and hard_missing and (hard_extra or num_changed) and overlap >= 0.1:
            fire(
                "expected_marks_change",
                "stale_knowledge",
                0.55 + 0.1 * min(len(temporal), 3),
                f"expected marks a change ('{_quote(temporal[0], 20)}') and the output gives "
                f"{_show_facts(extra)} instead of {_show_facts(missing)}",
            )
        elif facts_differ and overlap >= 0.3 and time_cues:
            fire(
                "differ_only_in_facts_time",
                "stale_knowledge",
                0.45,
                f"expected and output differ only in {kinds} ({_show_facts(extra)} vs "
                f"{_show_facts(missing)}) on a time-sensitive point ('{time_cues[0]}')",
            )
        elif facts_differ and overlap >= 0.3:
            fire(
                "differ_only_in_facts",
                "missing_knowledge",
                0.3,
                f"expected and output differ only in {kinds}: {_show_facts(extra)} vs "
                f"{_show_facts(missing)}",
            )
        if older_year:
            fire(
                "output_older_year",
                "stale_knowledge",
                0.5,
                f"the output cites {max(out_years)}, the expected answer {max(exp_years)}",
            )
        wordy = len(words(t.output)) > 2.5 * max(len(words(t.expected)), 1) + 10
        if hedge and (not extra or len(missing) > len(extra)) and not wordy:
            fire(
                "generic_instead_of_specific",
                "missing_knowledge",
                0.45 + 0.1 * min(len(hedge), 3),
                f"the output is generic ('{_quote(hedge[0], 20)}') where the expected answer gives "
                f"specific {kinds} ({_show_facts(missing)})",
            )
        elif len(missing) >= 2 and not temporal and not facts_differ:
            fire(
                "expected_specific_facts",
                "missing_knowledge",
                0.35,
                f"the expected answer has specific {kinds} absent from the output "
                f"({_show_facts(missing)})",
            )
        if exp_f.codes and not time_cues and extra:
            fire(
                "wrong_private_identifier",
                "missing_knowledge",
                0.3,
                f"the output invents {_show_facts(extra)} where the expected answer has "
                f"{_show_facts(missing)}",
            )
    elif not has_context and not has_expected and hedge:
        fire(
            "generic_output",
            "missing_knowledge",
            0.25,
            f"the output is generic ('{_quote(hedge[0], 20)}')",
        )


def _language_of_locale(metadata_text: str) -> str | None:
    for token in metadata_text.split():
        match = _LOCALE_RE.match(token)
        if match and match.group(1) in _LANGUAGE_NAMES:
            return match.group(1)
    return None


def _format_signals(
    t: _Texts, case: FailureCase, feats: dict[str, float], fire: FireFn, *, has_expected: bool
) -> None:
    out_s, exp_s = structure(t.output), structure(t.expected)
    out_json = parse_json(t.output)
    exp_json = parse_json(t.expected) if has_expected else None
    requested = lexicons.FORMAT_REQUEST.findall(t.input)
    feats["input_format_request"] = min(len(requested), 3) / 3.0
    asks_json = bool(re.search(r"\bjson\b", t.input, re.I))
    feats["expected_json"] = float(exp_json is not None)
    feats["output_json"] = float(out_json is not None)
    feats["output_broken_json"] = float(out_json is None and looks_like_json(t.output))
    if (exp_json is not None or asks_json) and out_json is None:
        if looks_like_json(t.output):
            fire("invalid_json", "format", 0.9, "the output looks like JSON but does not parse")
        else:
            what = "expected is JSON" if exp_json is not None else "the input asks for JSON"
            fire("json_expected_prose_given", "format", 0.9, f"{what}, output is prose")
    if exp_json is not None and out_json is not None:
        exp_keys, out_keys = json_keys(exp_json), json_keys(out_json)
        if exp_keys != out_keys:
            diff = sorted(exp_keys - out_keys)[:3]
            fire(
                "json_keys_differ",
                "format",
                0.85,
                f"JSON keys differ from the expected schema (missing {', '.join(diff) or '-'})",
            )
    # Structure requested or shown by the expected answer, not followed by the output.
    mismatches: list[str] = []
    if has_expected:
        if exp_s.bullets >= 2 and out_s.bullets == 0:
            mismatches.append(f"expected has {exp_s.bullets} list items, the output none")
        if exp_s.headings >= 2 and out_s.headings < exp_s.headings / 2:
            mismatches.append("expected has section headings, the output does not")
        if exp_s.csv_like and not out_s.csv_like:
            mismatches.append("expected is CSV, the output is not")
        if exp_s.table_rows >= 2 and out_s.table_rows == 0:
            mismatches.append("expected is a table, the output is not")
        if out_s.table_rows >= 2 and exp_s.table_rows == 0:
            mismatches.append("the output is a markdown table, expected is not")
        if exp_s.yaml_lines >= 2 and exp_json is None and out_json is not None:
            mismatches.append("expected is YAML, the output is JSON")
        if out_s.fences and not exp_s.fences and exp_s.lines <= 2:
            mismatches.append("the output wraps a one-line answer in a code block with prose")
        if exp_s.lines >= 2 and out_s.lines == 1 and exp_s.lines >= 3 and out_s.words > 20:
            mismatches.append(
                f"expected is laid out on {exp_s.lines} lines, the output is one block"
            )
    if (
        re.search(r"\bbullet|\bnumbered list|\blist\b", t.input, re.I)
        and out_s.bullets == 0
        and out_s.lines <= 2
        and out_s.words > 25
    ):
        mismatches.append("the input asks for a list, the output is a paragraph")
    if re.search(r"\bcsv\b", t.input, re.I) and not out_s.csv_like:
        mismatches.append("the input asks for CSV, the output is not CSV")
    if re.search(r"\byaml\b", t.input, re.I) and out_json is not None:
        mismatches.append("the input asks for YAML, the output is JSON")
    feats["structure_mismatch"] = min(len(mismatches), 2) / 2.0
    if mismatches:
        fire("structure_mismatch", "format", 0.7, mismatches[0])

    limit = lexicons.LENGTH_LIMIT.search(t.input)
    over_limit = False
    if limit:
        number = int(limit.group(1) or limit.group(3) or limit.group(5))
        unit = (limit.group(2) or limit.group(4) or "").lower()
        if not unit:
            unit = "characters" if number >= 40 else "items"
        if unit.startswith("char"):
            actual = out_s.chars
        elif unit == "words":
            actual = out_s.words
        elif unit in {"lines", "bullets", "items", "points"}:
            actual = max(out_s.lines, out_s.bullets)
        else:
            actual = len([s for s in re.split(r"[.!?]+(?:\s|$)", t.output) if s.strip()])
        over_limit = actual > number
        if over_limit:
            fire(
                "over_length_limit",
                "format",
                0.85,
                f"the input sets a limit of {number} {unit}; the output has {actual}",
            )
    feats["over_length_limit"] = float(over_limit)

    only = re.search(
        r"\b(?:only|just|nothing else|no (?:extra|other) (?:text|words)|exactly)\b", t.input, re.I
    )
    extra_prose = bool(only and has_expected and out_s.words > 2 * max(exp_s.words, 1) + 3)
    feats["only_requested_extra_prose"] = float(extra_prose)
    if extra_prose:
        fire(
            "extra_prose",
            "format",
            0.6,
            f"the input asks for '{only.group(0)}' the answer; the output adds prose around it",
        )  # type: ignore[union-attr]

    # Language of the reply.
    out_lang = guess_language(t.output)
    want = guess_language(t.expected) if has_expected else None
    basis = "expected"
    if want is None:
        want, basis = guess_language(t.input), "input"
    if want is None:
        want, basis = _language_of_locale(t.metadata_text), "locale"
    mismatch = bool(out_lang and want and out_lang != want)
    if mismatch and out_lang and want:
        fire(
            "language_mismatch",
            "format",
            0.85,
            f"the {basis} is {_LANGUAGE_NAMES.get(want, want)}, the output is "
            f"{_LANGUAGE_NAMES.get(out_lang, out_lang)}",
        )
    requested = _REQUESTED_LANGUAGE.search(t.input)
    if not mismatch and requested and requested.group(1).lower() != "english":
        target = requested.group(1).lower()
        code = _LANGUAGE_CODES.get(target)
        wrong = out_lang is not None and out_lang != code
        if code is None or code in {"ru", "ar", "el", "cjk"} or target not in _LANGUAGE_CODES:
            wrong = wrong or (out_lang == "en")
        if wrong or (out_lang is None and _non_ascii_share(t.output) < 0.01 and out_s.words >= 6):
            mismatch = True
            fire(
                "requested_language_not_used",
                "format",
                0.8,
                f"the input asks for {target.title()}, the output is not in {target.title()}",
            )
    if (
        not mismatch
        and has_expected
        and _non_ascii_share(t.expected) >= 0.08
        and _non_ascii_share(t.output) < 0.02
        and out_s.words >= 6
    ):
        mismatch = True
        fire(
            "script_mismatch",
            "format",
            0.7,
            "the expected answer is written in another language/script than the output",
        )
    feats["language_mismatch"] = float(mismatch)

    # Same content, different surface form (dates, units, wrapper text).
    if has_expected and out_s.words <= 3 * max(exp_s.words, 1):
        out_f, exp_f = extract_facts(t.output), extract_facts(t.expected)
        same_numbers = out_f.numbers == exp_f.numbers and bool(exp_f.numbers)
        if same_numbers and t.output.strip() != t.expected.strip() and not mismatches:
            feats["same_values_different_form"] = 1.0
    feats.setdefault("same_values_different_form", 0.0)
    del case


def _style_signals(t: _Texts, feats: dict[str, float], fire: FireFn, *, has_expected: bool) -> None:
    out_m = style_markers(t.output)
    exp_m = style_markers(t.expected) if has_expected else None
    out_s = structure(t.output)
    exp_s = structure(t.expected) if has_expected else None
    ratio = (out_s.words + 1) / (exp_s.words + 1) if exp_s else 1.0
    feats["length_ratio_log"] = math.log(ratio)
    feats["output_words_log"] = math.log1p(out_s.words)
    feats["expected_words_log"] = math.log1p(exp_s.words) if exp_s else 0.0
    out_f, exp_f = extract_facts(t.output), extract_facts(t.expected)
    exp_covered = not exp_f.all or all(fact_in_text(f, out_f, t.output.lower()) for f in exp_f.all)
    limit_given = bool(lexicons.LENGTH_LIMIT.search(t.input))
    tight = lexicons.TIGHT_FORM.search(t.input)
    feats["tight_form_request"] = float(bool(tight))
    if tight and (ratio >= 2.5 or (not exp_s and out_s.words >= 30)) and not limit_given:
        fire(
            "tight_form_too_long",
            "format",
            0.55,
            f"the input asks for a short form ('{_quote(tight.group(0), 20)}'); the output has "
            f"{out_s.words} words",
        )
    elif exp_s and ratio >= 2.5 and exp_covered and not limit_given and out_s.words >= 25:
        fire(
            "verbose_same_content",
            "style",
            0.45 + min(0.3, 0.05 * ratio),
            f"the output is {ratio:.1f}× longer than expected with the same facts",
        )
    elif exp_s and ratio <= 0.35 and exp_covered and exp_s.words >= 20:
        fire(
            "curt_same_content",
            "style",
            0.35,
            f"the output is much shorter than expected ({out_s.words} vs {exp_s.words} words)",
        )
    if not exp_s and out_s.words >= 150:
        fire("very_long_output", "style", 0.25, f"the output is long ({out_s.words} words)")

    emoji_excess = out_m.emoji - (exp_m.emoji if exp_m else 0)
    excl_excess = out_m.exclamations - (exp_m.exclamations if exp_m else 0)
    feats["emoji_excess"] = min(max(emoji_excess, 0), 5) / 5.0
    feats["exclamation_excess"] = min(max(excl_excess, 0), 5) / 5.0
    if emoji_excess >= 2 or excl_excess >= 3 or (emoji_excess >= 1 and excl_excess >= 1):
        fire(
            "emoji_exclamations",
            "style",
            0.6,
            f"the output has {out_m.emoji} emoji and {out_m.exclamations} exclamation marks",
        )
    apology_excess = out_m.apologies - (exp_m.apologies if exp_m else 0)
    feats["apologies"] = min(max(apology_excess, 0), 3) / 3.0
    if out_m.apologies >= 2 and apology_excess >= 1:
        fire("over_apologetic", "style", 0.6, f"the output apologises {out_m.apologies} times")
    feats["ai_disclaimer"] = float(out_m.ai_disclaimer and not (exp_m and exp_m.ai_disclaimer))
    if feats["ai_disclaimer"]:
        fire("breaks_persona", "style", 0.55, "the output breaks persona ('as an AI…')")
    slang_excess = out_m.slang - (exp_m.slang if exp_m else 0)
    feats["slang"] = min(max(slang_excess, 0), 3) / 3.0
    if slang_excess >= 2 or (slang_excess >= 1 and exp_m is not None):
        fire("casual_register", "style", 0.45, "the output uses a casual register (slang)")
    long_diff = out_m.long_word_ratio - (exp_m.long_word_ratio if exp_m else 0.08)
    feats["long_word_excess"] = long_diff
    feats["sentence_length_excess"] = (
        out_m.avg_sentence_words - (exp_m.avg_sentence_words if exp_m else 15.0)
    ) / 20.0
    if out_m.long_word_ratio >= 0.15 and long_diff >= 0.08 and out_s.words >= 8:
        fire(
            "reading_level",
            "style",
            0.5,
            "the output's vocabulary is harder than expected "
            f"({out_m.long_word_ratio:.0%} long words)",
        )
    feats["caps_words"] = min(out_m.caps_words, 3) / 3.0
    rude = lexicons.RUDE.search(t.output)
    feats["output_rude"] = float(bool(rude))
    if rude and not (has_expected and lexicons.RUDE.search(t.expected)):
        fire(
            "dismissive_tone",
            "style",
            0.45,
            f"the output is dismissive ('{_quote(rude.group(0), 25)}')",
        )
    upset = lexicons.DISTRESS.search(t.input)
    out_empathy = lexicons.EMPATHY.search(t.output)
    exp_empathy = has_expected and lexicons.EMPATHY.search(t.expected)
    feats["empathy_missing"] = float(bool(upset and not out_empathy))
    if upset and not out_empathy and (exp_empathy or not has_expected):
        fire(
            "no_empathy",
            "style",
            0.45 if exp_empathy else 0.3,
            f"the user sounds upset ('{_quote(upset.group(0), 20)}'); the output does not "
            "acknowledge it",
        )
    lay = lexicons.LAY_AUDIENCE.search(t.input)
    feats["lay_audience"] = float(bool(lay))
    if lay and (out_m.long_word_ratio >= 0.12 or out_m.avg_sentence_words >= 22):
        fire(
            "lay_audience_hard_text",
            "style",
            0.55,
            f"the input addresses '{_quote(lay.group(0), 25)}' but the output reads at an expert "
            "level",
        )


def _procedure_signals(
    t: _Texts, feats: dict[str, float], fire: FireFn, *, has_expected: bool
) -> None:
    action = lexicons.ACTION_DONE.search(t.output)
    out_asks = "?" in t.output
    exp_asks = has_expected and ("?" in t.expected or bool(lexicons.VERIFY.search(t.expected)))
    exp_escalates = has_expected and bool(lexicons.ESCALATION.search(t.expected))
    out_escalates = bool(lexicons.ESCALATION.search(t.output))
    feats["output_action_done"] = float(bool(action))
    feats["expected_asks"] = float(bool(exp_asks))
    feats["output_asks"] = float(out_asks)
    feats["expected_escalates"] = float(bool(exp_escalates))
    feats["output_escalates"] = float(out_escalates)
    first = re.match(
        r"\s*(?:please\s+|pls\s+|can you\s+|could you\s+|go ahead and\s+)?([a-z]+)\b", t.input, re.I
    )
    imperative = (
        bool(first)
        and first.group(1).lower() not in _QUESTION_WORDS  # type: ignore[union-attr]
        and not t.input.rstrip().endswith("?")
    )
    feats["imperative_input"] = float(imperative)
    if action and imperative and not has_expected and not out_asks:
        fire(
            "acted_on_request",
            "procedure",
            0.3,
            f"the output reports acting on the request at once ('{_quote(action.group(0), 20)}')",
        )
    if action and exp_asks and not out_asks:
        fire(
            "acted_without_asking",
            "procedure",
            0.7,
            f"the output acts directly ('{_quote(action.group(0), 20)}') where the expected answer "
            "first asks or verifies",
        )
    elif exp_asks and not out_asks and not exp_escalates:
        fire(
            "did_not_ask",
            "procedure",
            0.4,
            "the expected answer asks or verifies before answering; the output does not",
        )
    if exp_escalates and not out_escalates:
        match = lexicons.ESCALATION.search(t.expected)
        fire(
            "did_not_escalate",
            "procedure",
            0.55,
            f"the expected answer escalates or refers ('{_quote(match.group(0), 20)}'); "  # type: ignore[union-attr]
            "the output does not",
        )
    refuses = re.search(
        r"\b(?:i can(?:'|no)t|i'm not able to|i am not able to|i'm unable to)\b", t.expected, re.I
    )
    feats["expected_declines"] = float(bool(refuses) and has_expected)
    if refuses and has_expected and not re.search(r"\bcan(?:'|no)t\b|\bunable\b", t.output, re.I):
        fire(
            "should_decline",
            "procedure",
            0.35,
            f"the expected answer declines ('{_quote(refuses.group(0), 20)}'); the output complies",
        )
