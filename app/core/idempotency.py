"""`Idempotency-Key` for POSTs that create: a retry with the same key and body gets the first
answer and stores nothing new; the same key with another body is a 422.

Put `@idempotent` under a route's `@router.post(...)`. The key is claimed (inserted, one
statement) in the request's own transaction before the route runs, and the answer is stored in
it after, so the created rows and the remembered answer commit together or not at all: a server
killed before the commit leaves neither, and the client's retry runs the request afresh. A
concurrent request with the same key waits for the first (PostgreSQL: on the unique index;
SQLite: on the write gate) and then replays its answer.

`@idempotent(deferred=True)` is for a sync route that only adds rows to the session (no flush,
no other write, nothing outside the database): it runs first, then its key is inserted with its
answer and its rows flushed, so a write transaction is two statements long; a key already
taken discards the route's rows and replays the first answer (or 422).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, make_transient_to_detached, mapped_column
from starlette.concurrency import run_in_threadpool

from app.core.errors import ConflictError, InvalidInputError
from app.db import Base, utcnow
from app.deps import CurrentTeam, SessionDep

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
REPLAY_HEADER = "Idempotent-Replayed"


class IdempotencyRecord(Base):
    """One Idempotency-Key a team used, with the request it keyed and the answer it got."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("team_id", "key", name="uq_idempotency_keys_team_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    request_sha256: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer, default=0)
    media_type: Mapped[str] = mapped_column(String(100), default="application/json")
    response: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class KeyedRequest:
    key: str  # "" when the request has no Idempotency-Key
    team_id: str
    method: str
    path: str
    query: str
    fingerprint: str  # sha256 of method, path, query and body ("" for a streamed body)
    status_code: int  # the route's success status
    session: Session


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def _check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInputError(
            f"{HEADER} must be 1-{MAX_KEY_LENGTH} characters (a UUID per logical request)",
            errors=[{"field": HEADER, "message": "empty or too long"}],
        )
    return key


async def keyed_request(
    request: Request,
    team: CurrentTeam,
    session: SessionDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="a unique key per logical request: a retry with the same key and body "
            "returns the first answer and stores nothing new",
        ),
    ] = None,
) -> KeyedRequest:
    """The request's key and fingerprint (the body is read once; FastAPI keeps it)."""
    if idempotency_key is None:
        return _keyed(request, None, None, team.id, session)
    body = await request.body()
    return _keyed(request, idempotency_key, body, team.id, session)


async def keyed_stream(
    request: Request,
    team: CurrentTeam,
    session: SessionDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="as for the other POSTs; the body is streamed, so the "
            "content's hash in the answer stands for it",
        ),
    ] = None,
) -> KeyedRequest:
    """For streamed uploads: the body is not read here; the route's answer fingerprints it."""
    return _keyed(request, idempotency_key, None, team.id, session)


def _keyed(
    request: Request, key: str | None, body: bytes | None, team_id: str, session: Session
) -> KeyedRequest:
    method, path = request.method, request.url.path
    fingerprint = (
        _digest(method.encode(), path.encode(), request.url.query.encode(), body)
        if body is not None
        else ""
    )
    route = request.scope.get("route")
    return KeyedRequest(
        key=_check_key(key) if key is not None else "",
        team_id=team_id,
        method=method,
        path=path,
        query=request.url.query,
        fingerprint=fingerprint,
        status_code=getattr(route, "status_code", None) or 200,
        session=session,
    )


def _find(session: Session, keyed: KeyedRequest) -> IdempotencyRecord | None:
    return session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.team_id == keyed.team_id, IdempotencyRecord.key == keyed.key
        )
    )


def _mismatch(keyed: KeyedRequest) -> InvalidInputError:
    return InvalidInputError(
        f"{HEADER} {keyed.key!r} was used for a different request; use a new key for a new "
        "request (a retry must send the same method, path, query and body)",
        errors=[{"field": HEADER, "message": "reused with a different request"}],
    )


def _replay(record: IdempotencyRecord) -> Response:
    return Response(
        content=record.response,
        status_code=record.status_code,
        media_type=record.media_type,
        headers={REPLAY_HEADER: "true"},
    )


def _same_request(record: IdempotencyRecord, keyed: KeyedRequest, fingerprint: str) -> bool:
    return (record.method, record.path, record.request_sha256) == (
        keyed.method,
        keyed.path,
        fingerprint,
    )


def _claim_values(keyed: KeyedRequest, **answer: Any) -> dict[str, Any]:
    return {
        "team_id": keyed.team_id,
        "key": keyed.key,
        "method": keyed.method,
        "path": keyed.path,
        "request_sha256": keyed.fingerprint,
        "created_at": utcnow(),
        **answer,
    }


def _insert_claim(keyed: KeyedRequest, values: dict[str, Any]) -> int | None:
    """Insert the key's record unless the team already has it (one statement, no savepoint:
    ``ON CONFLICT DO NOTHING``; PostgreSQL waits for a concurrent insert of the key to commit
    or roll back first). The new record's id, or None when the key was taken."""
    session = keyed.session
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(IdempotencyRecord)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["team_id", "key"])
        .returning(IdempotencyRecord.id)
    )
    return session.scalar(stmt)


def _taken(keyed: KeyedRequest) -> IdempotencyRecord | Response:
    """The key was used (and its request has finished: the insert waited for it): its first
    answer, a 422 for another request, or its record (to run again) when no answer was kept."""
    record = _find(keyed.session, keyed)
    if record is None:  # removed meanwhile (its team deleted): nothing to replay
        raise ConflictError(f"{HEADER} {keyed.key!r} changed meanwhile; retry the request")
    return _answer_or_rerun(record, keyed)


def _held(keyed: KeyedRequest, record_id: int, values: dict[str, Any]) -> IdempotencyRecord:
    """The record just inserted, as a persistent object of the session (no query)."""
    record = IdempotencyRecord(id=record_id, **values)
    make_transient_to_detached(record)
    keyed.session.add(record)
    return record


def _claim(keyed: KeyedRequest) -> IdempotencyRecord | Response:
    """Replay a finished request, or hold the key for this one (its record is inserted in the
    request's transaction, so the key is held until the commit)."""
    values = _claim_values(keyed, status_code=0, media_type="application/json", response="")
    record_id = _insert_claim(keyed, values)
    if record_id is not None:
        return _held(keyed, record_id, values)
    return _taken(keyed)


def _answer_or_rerun(
    record: IdempotencyRecord, keyed: KeyedRequest
) -> IdempotencyRecord | Response:
    """A known key: the first answer, a 422 for another request, or the record to run again
    (its first request did not succeed, or the body is streamed and compared afterwards)."""
    if keyed.fingerprint and not _same_request(record, keyed, keyed.fingerprint):
        raise _mismatch(keyed)
    if keyed.fingerprint and record.status_code:
        return _replay(record)
    return record


def _encode(result: Any, status_code: int) -> tuple[int, str, str]:
    if isinstance(result, Response):
        body = result.body
        text = body.decode() if isinstance(body, bytes | bytearray) else str(body)
        return result.status_code, result.media_type or "application/json", text
    payload = json.dumps(jsonable_encoder(result), separators=(",", ":"), ensure_ascii=False)
    return status_code, "application/json", payload


def _finish(
    record: IdempotencyRecord,
    keyed: KeyedRequest,
    result: Any,
    stream_fingerprint: Callable[[Any], str] | None,
) -> Any:
    session = keyed.session
    status, media_type, text = _encode(result, keyed.status_code)
    if status >= 300:
        return result  # not an answer to remember; the claim stays, to be run again
    if stream_fingerprint is not None:
        fingerprint = _digest(
            keyed.method.encode(),
            keyed.path.encode(),
            keyed.query.encode(),
            stream_fingerprint(json.loads(text)).encode(),
        )
        if record.status_code:  # a retry of a streamed request: compare what it carried
            if not _same_request(record, keyed, fingerprint):
                raise _mismatch(keyed)
            return _replay(record)
        record.request_sha256 = fingerprint
    record.status_code, record.media_type, record.response = status, media_type, text
    session.flush()
    return result


def _run_deferred(
    func: Callable[..., Any], keyed: KeyedRequest, args: Any, kwargs: dict[str, Any]
) -> Any:
    """A deferred route: run it, then insert the key with the answer and flush its rows."""
    session = keyed.session
    result = func(*args, **kwargs)
    status, media_type, text = _encode(result, keyed.status_code)
    if status >= 300:
        session.commit()
        return result  # not an answer to remember
    values = _claim_values(keyed, status_code=status, media_type=media_type, response=text)
    if _insert_claim(keyed, values) is not None:
        session.commit()  # flushes the route's rows with the record
        return result
    session.rollback()  # the key was used: drop this run's rows
    taken = _taken(keyed)
    if isinstance(taken, Response):
        session.commit()
        return taken
    # the key's first request kept no answer (a refused streamed body): run this one in its place
    answer = _finish(taken, keyed, func(*args, **kwargs), None)
    session.commit()
    return answer


def idempotent(
    func: Callable[..., Any] | None = None,
    *,
    stream_fingerprint: Callable[[Any], str] | None = None,
    deferred: bool = False,
) -> Any:
    """Make a POST route honour `Idempotency-Key` (scoped to the authenticated team). A sync
    route's transaction is committed here, in the thread that wrote. `stream_fingerprint(answer)`:
    for a streamed body the route always runs (it must be content-addressed) and this picks from
    the JSON answer what stands for the body. `deferred`: see the module doc."""
    if func is None:
        return functools.partial(
            idempotent, stream_fingerprint=stream_fingerprint, deferred=deferred
        )
    dependency = keyed_stream if stream_fingerprint is not None else keyed_request
    signature = inspect.signature(func)
    extra = inspect.Parameter(
        "idempotency_request",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[KeyedRequest, Depends(dependency)],
    )
    wrapped_signature = signature.replace(parameters=[*signature.parameters.values(), extra])

    if inspect.iscoroutinefunction(func):
        if deferred:
            raise TypeError("deferred=True is for sync routes")

        @functools.wraps(func)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            keyed: KeyedRequest = kwargs.pop("idempotency_request")
            if not keyed.key:
                return await func(*args, **kwargs)
            claim = await run_in_threadpool(_claim, keyed)
            if isinstance(claim, Response):
                return claim
            result = await func(*args, **kwargs)
            return await run_in_threadpool(_finish, claim, keyed, result, stream_fingerprint)

        wrapper: Any = run_async
    else:

        @functools.wraps(func)
        def run_sync(*args: Any, **kwargs: Any) -> Any:
            keyed: KeyedRequest = kwargs.pop("idempotency_request")
            if not keyed.key:
                answer = func(*args, **kwargs)
                keyed.session.commit()
                return answer
            if deferred:
                return _run_deferred(func, keyed, args, kwargs)
            claim = _claim(keyed)
            if isinstance(claim, Response):
                return claim
            result = func(*args, **kwargs)
            answer = _finish(claim, keyed, result, stream_fingerprint)
            # Commit here, in the thread that wrote: on SQLite the writer is then held for one
            # thread hop only (the session dependency's commit finds nothing left to do).
            keyed.session.commit()
            return answer

        wrapper = run_sync
    wrapper.__signature__ = wrapped_signature
    return wrapper
