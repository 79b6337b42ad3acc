"""Data helpers for the recipe tests."""

from __future__ import annotations


def yes_rows(n: int, answer: str = "yes ok") -> list[dict]:
    """SFT rows whose answer is always the same: trivially learnable."""
    return [
        {
            "messages": [
                {"role": "user", "content": f"question {i}?"},
                {"role": "assistant", "content": answer},
            ]
        }
        for i in range(n)
    ]
