"""Fixtures for the recipe tests: SmolLM2 for the slow tests (the tiny model and the offline
settings come from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """The offline SmolLM2-135M-Instruct folder (converted once per machine, ~40 s at first)."""
    from recipes.base_models import prepare_default_model

    return prepare_default_model()
