"""Obvious personal data in training text: e-mail addresses, phone numbers, payment card numbers.

Deliberately conservative ("obvious"): a phone number needs 10-15 digits written with a leading
``+`` or with separators; a card number needs 13-19 digits that pass the Luhn check.
"""

from __future__ import annotations

import re

EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"
)
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
PHONE = re.compile(
    r"(?<![\w+])(?:\+\d[\d ().-]{8,20}\d"
    r"|\(?\d{2,4}\)?[ .-]\d{2,4}[ .-]\d{3,4}(?:[ .-]\d{2,4})?)(?!\w)"
)

_LONG_NUMBER = re.compile(r"\d(?:[ ().+-]{0,2}\d){9}")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum that payment card numbers satisfy."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def find_pii(text: str) -> list[str]:
    """The kinds of personal data found in ``text``: a subset of email, phone, card."""
    found: list[str] = []
    if "@" in text and EMAIL.search(text):
        found.append("email")
    cards: set[str] = set()
    if not _LONG_NUMBER.search(text):  # no run of 10+ digits: no card and no phone number
        return found
    for match in CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            cards.add(digits)
    if cards:
        found.append("card")
    for match in PHONE.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 10 <= len(digits) <= 15 and digits not in cards:
            found.append("phone")
            break
    return found
