from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from app.artifacts.store import store_for
from app.core.downloads import attachment
from app.core.idempotency import idempotent
from app.datasets import service
from app.datasets.ingest import DEFAULT_HOLDOUT_FRACTION, IngestOptions, ingest
from app.datasets.schemas import (
    DatasetKind,
    DatasetPushed,
    DatasetVersionDetail,
    DatasetVersionRead,
)
from app.datasets.upload import receive_upload
from app.deps import ProjectDep, SessionDep, SettingsDep
from app.jobs.model_refs import parse_ref, tokenizer_source

router = APIRouter(prefix="/v1/projects/{project}/datasets", tags=["datasets"])


_PUSH_DOC = (
    "The dataset file as the raw body (`?filename=` names it; .jsonl, or .txt/.md for a "
    "document), or multipart/form-data with `file` and optional `holdout` parts. Streamed to "
    "disk while hashed; never held in memory."
)


@router.post(
    "",
    status_code=201,
    responses={
        200: {"description": "the same content was pushed before: the existing version"},
        201: {"description": "a new version"},
        422: {"description": "validation errors (by file and line) in `errors` and `report`"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": _PUSH_DOC,
            "content": {
                "application/x-ndjson": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "holdout": {"type": "string", "format": "binary"},
                        },
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
@idempotent(stream_fingerprint=lambda answer: answer["version"]["sha256"])
async def push_dataset(
    request: Request,
    project: ProjectDep,
    session: SessionDep,
    settings: SettingsDep,
    kind: DatasetKind | None = None,
    filename: Annotated[str | None, Query(max_length=300)] = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
    parent: str | None = None,
    base_model: Annotated[str | None, Query(max_length=300)] = None,
    max_tokens: Annotated[int | None, Query(ge=16)] = None,
    recipe: str | None = None,
    holdout_fraction: Annotated[float, Query(gt=0, lt=0.5)] = DEFAULT_HOLDOUT_FRACTION,
) -> JSONResponse:
    """Push a dataset file: validate it, normalise it and store it as an immutable version.

    The version is the sha256 of the normalised rows: pushing the same content again answers
    200 with the existing version; a new one answers 201. Errors block the push (422);
    warnings are returned with the version.
    """
    tokenizer_model = base_model or project.base_model
    if tokenizer_model:  # a hub name or an allowed folder; never a probe of the server's disk
        tokenizer_model = tokenizer_source(parse_ref(
            tokenizer_model, field="base_model", models_allow=settings.models_allow_dirs))
    session.commit()  # release the connection while the upload streams in
    tmp_root = settings.home_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    max_bytes = settings.max_upload_bytes
    with tempfile.TemporaryDirectory(dir=tmp_root, prefix="upload-") as tmp:
        work_dir = Path(tmp)
        upload = await receive_upload(
            request, work_dir=work_dir, filename=filename, max_bytes=max_bytes
        )
        options = IngestOptions(
            kind=kind,
            base_model=tokenizer_model,
            max_tokens=max_tokens,
            models_dir=settings.resolved_models_dir,
            holdout_fraction=holdout_fraction,
            recipe=recipe,
        )
        result = await run_in_threadpool(
            ingest,
            main=upload.main.file,
            holdout=upload.holdout.file if upload.holdout else None,
            options=options,
            work_dir=work_dir,
        )
        if not result.ok:
            report = result.report.to_dict()
            return JSONResponse(
                {"detail": result.report.summary(), "errors": report["errors"], "report": report},
                status_code=422,
            )
        store = store_for(settings.resolved_artifacts_url)
        version, created = await run_in_threadpool(
            service.create_version,
            session,
            project=project,
            store=store,
            result=result,
            name=name or Path(upload.main.file.filename).stem,
            source_filename=upload.main.file.filename,
            source_sha256=upload.main.sha256,
            holdout_filename=upload.holdout.file.filename if upload.holdout else None,
            parent=parent,
        )
    # committed by the session dependency before the answer is sent (with the idempotency record)
    body = DatasetPushed(
        created=created,
        version=DatasetVersionRead.model_validate(version),
        report=result.report.to_dict(),
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if created else 200)


@router.get("")
def list_datasets(
    project: ProjectDep, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[DatasetVersionRead]:
    """The project's dataset versions, newest first."""
    return [
        DatasetVersionRead.model_validate(v)
        for v in service.list_versions(session, project=project, limit=limit)
    ]


@router.get("/{ref}")
def get_dataset(ref: str, project: ProjectDep, session: SessionDep) -> DatasetVersionDetail:
    """One version (by sha256, 8+ character prefix, or id) with its validation report."""
    return DatasetVersionDetail.model_validate(
        service.get_version(session, project=project, ref=ref)
    )


@router.get(
    "/{ref}/rows",
    response_class=StreamingResponse,
    responses={200: {"description": "the rows, one JSON object a line",
                     "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
)
def download_rows(
    ref: str, project: ProjectDep, session: SessionDep, settings: SettingsDep
) -> StreamingResponse:
    """The normalised rows as JSONL (each with its `split`), streamed from the artifact store."""
    version = service.get_version(session, project=project, ref=ref)
    store = store_for(settings.resolved_artifacts_url)
    return StreamingResponse(
        store.iter_file(version.sha256),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": attachment(f"{version.name}.jsonl")},
    )
