"""Format signals: JSON, layout, length limits, extra prose and the language of the reply."""

from __future__ import annotations

import re

from app.triage import lexicons
from app.triage.signals.common import CaseTexts, Features, FireFn, capped, non_ascii_share
from app.triage.signals.weights import W
from app.triage.signals.wording import LANGUAGE_NAMES, language_name
from app.triage.text_facts import (
    Structure,
    extract_facts,
    guess_language,
    json_keys,
    looks_like_json,
    parse_json,
    structure,
)

LANGUAGE_CODES = {
    "english": "en", "french": "fr", "german": "de", "spanish": "es", "italian": "it",
    "portuguese": "pt", "dutch": "nl", "russian": "ru", "arabic": "ar", "greek": "el",
    "chinese": "cjk", "japanese": "cjk", "korean": "cjk", "mandarin": "cjk", "cantonese": "cjk",
}  # fmt: skip
REQUESTED_LANGUAGE = re.compile(
    r"\b(?:in|into|to)\s+(english|french|german|spanish|italian|portuguese|dutch|russian|arabic|"
    r"greek|chinese|japanese|korean|mandarin|cantonese|vietnamese|polish|turkish|hindi|thai|"
    r"swedish|norwegian|danish|finnish|czech|romanian|hungarian|ukrainian|indonesian|tagalog|"
    r"hebrew|persian|farsi|urdu|bengali|swahili)\b",
    re.IGNORECASE,
)
_LOCALE = re.compile(r"^([a-z]{2})(?:[-_][A-Za-z]{2})?$")
_ONLY_THE_ANSWER = re.compile(
    r"\b(?:only|just|nothing else|no (?:extra|other) (?:text|words)|exactly)\b", re.I
)
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")


def language_of_locale(metadata_text: str) -> str | None:
    for token in metadata_text.split():
        match = _LOCALE.match(token)
        if match and match.group(1) in LANGUAGE_NAMES:
            return match.group(1)
    return None


def format_signals(t: CaseTexts, feats: Features, fire: FireFn) -> None:
    has_expected = t.has_expected
    output_shape, expected_shape = structure(t.output), structure(t.expected)
    output_json = parse_json(t.output)
    expected_json = parse_json(t.expected) if has_expected else None
    requested = lexicons.FORMAT_REQUEST.findall(t.input)
    feats["input_format_request"] = capped(len(requested), 3)
    asks_json = bool(re.search(r"\bjson\b", t.input, re.I))
    feats["expected_json"] = float(expected_json is not None)
    feats["output_json"] = float(output_json is not None)
    feats["output_broken_json"] = float(output_json is None and looks_like_json(t.output))
    if (expected_json is not None or asks_json) and output_json is None:
        if looks_like_json(t.output):
            fire(
                "invalid_json",
                "format",
                W.invalid_json,
                "the output looks like JSON but does not parse",
            )
        else:
            what = "expected is JSON" if expected_json is not None else "the input asks for JSON"
            fire(
                "json_expected_prose_given",
                "format",
                W.json_expected_prose_given,
                f"{what}, output is prose",
            )
    if expected_json is not None and output_json is not None:
        expected_keys, output_keys = json_keys(expected_json), json_keys(output_json)
        if expected_keys != output_keys:
            diff = sorted(expected_keys - output_keys)[:3]
            fire(
                "json_keys_differ",
                "format",
                W.json_keys_differ,
                f"JSON keys differ from the expected schema (missing {', '.join(diff) or '-'})",
            )
    mismatches = layout_mismatches(
        t,
        output_shape,
        expected_shape,
        output_is_json=output_json is not None,
        expected_is_json=expected_json is not None,
    )
    feats["structure_mismatch"] = capped(len(mismatches), 2)
    if mismatches:
        fire("structure_mismatch", "format", W.structure_mismatch, mismatches[0])
    _length_limit_signal(t, output_shape, feats, fire)
    _extra_prose_signal(t, output_shape, expected_shape, feats, fire)
    _language_signals(t, output_shape, feats, fire)

    # Same content, different surface form (dates, units, wrapper text).
    if has_expected and output_shape.words <= W.same_form_max_ratio * max(expected_shape.words, 1):
        output_facts, expected_facts = extract_facts(t.output), extract_facts(t.expected)
        same_numbers = output_facts.numbers == expected_facts.numbers and bool(
            expected_facts.numbers
        )
        if same_numbers and t.output.strip() != t.expected.strip() and not mismatches:
            feats["same_values_different_form"] = 1.0
    feats.setdefault("same_values_different_form", 0.0)


def layout_mismatches(
    t: CaseTexts,
    out: Structure,
    exp: Structure,
    *,
    output_is_json: bool,
    expected_is_json: bool,
) -> list[str]:
    """Structure requested or shown by the expected answer, not followed by the output."""
    mismatches: list[str] = []
    if t.has_expected:
        if exp.bullets >= 2 and out.bullets == 0:
            mismatches.append(f"expected has {exp.bullets} list items, the output none")
        if exp.headings >= 2 and out.headings < exp.headings / 2:
            mismatches.append("expected has section headings, the output does not")
        if exp.csv_like and not out.csv_like:
            mismatches.append("expected is CSV, the output is not")
        if exp.table_rows >= 2 and out.table_rows == 0:
            mismatches.append("expected is a table, the output is not")
        if out.table_rows >= 2 and exp.table_rows == 0:
            mismatches.append("the output is a markdown table, expected is not")
        if exp.yaml_lines >= 2 and not expected_is_json and output_is_json:
            mismatches.append("expected is YAML, the output is JSON")
        if out.fences and not exp.fences and exp.lines <= 2:
            mismatches.append("the output wraps a one-line answer in a code block with prose")
        if exp.lines >= 2 and out.lines == 1 and exp.lines >= 3 and out.words > 20:
            mismatches.append(f"expected is laid out on {exp.lines} lines, the output is one block")
    if (
        re.search(r"\bbullet|\bnumbered list|\blist\b", t.input, re.I)
        and out.bullets == 0
        and out.lines <= 2
        and out.words > 25
    ):
        mismatches.append("the input asks for a list, the output is a paragraph")
    if re.search(r"\bcsv\b", t.input, re.I) and not out.csv_like:
        mismatches.append("the input asks for CSV, the output is not CSV")
    if re.search(r"\byaml\b", t.input, re.I) and output_is_json:
        mismatches.append("the input asks for YAML, the output is JSON")
    return mismatches


def _length_limit_signal(t: CaseTexts, out: Structure, feats: Features, fire: FireFn) -> None:
    limit = lexicons.LENGTH_LIMIT.search(t.input)
    over_limit = False
    if limit:
        number = int(limit.group(1) or limit.group(3) or limit.group(5))
        unit = (limit.group(2) or limit.group(4) or "").lower()
        if not unit:
            unit = "characters" if number >= W.length_limit_chars_from else "items"
        if unit.startswith("char"):
            actual = out.chars
        elif unit == "words":
            actual = out.words
        elif unit in {"lines", "bullets", "items", "points"}:
            actual = max(out.lines, out.bullets)
        else:
            actual = len([s for s in _SENTENCE_END.split(t.output) if s.strip()])
        over_limit = actual > number
        if over_limit:
            fire(
                "over_length_limit",
                "format",
                W.over_length_limit,
                f"the input sets a limit of {number} {unit}; the output has {actual}",
            )
    feats["over_length_limit"] = float(over_limit)


def _extra_prose_signal(
    t: CaseTexts, out: Structure, exp: Structure, feats: Features, fire: FireFn
) -> None:
    only = _ONLY_THE_ANSWER.search(t.input)
    extra_prose = bool(
        only
        and t.has_expected
        and out.words > W.extra_prose_ratio * max(exp.words, 1) + W.extra_prose_slack
    )
    feats["only_requested_extra_prose"] = float(extra_prose)
    if only and extra_prose:
        fire(
            "extra_prose",
            "format",
            W.extra_prose,
            f"the input asks for '{only.group(0)}' the answer; the output adds prose around it",
        )


def _language_signals(t: CaseTexts, out: Structure, feats: Features, fire: FireFn) -> None:
    """The reply's language against the expected answer's, the input's or the locale's."""
    output_language = guess_language(t.output)
    want = guess_language(t.expected) if t.has_expected else None
    basis = "expected"
    if want is None:
        want, basis = guess_language(t.input), "input"
    if want is None:
        want, basis = language_of_locale(t.metadata_text), "locale"
    mismatch = bool(output_language and want and output_language != want)
    if mismatch and output_language and want:
        fire(
            "language_mismatch",
            "format",
            W.language_mismatch,
            f"the {basis} is {language_name(want)}, the output is {language_name(output_language)}",
        )
    requested = REQUESTED_LANGUAGE.search(t.input)
    if not mismatch and requested and requested.group(1).lower() != "english":
        target = requested.group(1).lower()
        code = LANGUAGE_CODES.get(target)
        wrong = output_language is not None and output_language != code
        if code is None or code in {"ru", "ar", "el", "cjk"} or target not in LANGUAGE_CODES:
            wrong = wrong or (output_language == "en")
        latin_only = non_ascii_share(t.output) < W.ascii_only_share
        if wrong or (
            output_language is None and latin_only and out.words >= W.min_words_for_language
        ):
            mismatch = True
            fire(
                "requested_language_not_used",
                "format",
                W.requested_language,
                f"the input asks for {target.title()}, the output is not in {target.title()}",
            )
    if (
        not mismatch
        and t.has_expected
        and non_ascii_share(t.expected) >= W.expected_non_ascii_share
        and non_ascii_share(t.output) < W.output_non_ascii_share
        and out.words >= W.min_words_for_language
    ):
        mismatch = True
        fire(
            "script_mismatch",
            "format",
            W.script_mismatch,
            "the expected answer is written in another language/script than the output",
        )
    feats["language_mismatch"] = float(mismatch)
