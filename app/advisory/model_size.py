"""A base model's size in billions of parameters, for the memory advice."""

from __future__ import annotations

import re

_SIZE = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)\s*([mb])(?![a-z])", re.IGNORECASE)


def params_b_from_name(name: str | None) -> float | None:
    """Read the size that model names carry: `SmolLM2-135M` -> 0.135, `Llama-3.1-8B` -> 8.0.

    Names without a size (or a local path without one) give None, and the advice then says the
    fit could not be checked instead of guessing.
    """
    if not name:
        return None
    sizes = [
        float(number) / (1000.0 if unit.lower() == "m" else 1.0)
        for number, unit in _SIZE.findall(name.rsplit("/", 1)[-1])
    ]
    return max(sizes) if sizes else None
