"""Typed errors raised by recipes.

A job runner decides what to do from the type alone:

* `RecipeConfigError` - the user asked for something invalid. Never retry; show the message.
* `RecipeEnvironmentError` - this worker cannot run the recipe (no GPU, missing package or model).
  Not retryable here; another worker (e.g. queue ``gpu``) may succeed.
* `RecipeRuntimeError` - the run failed while working; ``retryable`` says whether trying again
  (e.g. from the last checkpoint) can help.
* `RecipeCancelledError` - ``should_stop()`` returned True; ``checkpoint_dir`` is where a resumed
  job continues from, when one was saved.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class RecipeError(Exception):
    """Base class of every error a recipe raises on purpose."""

    retryable: bool = False


class RecipeConfigError(RecipeError, ValueError):
    """A config value, a data row or an argument is invalid: a user error, never retried."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownConfigKeyError(RecipeConfigError):
    """A config key that the recipe's config class does not have."""

    def __init__(self, key: str, *, config_name: str, valid_keys: Iterable[str]) -> None:
        self.key = key
        self.valid_keys = sorted(valid_keys)
        super().__init__(
            f"unknown key {key!r} for {config_name}; valid keys: {', '.join(self.valid_keys)}",
            field=key,
        )


class RecipeEnvironmentError(RecipeError):
    """This machine cannot run the recipe (no GPU, missing package or model): not retryable here."""


class RecipeRuntimeError(RecipeError):
    """The recipe failed while running. ``retryable`` tells whether a retry can succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class RecipeCancelledError(RecipeError):
    """The caller's ``should_stop()`` asked the recipe to stop; not an error to retry."""

    def __init__(self, message: str, *, checkpoint_dir: Path | None = None) -> None:
        super().__init__(message)
        self.checkpoint_dir = checkpoint_dir
