"""Receive an upload without holding it in memory: stream it to a temporary file, hashing it.

Two request shapes:

* a raw body (``application/x-ndjson``, ``application/octet-stream``, ``text/plain``, ...) with
  the file name in ``?filename=``: read chunk by chunk from the request stream;
* ``multipart/form-data`` with a ``file`` part and an optional ``holdout`` part: Starlette's
  parser spools each part to disk past 1 MB, then it is copied across in chunks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from starlette.datastructures import UploadFile

from app.core.errors import InvalidInputError, PayloadTooLargeError
from app.datasets.ingest import SourceFile

CHUNK = 1024 * 1024
_SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"


@dataclass(frozen=True)
class Received:
    file: SourceFile
    sha256: str
    size: int


@dataclass(frozen=True)
class Upload:
    main: Received
    holdout: Received | None


def safe_filename(name: str | None, *, default: str) -> str:
    base = (name or default).replace("\\", "/").rsplit("/", 1)[-1].strip()
    cleaned = "".join(c if c in _SAFE else "_" for c in base)[:200]
    return cleaned or default


class _Sink:
    def __init__(self, path: Path, *, max_bytes: int) -> None:
        self.path = path
        self.handle = path.open("wb")
        self.sha = hashlib.sha256()
        self.size = 0
        self.max_bytes = max_bytes

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            self.handle.close()
            raise PayloadTooLargeError(
                f"the upload is over {self.max_bytes} bytes; split the dataset or raise "
                "RUNG_MAX_UPLOAD_BYTES"
            )
        self.handle.write(chunk)
        self.sha.update(chunk)

    def close(self, filename: str) -> Received:
        self.handle.close()
        return Received(SourceFile(self.path, filename), self.sha.hexdigest(), self.size)


async def receive_upload(
    request: Request, *, work_dir: Path, filename: str | None, max_bytes: int
) -> Upload:
    """Write the request's file(s) under ``work_dir``; see the module doc for the shapes."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return await _multipart(request, work_dir=work_dir, max_bytes=max_bytes)
    sink = _Sink(work_dir / "upload.bin", max_bytes=max_bytes)
    async for chunk in request.stream():
        if chunk:
            sink.write(chunk)
    received = sink.close(safe_filename(filename, default="upload.jsonl"))
    if received.size == 0:
        raise InvalidInputError("the request body is empty: send the dataset file as the body")
    return Upload(main=received, holdout=None)


async def _multipart(request: Request, *, work_dir: Path, max_bytes: int) -> Upload:
    form = await request.form(max_files=2, max_fields=10)
    try:
        main = form.get("file")
        if not isinstance(main, UploadFile):
            raise InvalidInputError(
                "the multipart body needs a `file` part (and optionally a `holdout` part)",
                errors=[{"field": "file", "message": "missing"}],
            )
        received = await _copy(main, work_dir / "upload.bin", max_bytes=max_bytes)
        holdout_part = form.get("holdout")
        holdout = None
        if isinstance(holdout_part, UploadFile):
            holdout = await _copy(holdout_part, work_dir / "holdout.bin", max_bytes=max_bytes)
        return Upload(main=received, holdout=holdout)
    finally:
        await form.close()


async def _copy(part: UploadFile, path: Path, *, max_bytes: int) -> Received:
    sink = _Sink(path, max_bytes=max_bytes)
    while chunk := await part.read(CHUNK):
        sink.write(chunk)
    return sink.close(safe_filename(part.filename, default=path.stem + ".jsonl"))
