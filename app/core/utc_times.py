"""Date-times read from the database are UTC and say so.

Columns are ``DateTime(timezone=True)``; PostgreSQL hands them back with their offset, SQLite
without one. The API documents (and clients parse) RFC 3339 date-times with an offset, so every
naive value an ORM object is loaded or refreshed with is marked UTC, which is what was stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.orm import attributes

from app.db import Base

_installed = False


def _mark_utc(target: Any, *_: Any) -> None:
    for prop in target.__mapper__.column_attrs:
        column = prop.columns[0]
        if not isinstance(getattr(column, "type", None), DateTime):
            continue
        value = target.__dict__.get(prop.key)
        if isinstance(value, datetime) and value.tzinfo is None:
            attributes.set_committed_value(target, prop.key, value.replace(tzinfo=UTC))


def install() -> None:
    """Listen to every mapped class's load and refresh (once per process)."""
    global _installed
    if _installed:
        return
    event.listen(Base, "load", _mark_utc, propagate=True)
    event.listen(Base, "refresh", _mark_utc, propagate=True)
    _installed = True
