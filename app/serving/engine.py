"""The model server's engines: Rung's batching engine (default) over the shared generation module.

Generation itself lives in `recipes.generation` (one module for recipes, judges and this server);
`recipes.batching.BatchingEngine` groups concurrent requests into shared ``generate`` calls.
`as_batching` gives the server a BatchingEngine whatever it was handed.
"""

from __future__ import annotations

from recipes.batching import BatchingEngine, Delta, PendingGeneration
from recipes.generation import (
    BASE_ALIAS,
    BadRequestError,
    Choice,
    GenerationEngine,
    GenerationOutput,
    ServingError,
    UnknownModelError,
)

__all__ = [
    "BASE_ALIAS",
    "BadRequestError",
    "BatchingEngine",
    "Choice",
    "Delta",
    "GenerationEngine",
    "GenerationOutput",
    "PendingGeneration",
    "ServingError",
    "UnknownModelError",
    "as_batching",
]


def as_batching(engine: GenerationEngine | BatchingEngine) -> BatchingEngine:
    """``engine`` itself when it batches already, else a BatchingEngine over it."""
    return engine if isinstance(engine, BatchingEngine) else BatchingEngine(engine)
