"""Fixtures for the triage tests: offline settings and one engine per session."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

from app.triage.embedding import Embedder, load_embedder
from app.triage.engine import TriageEngine, load_engine


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return load_embedder()


@pytest.fixture(scope="session")
def engine(embedder: Embedder) -> TriageEngine:
    del embedder
    return load_engine()
