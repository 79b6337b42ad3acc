"""Teams and their API keys. Keys are random 256-bit secrets stored as sha256 hashes."""

from __future__ import annotations

import hashlib
import logging
import queue
import re
import secrets
import threading
import time

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from app.core.errors import AuthError, ConflictError, InvalidInputError, NotFoundError
from app.db import session_scope, utcnow
from app.teams.models import ApiKey, Team

logger = logging.getLogger(__name__)

KEY_PREFIX = "rk_"
TEAM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_team(session: Session, *, name: str) -> tuple[Team, str]:
    """Create a team and its first key; returns the team and the key (shown once)."""
    if not TEAM_NAME.match(name):
        raise InvalidInputError(
            f"team name {name!r} is not valid: use 1-64 lowercase letters, digits, '-' or '_'"
        )
    if session.scalar(select(Team).where(Team.name == name)):
        raise ConflictError(f"team {name!r} already exists")
    team = Team(name=name)
    session.add(team)
    session.flush()
    _, key = create_key(session, team=team, name="default")
    return team, key


def get_team(session: Session, *, name: str) -> Team:
    team = session.scalar(select(Team).where(Team.name == name))
    if team is None:
        raise NotFoundError(f"no team named {name!r}; `rung teams list` shows the teams")
    return team


def list_teams(session: Session) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.name)))


def create_key(session: Session, *, team: Team, name: str = "default") -> tuple[ApiKey, str]:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(team_id=team.id, name=name, prefix=key[:10], key_hash=hash_key(key))
    session.add(record)
    session.flush()
    return record, key


def list_keys(session: Session, *, team: Team) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.team_id == team.id).order_by(ApiKey.created_at)
    return list(session.scalars(stmt))


def revoke_key(session: Session, *, team: Team, key_id: str) -> ApiKey:
    record = session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.team_id == team.id))
    if record is None:
        raise NotFoundError(f"no key {key_id!r} in team {team.name!r}")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
    return record


def authenticate(session: Session, *, key: str | None) -> ApiKey:
    """The live key record for a bearer key; AuthError when missing, unknown or revoked."""
    if not key:
        raise AuthError("missing API key: send 'Authorization: Bearer <key>' (`rung teams create`)")
    record = session.scalar(
        select(ApiKey).options(joinedload(ApiKey.team)).where(ApiKey.key_hash == hash_key(key))
    )
    if record is None:
        raise AuthError("unknown API key")
    if record.revoked_at is not None:
        raise AuthError("this API key was revoked; ask for a new one with `rung teams keys create`")
    return record


USAGE_INTERVAL_S = 60.0


class KeyUsageRecorder:
    """Records `api_keys.last_used_at` at most once a minute per key, from a background thread,
    so that no request writes (or waits on) the key row."""

    def __init__(self, interval_s: float = USAGE_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._last: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, str]] = queue.Queue()
        self._thread: threading.Thread | None = None

    def note(self, url: str, *, key_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get((url, key_id))
            if last is not None and now - last < self.interval_s:
                return
            self._last[(url, key_id)] = now
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="rung-key-usage", daemon=True
                )
                self._thread.start()
        self._queue.put((url, key_id))

    def _run(self) -> None:
        while True:
            url, key_id = self._queue.get()
            try:
                with session_scope(url, write=True) as session:
                    session.execute(
                        update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow())
                    )
            except Exception as exc:  # best effort: usage is information, not state
                logger.warning("could not record the use of key %s: %s", key_id, exc)
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Wait until every noted use is written (tests)."""
        self._queue.join()


usage = KeyUsageRecorder()


def note_key_used(url: str, *, key_id: str) -> None:
    usage.note(url, key_id=key_id)
