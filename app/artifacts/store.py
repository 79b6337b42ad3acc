"""A content-addressed artifact store on any fsspec filesystem.

Layout under the store's root URL (local folder by default, ``s3://``, ``memory://``, ...)::

    blobs/<aa>/<sha256>            one file's bytes, named by their sha256
    manifests/<aa>/<digest>.json   one artifact: files (path, size, sha256), kind, job, created_at

A file artifact's digest is the sha256 of its bytes. A directory artifact's digest is the sha256
of its canonical file list (relative path, size, sha256 of each file, sorted by path); its files
are stored as blobs, so two checkpoints sharing a file store it once.

Nothing is ever overwritten: a blob or manifest is written to ``tmp/`` and moved into place only
when its name is still free (on local disk with ``os.link``, which refuses an existing name); an
existing digest is reused as is. A stored manifest holds only what the content determines (files,
sizes, hashes): who produced it, under which name and when is each project's own database row
(`app.artifacts.models.Artifact`), so two teams producing the same bytes share the blobs and
never see each other's records.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from app.core.errors import InvalidInputError, NotFoundError
from app.db import utcnow

CHUNK = 1024 * 1024
TREE_PREFIX = b"rung-tree-v1\n"


@dataclass(frozen=True)
class StoredFile:
    path: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class StoredArtifact:
    """What `ArtifactStore.put_file` / `put_dir` return: the digest and the manifest's facts."""

    digest: str
    is_dir: bool
    files: tuple[StoredFile, ...]
    kind: str
    created: bool  # False: the digest was already stored and is reused

    @property
    def size_bytes(self) -> int:
        return sum(f.size for f in self.files)


def sha256_file(path: Path) -> tuple[str, int]:
    """(sha256 hex, size) of a local file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def tree_digest(files: list[StoredFile]) -> str:
    """The digest of a directory: sha256 of its canonical, path-sorted file list."""
    listing = [[f.path, f.size, f.sha256] for f in sorted(files, key=lambda f: f.path)]
    payload = json.dumps(listing, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(TREE_PREFIX + payload).hexdigest()


def _check_digest(digest: str) -> str:
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInputError(f"{digest!r} is not a sha256 digest (64 lowercase hex characters)")
    return digest


class ArtifactStore:
    """Content-addressed blobs and manifests under one fsspec URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, root = fsspec.core.url_to_fs(url)
        self.root = root.rstrip("/") or "/"
        self.local = isinstance(self.fs, LocalFileSystem)
        if self.local:
            Path(self.root).mkdir(parents=True, exist_ok=True)

    # -- paths -----------------------------------------------------------------------------
    def _blob(self, sha: str) -> str:
        return f"{self.root}/blobs/{sha[:2]}/{sha}"

    def _manifest(self, digest: str) -> str:
        return f"{self.root}/manifests/{digest[:2]}/{digest}.json"

    def _tmp(self) -> str:
        return f"{self.root}/tmp/{uuid.uuid4().hex}"

    # -- writing ---------------------------------------------------------------------------
    def _place(self, local_source: Path, final: str, *, move: bool = False) -> bool:
        """Copy (or, with ``move``, rename when on the same disk) a local file to ``final``
        unless that name exists; True when it was written."""
        if self.fs.exists(final):
            return False
        tmp = self._tmp()
        self.fs.makedirs(tmp.rsplit("/", 1)[0], exist_ok=True)
        self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        if self.local:
            try:
                if not move:
                    raise OSError("copy requested")
                os.replace(local_source, tmp)
            except OSError:  # another file system (or a copy was asked for)
                shutil.copyfile(local_source, tmp)
            try:
                os.link(tmp, final)  # atomic, and refuses to replace an existing name
            except FileExistsError:
                return False
            finally:
                os.unlink(tmp)
            return True
        self.fs.put_file(str(local_source), tmp)
        if self.fs.exists(final):  # another writer won while we uploaded
            self.fs.rm_file(tmp)
            return False
        self.fs.mv(tmp, final)
        return True

    def _place_bytes(self, data: bytes, final: str) -> bool:
        with tempfile.NamedTemporaryFile(delete=False) as handle:
            handle.write(data)
            name = handle.name
        try:
            return self._place(Path(name), final)
        finally:
            os.unlink(name)

    def _write_manifest(
        self, digest: str, *, is_dir: bool, files: list[StoredFile], kind: str
    ) -> None:
        manifest = {
            "digest": digest,
            "type": "directory" if is_dir else "file",
            "kind": kind,
            "files": [f.to_dict() for f in files],
            "size_bytes": sum(f.size for f in files),
            "created_at": utcnow().isoformat(),
        }
        self._place_bytes(json.dumps(manifest, indent=1).encode(), self._manifest(digest))

    def put_file(
        self,
        path: Path,
        *,
        kind: str,
        name: str | None = None,
        sha256: str | None = None,
        move: bool = False,
    ) -> StoredArtifact:
        """Store one file; ``sha256`` may be passed when the caller hashed it while writing.
        ``move``: the caller no longer needs ``path`` (on local disk it is renamed, not copied)."""
        path = Path(path)
        if sha256 is None:
            sha256, size = sha256_file(path)
        else:
            size = path.stat().st_size
        stored = StoredFile(path=name or path.name, size=size, sha256=sha256)
        existed = self.exists(sha256)
        self._place(path, self._blob(sha256), move=move)
        if not existed:
            self._write_manifest(sha256, is_dir=False, files=[stored], kind=kind)
        return StoredArtifact(sha256, False, (stored,), kind, created=not existed)

    def put_dir(self, path: Path, *, kind: str) -> StoredArtifact:
        """Store a directory: every file as a blob, and a manifest named by the tree digest."""
        path = Path(path)
        if not path.is_dir():
            raise NotFoundError(f"{path} is not a directory")
        files: list[tuple[Path, StoredFile]] = []
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            sha, size = sha256_file(item)
            rel = PurePosixPath(item.relative_to(path).as_posix()).as_posix()
            files.append((item, StoredFile(path=rel, size=size, sha256=sha)))
        listing = [f for _, f in files]
        digest = tree_digest(listing)
        existed = self.exists(digest)
        if not existed:
            for local, stored in files:
                self._place(local, self._blob(stored.sha256))
            self._write_manifest(digest, is_dir=True, files=listing, kind=kind)
        return StoredArtifact(digest, True, tuple(listing), kind, created=not existed)

    def put(self, path: Path, *, kind: str) -> StoredArtifact:
        path = Path(path)
        if path.is_dir():
            return self.put_dir(path, kind=kind)
        return self.put_file(path, kind=kind)

    # -- reading ---------------------------------------------------------------------------
    def exists(self, digest: str) -> bool:
        return bool(self.fs.exists(self._manifest(_check_digest(digest))))

    def manifest(self, digest: str) -> dict[str, Any]:
        path = self._manifest(_check_digest(digest))
        if not self.fs.exists(path):
            raise NotFoundError(f"artifact {digest} is not in the store at {self.url}")
        with self.fs.open(path, "rb") as handle:
            return json.loads(handle.read())

    def open_blob(self, sha: str) -> BinaryIO:
        path = self._blob(_check_digest(sha))
        if not self.fs.exists(path):
            raise NotFoundError(f"blob {sha} is missing from the store at {self.url}")
        return self.fs.open(path, "rb")

    def iter_file(self, sha: str) -> Iterator[bytes]:
        with self.open_blob(sha) as handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    def local_path(self, sha: str) -> Path | None:
        """The blob's path when the store is on local disk (no copy needed), else None."""
        return Path(self._blob(sha)) if self.local else None

    def fetch_file(self, sha: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.open_blob(sha) as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out, CHUNK)
        return dest

    def materialize(self, digest: str, dest: Path) -> Path:
        """Write an artifact to local ``dest`` (a folder for a directory artifact)."""
        manifest = self.manifest(digest)
        if manifest["type"] == "file":
            return self.fetch_file(digest, dest)
        dest.mkdir(parents=True, exist_ok=True)
        for entry in manifest["files"]:
            target = dest.joinpath(*PurePosixPath(entry["path"]).parts)
            self.fetch_file(entry["sha256"], target)
        return dest

    def iter_tar(self, digest: str, *, root_name: str) -> Iterator[bytes]:
        """A directory artifact as an uncompressed tar stream, in bounded memory."""
        manifest = self.manifest(digest)
        created = 0.0
        for entry in manifest["files"]:
            info = tarfile.TarInfo(name=f"{root_name}/{entry['path']}")
            info.size = int(entry["size"])
            info.mode = 0o644
            info.mtime = created
            yield info.tobuf(format=tarfile.PAX_FORMAT)
            yield from self.iter_file(entry["sha256"])
            remainder = info.size % tarfile.BLOCKSIZE
            if remainder:
                yield b"\0" * (tarfile.BLOCKSIZE - remainder)
        yield b"\0" * (tarfile.BLOCKSIZE * 2)


@lru_cache(maxsize=8)
def store_for(url: str) -> ArtifactStore:
    """One store object per URL (fsspec filesystems are cached too)."""
    return ArtifactStore(url)
