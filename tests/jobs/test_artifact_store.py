"""The content-addressed artifact store on local disk, a file:// URL and fsspec's memory://."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from pathlib import Path

import pytest

from app.artifacts.store import ArtifactStore, sha256_file


@pytest.fixture(params=["path", "file-url", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "path":
        return ArtifactStore(str(tmp_path / "store"))
    if request.param == "file-url":
        return ArtifactStore(f"file://{tmp_path / 'store'}")
    return ArtifactStore(f"memory://rung-test-{uuid.uuid4().hex}")


def make_folder(root: Path, *, weights: bytes = b"\x00\x01" * 1000) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "adapter_config.json").write_text('{"r": 4}')
    (root / "adapter_model.safetensors").write_bytes(weights)
    (root / "sub" / "notes.txt").write_text("hello")
    return root


def test_a_file_is_stored_once_under_its_sha256(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "metrics.json"
    source.write_text('{"loss": 1.5}')
    first = store.put_file(source, kind="metrics")
    assert first.digest == sha256_file(source)[0] and first.created
    manifest = store.manifest(first.digest)
    assert manifest["kind"] == "metrics" and "job_id" not in manifest  # records are per project
    assert manifest["files"] == [{"path": "metrics.json", "size": 13, "sha256": first.digest}]
    assert "created_at" in manifest

    again = store.put_file(source, kind="metrics")
    assert again.digest == first.digest and not again.created
    assert store.manifest(first.digest) == manifest, "the stored manifest is never rewritten"
    assert b"".join(store.iter_file(first.digest)) == source.read_bytes()


def test_existing_blobs_are_never_overwritten(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "store"))
    source = tmp_path / "a.bin"
    source.write_bytes(b"original")
    stored = store.put_file(source, kind="model")
    blob = store.local_path(stored.digest)
    assert blob is not None
    inode = blob.stat().st_ino
    # A writer that claims the same digest for other bytes must not replace the stored ones.
    forged = tmp_path / "b.bin"
    forged.write_bytes(b"tampered")
    store.put_file(forged, kind="model", sha256=stored.digest)
    assert blob.read_bytes() == b"original" and blob.stat().st_ino == inode
    assert not list((tmp_path / "store" / "tmp").iterdir()), "no temporary files left"


def test_a_directory_is_a_manifest_of_file_hashes(store: ArtifactStore, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "adapter")
    stored = store.put_dir(folder, kind="adapter")
    assert stored.is_dir and stored.created and len(stored.files) == 3
    manifest = store.manifest(stored.digest)
    assert manifest["type"] == "directory" and manifest["kind"] == "adapter"
    assert {f["path"] for f in manifest["files"]} == {
        "adapter_config.json", "adapter_model.safetensors", "sub/notes.txt"
    }
    assert manifest["size_bytes"] == sum(f["size"] for f in manifest["files"])
    assert not store.put_dir(folder, kind="adapter").created

    changed = make_folder(tmp_path / "adapter2", weights=b"\x02" * 10)
    other = store.put_dir(changed, kind="adapter")
    assert other.digest != stored.digest

    restored = store.materialize(stored.digest, tmp_path / "restored")
    for name in ("adapter_config.json", "adapter_model.safetensors", "sub/notes.txt"):
        assert (restored / name).read_bytes() == (folder / name).read_bytes()

    stream = io.BytesIO(b"".join(store.iter_tar(stored.digest, root_name="a")))
    with tarfile.open(fileobj=stream) as archive:
        members = {m.name: archive.extractfile(m).read()  # type: ignore[union-attr]
                   for m in archive.getmembers()}
    assert members["a/sub/notes.txt"] == b"hello"
    assert json.loads(members["a/adapter_config.json"]) == {"r": 4}
