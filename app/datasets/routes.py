from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from app.artifacts.store import store_for
from app.core.downloads import attachment
from app.core.idempotency import idempotent
from app.datasets import push, service
from app.datasets.ingest import DEFAULT_HOLDOUT_FRACTION
from app.datasets.push import PushRequest
from app.datasets.schemas import (
    DatasetKind,
    DatasetPushed,
    DatasetVersionDetail,
    DatasetVersionRead,
)
from app.deps import ProjectDep, SessionDep, SettingsDep

router = APIRouter(prefix="/v1/projects/{project}/datasets", tags=["datasets"])


_PUSH_DOC = (
    "The dataset file as the raw body (`?filename=` names it; .jsonl, or .txt/.md for a "
    "document), or multipart/form-data with `file` and optional `holdout` parts. Streamed to "
    "disk while hashed; never held in memory."
)


def _push_query(
    kind: DatasetKind | None = None,
    filename: Annotated[str | None, Query(max_length=300)] = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
    parent: str | None = None,
    base_model: Annotated[str | None, Query(max_length=300)] = None,
    max_tokens: Annotated[int | None, Query(ge=16)] = None,
    recipe: str | None = None,
    holdout_fraction: Annotated[float, Query(gt=0, lt=0.5)] = DEFAULT_HOLDOUT_FRACTION,
) -> PushRequest:
    """The push's query parameters."""
    return PushRequest(kind=kind, filename=filename, name=name, parent=parent,
                       base_model=base_model, max_tokens=max_tokens, recipe=recipe,
                       holdout_fraction=holdout_fraction)


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
    wanted: Annotated[PushRequest, Depends(_push_query)],
) -> JSONResponse:
    """Push a dataset file: validate it, normalise it and store it as an immutable version.

    The version is the sha256 of the normalised rows: pushing the same content again answers
    200 with the existing version; a new one answers 201. Errors block the push (422);
    warnings are returned with the version.
    """
    outcome = await push.push_dataset(request, session, project=project, settings=settings,
                                      push=wanted)
    if not outcome.ok:
        return JSONResponse({"detail": outcome.summary, "errors": outcome.report["errors"],
                             "report": outcome.report}, status_code=422)
    # committed by the session dependency before the answer is sent (with the idempotency record)
    body = DatasetPushed(created=outcome.created,
                         version=DatasetVersionRead.model_validate(outcome.version),
                         report=outcome.report)
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if outcome.created else 200)


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
