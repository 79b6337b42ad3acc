"""Teams and their API keys. Keys are random 256-bit secrets stored as sha256 hashes."""

from __future__ import annotations

import hashlib
import logging
import queue
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload, make_transient_to_detached

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
    identities.forget(key_id=record.id)
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


AUTH_TTL_S = 5.0


@dataclass(frozen=True)
class Identity:
    """Who a live API key speaks for: what a request needs of its key and team."""

    key_id: str
    key_name: str
    team_id: str
    team_name: str
    team_created_at: datetime

    @property
    def actor(self) -> str:
        return f"{self.team_name}/{self.key_name}/{self.key_id}"

    def team(self) -> Team:
        """The team as a detached ORM object of its own (no session, no query)."""
        team = Team(id=self.team_id, name=self.team_name, created_at=self.team_created_at)
        make_transient_to_detached(team)
        return team


class IdentityCache:
    """Keys verified in the last `ttl_s` seconds, so that a request does not query its key.

    A revocation through `revoke_key` in this process is seen at once; one made elsewhere
    (another process, the CLI) within `ttl_s`. Only live keys are remembered: an unknown or
    revoked key is looked up every time."""

    def __init__(self, ttl_s: float = AUTH_TTL_S, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[tuple[str, str], tuple[float, Identity]] = {}
        self._lock = threading.Lock()

    def get(self, url: str, key_hash: str) -> Identity | None:
        entry = self._entries.get((url, key_hash))
        if entry is None or time.monotonic() - entry[0] > self.ttl_s:
            return None
        return entry[1]

    def put(self, url: str, key_hash: str, identity: Identity) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[(url, key_hash)] = (time.monotonic(), identity)

    def forget(self, *, key_id: str) -> None:
        with self._lock:
            for name in [k for k, (_, i) in self._entries.items() if i.key_id == key_id]:
                del self._entries[name]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


identities = IdentityCache()


def cached_identity(url: str, *, key: str | None) -> Identity | None:
    """The identity of `key` if it was verified within the cache's TTL (no database work)."""
    return identities.get(url, hash_key(key)) if key else None


def verify_key(url: str, *, key: str | None) -> Identity:
    """Look the key up (one query: key and team) and remember it; AuthError as `authenticate`."""
    with session_scope(url) as session:
        record = authenticate(session, key=key)
        identity = Identity(
            key_id=record.id,
            key_name=record.name,
            team_id=record.team_id,
            team_name=record.team.name,
            team_created_at=record.team.created_at,
        )
    identities.put(url, hash_key(key or ""), identity)
    return identity


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
