"""Lazy access to ragas metrics (importing ragas takes seconds, so only scorers that use it pay).

Telemetry is switched off before ragas is first imported (RAGAS_DO_NOT_TRACK=true).
"""

from __future__ import annotations

import importlib
import os
import warnings
from functools import cache
from types import ModuleType


@cache
def ragas_module(name: str) -> ModuleType:
    """Import ``name`` (a ragas module) with telemetry off and its deprecation noise muted."""
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module(name)
