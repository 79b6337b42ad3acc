"""Typed errors of the eval package. Every message says what to fix."""

from __future__ import annotations


class EvalError(Exception):
    """Base class of every error raised by `evals`."""


class DatasetError(EvalError):
    """A dataset file is missing, is not JSONL, or holds an invalid example."""


class ResultsFileError(EvalError):
    """A run result file is missing or is not a valid result JSON."""


class PolicyError(EvalError):
    """A gate policy file is missing or invalid."""


class GateInputError(EvalError):
    """Two runs cannot be compared (for example they share no example ids)."""


class ScorerError(EvalError):
    """A scorer name is unknown or its parameters are invalid."""


class SolverError(EvalError):
    """The candidate could not be called at all (for example the endpoint is down)."""
