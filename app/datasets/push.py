"""The push pipeline of `POST .../datasets`: stream the upload to a temporary folder, ingest it
(validate, normalise, hash), and store a new version (or find the same content stored before).

The route parses the query and shapes the answer; everything between is here.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from app.artifacts.store import store_for
from app.config import Settings
from app.datasets import service
from app.datasets.ingest import DEFAULT_HOLDOUT_FRACTION, IngestOptions, ingest
from app.datasets.models import DatasetVersion
from app.datasets.upload import receive_upload
from app.jobs.model_refs import parse_ref, tokenizer_source
from app.projects.models import Project


@dataclass(frozen=True)
class PushRequest:
    """What the client asked for besides the file itself (the query of the push)."""

    kind: str | None = None
    filename: str | None = None
    name: str | None = None
    parent: str | None = None
    base_model: str | None = None
    max_tokens: int | None = None
    recipe: str | None = None
    holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION


@dataclass(frozen=True)
class PushOutcome:
    """A stored version (``created`` says whether it is new), or the report that refused it."""

    report: dict[str, Any]
    summary: str
    version: DatasetVersion | None = None
    created: bool = False

    @property
    def ok(self) -> bool:
        return self.version is not None


async def push_dataset(
    request: Request,
    session: Session,
    *,
    project: Project,
    settings: Settings,
    push: PushRequest,
) -> PushOutcome:
    """Receive the request's file(s), ingest them and store the version in ``session`` (the
    caller's unit of work commits it). Validation errors come back as a refused outcome."""
    tokenizer_model = _tokenizer_model(push.base_model or project.base_model, settings=settings)
    session.commit()  # release the connection while the upload streams in
    tmp_root = settings.home_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_root, prefix="upload-") as tmp:
        work_dir = Path(tmp)
        upload = await receive_upload(
            request,
            work_dir=work_dir,
            filename=push.filename,
            max_bytes=settings.max_upload_bytes,
        )
        options = IngestOptions(
            kind=push.kind,
            base_model=tokenizer_model,
            max_tokens=push.max_tokens,
            models_dir=settings.resolved_models_dir,
            holdout_fraction=push.holdout_fraction,
            recipe=push.recipe,
        )
        result = await run_in_threadpool(
            ingest,
            main=upload.main.file,
            holdout=upload.holdout.file if upload.holdout else None,
            options=options,
            work_dir=work_dir,
        )
        report = result.report.to_dict()
        if not result.ok:
            return PushOutcome(report=report, summary=result.report.summary())
        version, created = await run_in_threadpool(
            service.create_version,
            session,
            project=project,
            store=store_for(settings.resolved_artifacts_url),
            result=result,
            name=push.name or Path(upload.main.file.filename).stem,
            source_filename=upload.main.file.filename,
            source_sha256=upload.main.sha256,
            holdout_filename=upload.holdout.file.filename if upload.holdout else None,
            parent=push.parent,
        )
    return PushOutcome(
        report=report, summary=result.report.summary(), version=version, created=created
    )


def _tokenizer_model(name: str | None, *, settings: Settings) -> str | None:
    """What to count tokens with: a hub name or an allowed folder, never a probe of the
    server's disk (422 for a path outside RUNG_MODELS_ALLOW)."""
    if not name:
        return None
    ref = parse_ref(name, field="base_model", models_allow=settings.models_allow_dirs)
    return tokenizer_source(ref)
