"""Errors that domain code raises and the API turns into clear 4xx answers."""

from __future__ import annotations

from typing import Any


class RungError(Exception):
    """Base of all errors a user can act on. `status` is the HTTP status the API answers with."""

    status: int = 400

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


class NotFoundError(RungError):
    status = 404


class ConflictError(RungError):
    status = 409


class InvalidInputError(RungError):
    status = 422


class PayloadTooLargeError(RungError):
    status = 413


class AuthError(RungError):
    status = 401


class ServiceUnavailableError(RungError):
    status = 503
