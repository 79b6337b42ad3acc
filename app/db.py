"""Database engine, sessions and the declarative base."""

from __future__ import annotations

import fcntl
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from app.core.errors import ServiceUnavailableError

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True)}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """Opaque, unguessable ids: `cas_3f9a...`."""
    return f"{prefix}_{uuid.uuid4().hex}"


class WriteQueueFullError(ServiceUnavailableError):
    """Too many writes are waiting for SQLite's single writer: answer 503 with Retry-After."""

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WriteGate:
    """SQLite has one writer at a time; writers take turns through one lock instead of letting
    them collide inside SQLite ("database is locked"): a thread lock within this process, then
    (with `lock_path`) an exclusive `flock` on a file beside the database, which the processes
    of `rung serve --workers N` and the triage worker share. At most `max_waiting` writers
    queue in a process, each for at most `max_wait_s` in all; beyond that the write is refused
    (503, nothing stored)."""

    def __init__(
        self, *, max_waiting: int = 128, max_wait_s: float = 15.0, lock_path: Path | None = None
    ) -> None:
        self.max_waiting = max_waiting
        self.max_wait_s = max_wait_s
        self.lock_path = lock_path
        self._lock = threading.Lock()
        self._count = threading.Lock()
        self._fd: int | None = None
        self.waiting = 0

    def _busy(self) -> WriteQueueFullError:
        return WriteQueueFullError(
            f"the database was busy with other writes for {self.max_wait_s:g} s; nothing "
            "was stored: retry after the Retry-After seconds",
            retry_after=2,
        )

    def acquire(self) -> None:
        deadline = time.monotonic() + self.max_wait_s
        with self._count:
            if self.waiting >= self.max_waiting:
                raise WriteQueueFullError(
                    f"{self.waiting} writes are already queued for the database; nothing was "
                    "stored: retry after the Retry-After seconds"
                )
            self.waiting += 1
        try:
            if not self._lock.acquire(timeout=self.max_wait_s):
                raise self._busy()
        finally:
            with self._count:
                self.waiting -= 1
        try:
            self._lock_file(deadline)
        except BaseException:
            self._lock.release()
            raise

    def _lock_file(self, deadline: float) -> None:
        """The other processes' turn: poll a non-blocking flock (a short sleep between tries,
        so a waiter notices a release within milliseconds, and gives up at the deadline)."""
        if self.lock_path is None:
            return
        if self._fd is None:
            self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        pause = 0.0005
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise self._busy() from None
                time.sleep(pause)
                pause = min(pause * 2, 0.004)

    def release(self) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._lock.release()


_gates: dict[str, WriteGate] = {}
_gates_lock = threading.Lock()
_HOLDS_GATE = "rung_write_gate"
_IMMEDIATE = "rung_immediate"


def write_gate(url: str) -> WriteGate:
    """The process-wide write gate of one SQLite database (shared with other processes through
    a lock file beside a database file)."""
    with _gates_lock:
        gate = _gates.get(url)
        if gate is None:
            path = url.split("///", 1)[-1]
            file = bool(path) and path != ":memory:" and "mode=memory" not in path
            lock = Path(path.split("?", 1)[0] + "-writer.lock") if file else None
            gate = _gates[url] = WriteGate(lock_path=lock)
        return gate


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # The driver's own transaction handling is off: `_sqlite_begin` emits BEGIN itself, so that
    # a writing transaction can start with BEGIN IMMEDIATE (it never fails later on upgrade).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a commit is durable once it returns against a process crash (kill -9);
    # only a power loss may lose the last transactions.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT", "CREATE", "DROP", "ALTER")


def _sqlite_events(engine: Engine, url: str) -> None:
    """A writing session (`write=True`) reads like any other until its first write; then it
    takes the write gate and turns its transaction into `BEGIN IMMEDIATE` (what it read so far
    stays valid: nothing was written yet). So the gate is held only from the first write to the
    commit, and a write never fails on a stale read snapshot ("database is locked")."""
    gate = write_gate(url)

    def begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    def before_execute(conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        # Every first write (gated or not) restarts the transaction as BEGIN IMMEDIATE: a read
        # snapshot upgraded to a write can fail at once with "database is locked" when another
        # connection wrote meanwhile; BEGIN IMMEDIATE waits (busy_timeout) instead.
        if conn.info.get(_HOLDS_GATE) or conn.info.get(_IMMEDIATE):
            return
        if not statement.lstrip()[:9].upper().startswith(_WRITES):
            return
        gated = bool(conn.get_execution_options().get("rung_write"))
        raw = conn.connection.dbapi_connection
        if raw.in_transaction:
            raw.execute("COMMIT")  # a read-only snapshot so far: nothing to lose
        try:
            if gated:
                gate.acquire()
        except BaseException:
            raw.execute("BEGIN")
            raise
        try:
            raw.execute("BEGIN IMMEDIATE")  # other processes: busy_timeout, then an error
        except BaseException:
            if gated:
                gate.release()
            raw.execute("BEGIN")
            raise
        conn.info[_HOLDS_GATE if gated else _IMMEDIATE] = True

    def end(conn: Connection, finish: str) -> None:
        conn.info.pop(_IMMEDIATE, None)
        if not conn.info.pop(_HOLDS_GATE, False):
            return
        try:  # finish here, so that the next writer starts only after this one is durable
            getattr(conn.connection.dbapi_connection, finish)()
        finally:
            gate.release()

    def release_on_checkin(_dbapi, record) -> None:  # type: ignore[no-untyped-def]
        record.info.pop(_IMMEDIATE, None)
        if record.info.pop(_HOLDS_GATE, False):
            gate.release()

    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", begin)
    event.listen(engine, "before_cursor_execute", before_execute)
    event.listen(engine, "commit", lambda conn: end(conn, "commit"))
    event.listen(engine, "rollback", lambda conn: end(conn, "rollback"))
    event.listen(engine.pool, "checkin", release_on_checkin)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for a URL; SQLite gets its folder created, WAL and a write gate.

    PostgreSQL: at most 10 + 20 connections per process (two CPUs gain nothing from more
    backends at once; a request waits for one at most 15 s, then 503), and no ping per checkout
    (a round trip on every request): a connection found dead (the server restarted) fails its
    request with a 503 + Retry-After and the pool drops every older connection."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if "poolclass" not in kwargs:  # connections are cheap; a reader never waits for one
            kwargs.update(pool_size=32, max_overflow=96, pool_timeout=15)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        _sqlite_events(engine, url)
        return engine
    if "poolclass" not in kwargs:
        kwargs.update(pool_size=10, max_overflow=20, pool_timeout=15, pool_recycle=1800)
    return create_engine(url, **kwargs)


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def _variant(url: str, name: str, **options: Any) -> Engine:
    engine = engine_for(url)
    variant = engine.__dict__.get(name)
    if variant is None:
        variant = engine.__dict__[name] = engine.execution_options(**options)
    return variant


def session_factory(
    url: str, *, write: bool = False, read_only: bool = False
) -> sessionmaker[Session]:
    """Sessions on a URL. `write=True` on SQLite: from its first write the transaction holds
    the write gate and SQLite's write lock (see `_sqlite_events`). `read_only=True` on
    PostgreSQL: autocommit, each SELECT one round trip with no BEGIN or COMMIT around it (each
    statement of a READ COMMITTED transaction sees its own snapshot anyway); for sessions that
    only read. One sessionmaker per kind (each makes a Session subclass: never one per call)."""
    if write and url.startswith("sqlite"):
        kind, options = "writer", {"rung_write": True}
    elif read_only and not url.startswith("sqlite"):
        kind, options = "reader", {"isolation_level": "AUTOCOMMIT"}
    else:
        kind, options = "plain", {}
    engine = engine_for(url)
    factories = engine.__dict__.setdefault("_rung_sessionmakers", {})
    factory = factories.get(kind)
    if factory is None:
        bind = _variant(url, f"_rung_{kind}", **options) if options else engine
        factory = factories[kind] = sessionmaker(bind=bind, expire_on_commit=False)
    return factory


@contextmanager
def session_scope(url: str, *, write: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on error (`write`: see session_factory)."""
    session = session_factory(url, write=write)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
