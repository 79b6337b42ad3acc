"""Small, explainable text measurements used by the triage signals.

Everything here is pure, deterministic and offline: fact extraction (numbers, dates, codes,
named entities), structure detection (JSON, YAML, CSV, bullets, tables, code fences), a
stopword-based language guess, and surface style markers (emoji, apologies, long words).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

_MONTHS = {
    "jan": "01", "january": "01", "feb": "02", "february": "02", "mar": "03", "march": "03",
    "apr": "04", "april": "04", "may": "05", "jun": "06", "june": "06", "jul": "07",
    "july": "07", "aug": "08", "august": "08", "sep": "09", "sept": "09", "september": "09",
    "oct": "10", "october": "10", "nov": "11", "november": "11", "dec": "12", "december": "12",
}  # fmt: skip
_WEEKDAYS = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun",
}  # fmt: skip
_NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "fifteen": "15", "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50",
    "sixty": "60", "ninety": "90", "hundred": "100", "once": "1", "twice": "2",
    "half": "0.5", "single": "1", "double": "2",
}  # fmt: skip


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS_EN = _wordset(
    "a an the and or but if then than so of to in on at by for with from into onto "
    "over under is are was were be been being am do does did done have has had "
    "having will would shall should can could may might must it its this that these "
    "those there here i me my we our us you your he she his her they them their "
    "what which who whom whose when where why how not no yes as about up out just "
    "also only very too more most some any all each other such own same again get "
    "got please thanks thank hi hello ok okay sure let lets s t d ll re ve "
)

_LANGUAGE_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _wordset(
        "the and is are to of in for you your with that this it on be what how was were "
        "have has will would should can not from at by an or we they our "
    ),
    "fr": _wordset(
        "le la les des est et pour vous votre vos avec une un du dans que qui pas sur "
        "au aux ce cette sont nous ne il elle mais ou être avez êtes "
    ),
    "de": _wordset(
        "der die das und ist nicht sie ihr mit für ein eine den dem zu auf auch wie ich "
        "wir sind haben bitte oder aber wird im vom "
    ),
    "es": _wordset(
        "el los las es y para usted su sus con una del que no por se como está son pero "
        "lo al muy también hay puede "
    ),
    "it": _wordset(
        "il lo gli è lei suo sua con una del di che non sono come della delle alla "
        "anche ma ci si questo "
    ),
    "pt": _wordset(
        "o os é para você seu sua com uma do da em que não por como são mas ao dos das "
        "também está isso "
    ),
    "nl": _wordset(
        "de het een en is van voor u uw met dat die niet op zijn te ik je wij er maar ook naar bij "
    ),
}

_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_NUMBER_RE = re.compile(r"(?<![\w.])[-+]?\d+(?:[.,]\d+)*(?:\.\d+)?")
_CODE_RE = re.compile(
    r"\b(?=[A-Za-z0-9_.-]*\d)(?=[A-Za-z0-9_.-]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9_.-]*\b"
)
_CAP_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-zA-Z]+(?:[-\s][A-Z][a-zA-Z]+)*)")
_TIME_RE = re.compile(
    r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)(?![a-z])|\b(?<![\d.,])(\d{1,2}):(\d{2})\b",
    re.IGNORECASE,
)
_EMOJI_RE = re.compile(
    "[\U0001f300-\U0001faff\U00002600-\U000027bf\U0001f000-\U0001f2ff\U0001f900-\U0001f9ff]"
)
_BULLET_RE = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+", re.MULTILINE)
_HEADING_RE = re.compile(r"^\s*(?:#{1,6}\s+\S|[A-Z][A-Za-z ]{1,30}:\s*$)", re.MULTILINE)
_TABLE_RE = re.compile(r"^\s*\|.*\|\s*$", re.MULTILINE)
_FENCE_RE = re.compile(r"```")
_YAML_LINE_RE = re.compile(r"^\s*[A-Za-z_][\w-]*:\s+\S", re.MULTILINE)
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")
_ARABIC_RE = re.compile(r"[\u0600-\u06ff]")
_GREEK_RE = re.compile(r"[\u0370-\u03ff]")


def words(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return [w.lower().replace("’", "'") for w in _WORD_RE.findall(text or "")]


def content_words(text: str) -> set[str]:
    """Words that carry meaning: no stopwords, no pure numbers, light plural stemming."""
    out: set[str] = set()
    for word in words(text):
        if word in _STOPWORDS_EN or word.isdigit() or len(word) < 2:
            continue
        out.add(stem(word))
    return out


def stem(word: str) -> str:
    """A deliberately crude stemmer: enough to match 'days'/'day', 'applied'/'apply'."""
    for suffix in ("ings", "ing", "ied", "ies", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _normalise_number(token: str) -> str:
    token = token.lstrip("+")
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", token):
        token = token.replace(",", "")
    token = token.replace(",", ".")
    if re.fullmatch(r"-?\d+\.\d+", token):
        token = token.rstrip("0").rstrip(".")
    if re.fullmatch(r"-?0\d+", token):
        token = str(int(token))
    return token


@dataclass(frozen=True)
class Facts:
    """The checkable facts of a text."""

    numbers: frozenset[str]
    dates: frozenset[str]
    codes: frozenset[str]
    entities: frozenset[str]

    @property
    def all(self) -> frozenset[str]:
        return self.numbers | self.dates | self.codes | self.entities

    def __len__(self) -> int:
        return len(self.all)


@lru_cache(maxsize=4096)
def extract_facts(text: str) -> Facts:
    """Numbers, months/weekdays, identifier-like codes and capitalised entities of `text`."""
    text = text or ""
    times: set[str] = set()

    def _time(match: re.Match[str]) -> str:
        hour = int(match.group(1) or match.group(4))
        minute = int(match.group(2) or match.group(5) or 0)
        suffix = (match.group(3) or "").lower().replace(".", "")
        if suffix == "pm" and hour < 12:
            hour += 12
        elif suffix == "am" and hour == 12:
            hour = 0
        if hour <= 24 and minute < 60:
            times.add(f"time:{hour:02d}:{minute:02d}")
        return " "

    numeric_text = _TIME_RE.sub(_time, text)
    numbers: set[str] = set()
    for match in _NUMBER_RE.finditer(numeric_text):
        numbers.add(_normalise_number(match.group(0)))
    for word in words(text):
        if word in _NUMBER_WORDS:
            numbers.add(_NUMBER_WORDS[word])
    dates: set[str] = set()
    for word in words(text):
        if word in _MONTHS and (
            word != "may" or re.search(r"\b\d{1,2}\s+may\b|\bmay\s+\d", text, re.I)
        ):
            dates.add("month:" + _MONTHS[word])
        elif word in _WEEKDAYS:
            dates.add("day:" + word[:3])
    codes = {
        m.group(0).lower().strip(".-")
        for m in _CODE_RE.finditer(text)
        if not re.fullmatch(r"[\d.,]+[a-z]{0,3}", m.group(0).lower())
    }
    entities: set[str] = set()
    for sentence in re.split(r"(?<=[.!?:\n])\s+", text):
        sentence = sentence.lstrip("¿¡\"'([-*•# \t")
        for match in _CAP_RE.finditer(sentence):
            name = match.group(1).lower()
            if len(name) <= 2 or name in _MONTHS or name in _WEEKDAYS or name in _STOPWORDS_EN:
                continue
            entities.add(name)
    dates |= times
    return Facts(frozenset(numbers), frozenset(dates), frozenset(codes), frozenset(entities))


def fact_in_text(fact: str, text_facts: Facts, text_lower: str) -> bool:
    """Whether one fact of another text is present in this text."""
    if fact in text_facts.all:
        return True
    if fact.startswith(("month:", "day:", "time:")):
        return False
    if len(fact) > 2 and fact in text_lower:
        return True
    parts = fact.split()
    return len(parts) > 1 and all(
        re.search(rf"\b{re.escape(part)}\b", text_lower) for part in parts if len(part) > 2
    )


def parse_json(text: str) -> object | None:
    """The JSON value in `text` (bare or in a ```json fence), or None."""
    candidate = (text or "").strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", candidate, re.S)
    if fence:
        candidate = fence.group(1).strip()
    if not candidate or candidate[0] not in "[{":
        return None
    try:
        value = json.loads(candidate)
    except ValueError:
        return None
    return value if isinstance(value, dict | list) else None


def looks_like_json(text: str) -> bool:
    """Starts like a JSON object/array (valid or not)."""
    stripped = (text or "").strip().lstrip("`").removeprefix("json").strip()
    return bool(stripped) and stripped[0] in "[{" and stripped.rstrip("`").strip()[-1:] in "]}"


def json_keys(value: object) -> set[str]:
    if isinstance(value, dict):
        keys = set(value)
        for inner in value.values():
            keys |= json_keys(inner)
        return keys
    if isinstance(value, list):
        keys: set[str] = set()
        for inner in value:
            keys |= json_keys(inner)
        return keys
    return set()


@dataclass(frozen=True)
class Structure:
    """Surface structure of a text."""

    is_json: bool
    looks_json: bool
    bullets: int
    headings: int
    table_rows: int
    fences: int
    yaml_lines: int
    csv_like: bool
    lines: int
    chars: int
    words: int


def structure(text: str) -> Structure:
    text = text or ""
    lines = [line for line in text.splitlines() if line.strip()]
    comma_lines = [line for line in lines if line.count(",") >= 2 and "|" not in line]
    csv_like = (
        len(lines) >= 2
        and len(comma_lines) == len(lines)
        and len({line.count(",") for line in comma_lines}) == 1
    )
    return Structure(
        is_json=parse_json(text) is not None,
        looks_json=looks_like_json(text),
        bullets=len(_BULLET_RE.findall(text)),
        headings=len(_HEADING_RE.findall(text)),
        table_rows=len(_TABLE_RE.findall(text)),
        fences=len(_FENCE_RE.findall(text)) // 2,
        yaml_lines=len(_YAML_LINE_RE.findall(text)),
        csv_like=csv_like,
        lines=len(lines),
        chars=len(text),
        words=len(words(text)),
    )


def guess_language(text: str) -> str | None:
    """A two-letter language guess from stopwords and script; None when too short to tell."""
    text = text or ""
    if len(_CJK_RE.findall(text)) >= 2:
        return "cjk"
    if len(_CYRILLIC_RE.findall(text)) >= 4:
        return "ru"
    if len(_ARABIC_RE.findall(text)) >= 4:
        return "ar"
    if len(_GREEK_RE.findall(text)) >= 4:
        return "el"
    tokens = words(text)
    if len(tokens) < 6:
        return None
    scores = {
        lang: sum(1 for t in tokens if t in stop) for lang, stop in _LANGUAGE_STOPWORDS.items()
    }
    best = max(scores, key=lambda lang: scores[lang])
    ranked = sorted(scores.values(), reverse=True)
    if ranked[0] < 3 or ranked[0] < 1.5 * ranked[1]:
        return None
    return best


@dataclass(frozen=True)
class StyleMarkers:
    emoji: int
    exclamations: int
    apologies: int
    long_word_ratio: float
    avg_sentence_words: float
    slang: int
    ai_disclaimer: bool
    questions: int
    caps_words: int


_APOLOGY_RE = re.compile(r"\b(sorry|apolog\w*|regret)\b", re.I)
_SLANG_RE = re.compile(
    r"\b(lol|lmao|yep|yeah|nah|gonna|wanna|gotta|btw|omg|dude|buddy|mate|no worries|cool|"
    r"awesome|super easy|u|ur|pls|thx)\b",
    re.I,
)
_AI_RE = re.compile(r"\b(as an ai|language model|i am an ai|i'm an ai|as a chatbot)\b", re.I)


def style_markers(text: str) -> StyleMarkers:
    text = text or ""
    tokens = words(text)
    sentences = [s for s in re.split(r"[.!?]+(?:\s|$)", text) if s.strip()]
    long_words = [t for t in tokens if len(t) >= 10]
    return StyleMarkers(
        emoji=len(_EMOJI_RE.findall(text)),
        exclamations=text.count("!"),
        apologies=len(_APOLOGY_RE.findall(text)),
        long_word_ratio=len(long_words) / len(tokens) if tokens else 0.0,
        avg_sentence_words=len(tokens) / len(sentences) if sentences else 0.0,
        slang=len(_SLANG_RE.findall(text)),
        ai_disclaimer=bool(_AI_RE.search(text)),
        questions=text.count("?"),
        caps_words=len(re.findall(r"\b[A-Z]{4,}\b", text)),
    )


def fuzzy_contains_word(text_words: list[str], targets: frozenset[str]) -> str | None:
    """The first target word present in `text_words`, allowing one typo in words of 6+ letters."""
    for word in text_words:
        if word in targets:
            return word
    for word in text_words:
        if len(word) < 6:
            continue
        for target in targets:
            if (
                len(target) >= 6
                and abs(len(target) - len(word)) <= 1
                and Levenshtein.distance(word, target, score_cutoff=1) <= 1
            ):
                return target
    return None


def jaccard(left: set[str], right: set[str]) -> float:
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)
