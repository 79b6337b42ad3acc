"""Fixtures of the advisory tests; the cases themselves are in corpus.py."""

from __future__ import annotations

import os

import pytest

from .corpus import ALL_PAIRS, Pair

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def corpus() -> list[Pair]:
    """Thirty triaged failure cases of one company's LLM applications (see corpus.py)."""
    return list(ALL_PAIRS)
