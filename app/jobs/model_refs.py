"""Job inputs are references, not server paths.

A job's ``base_model`` and ``adapter_path`` (and a dataset push's ``base_model``) name one of:

* ``artifact:<id>``: a directory artifact of the same project (an adapter or model folder);
* ``job:<id>``: a job of the same project, meaning its ``adapter`` (for ``adapter_path``) or
  ``model`` (for ``base_model``) artifact;
* a hub name, ``org/name`` or ``name``: loaded from the hub cache (or the hub when online),
  never from a folder of the server that happens to have that name;
* an absolute local path inside one of the operator's ``RUNG_MODELS_ALLOW`` folders.

Anything else (``..``, ``~``, a relative path, a path outside the allowed folders, another
project's artifact or job) is refused before anything is queued, with one message per kind of
mistake that never depends on whether the path exists. The worker resolves the reference again
when it runs the job (`resolve_refs`), checking the project and the folders a second time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.artifacts.models import Artifact
from app.core.errors import InvalidInputError, NotFoundError

REF_FIELDS = ("base_model", "adapter_path")
WEIGHTS_KIND = {"base_model": "model", "adapter_path": "adapter"}
_HUB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}(/[A-Za-z0-9][A-Za-z0-9_.-]{0,95})?$")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
FORMS = (
    "artifact:<id> or job:<id> of this project, a hub name such as "
    "HuggingFaceTB/SmolLM2-135M-Instruct, or an absolute path inside RUNG_MODELS_ALLOW"
)

RefKind = Literal["artifact", "job", "hub", "local"]


@dataclass(frozen=True)
class ModelRef:
    kind: RefKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}" if self.kind in ("artifact", "job") else self.value


def _refused(field: str, message: str) -> InvalidInputError:
    return InvalidInputError(
        f"{field}: {message}; give {FORMS}",
        errors=[{"field": field, "message": message}],
    )


def _inside(path: Path, folders: Sequence[Path]) -> bool:
    return any(path == root or root in path.parents for root in folders)


def allowed_folders(models_allow: Sequence[Path]) -> list[Path]:
    return [Path(os.path.realpath(Path(p))) for p in models_allow if Path(p).is_absolute()]


def parse_ref(value: Any, *, field: str, models_allow: Sequence[Path]) -> ModelRef:
    """The reference ``value`` names, checked by its form only (no file is looked at except
    to resolve symbolic links inside the allowed folders)."""
    if not isinstance(value, str) or not value.strip():
        raise _refused(field, "must be a non-empty string")
    value = value.strip()
    for prefix in ("artifact:", "job:"):
        if value.startswith(prefix):
            ident = value[len(prefix):]
            if not _ID.match(ident):
                raise _refused(field, f"{prefix}<id> needs an id of letters, digits, _ and -")
            return ModelRef("artifact" if prefix == "artifact:" else "job", ident)
    if _HUB_NAME.match(value) and ".." not in value:
        return ModelRef("hub", value)
    message = "a local path is accepted only as an absolute path inside RUNG_MODELS_ALLOW"
    pure = PurePosixPath(value)
    if not pure.is_absolute() or ".." in pure.parts or "~" in value or "\\" in value:
        raise _refused(field, message)
    folders = allowed_folders(models_allow)
    lexical = Path(os.path.normpath(value))
    if not folders or not _inside(lexical, folders):
        raise _refused(field, message)
    if not _inside(Path(os.path.realpath(lexical)), folders):  # a link leading out
        raise _refused(field, message)
    return ModelRef("local", str(lexical))


def _artifact_of(session: Session, *, project_id: str, ref: ModelRef, field: str) -> Artifact:
    """The directory artifact ``ref`` names in the project; 404 naming the field otherwise."""
    if ref.kind == "artifact":
        artifact = session.scalar(
            select(Artifact).where(Artifact.id == ref.value, Artifact.project_id == project_id)
        )
        what = f"artifact {ref.value!r}"
    else:
        kind = WEIGHTS_KIND[field]
        artifact = session.scalar(
            select(Artifact)
            .where(Artifact.job_id == ref.value, Artifact.project_id == project_id,
                   Artifact.kind == kind)
            .order_by(Artifact.created_at.desc())
        )
        what = f"a {kind} artifact of job {ref.value!r}"
    if artifact is None:
        raise NotFoundError(
            f"{field}: {what} not found in this project",
            errors=[{"field": field, "message": "not found in this project"}],
        )
    if not artifact.is_dir:
        raise _refused(field, f"artifact {artifact.id} is a file, not a model or adapter folder")
    return artifact


def check_refs(
    session: Session,
    *,
    project_id: str,
    values: Mapping[str, Any],
    models_allow: Sequence[Path],
) -> dict[str, str]:
    """The normalised reference of each of ``values`` (field -> value), checked against the
    project; 422 for a bad form or a forbidden path, 404 for another project's object."""
    out: dict[str, str] = {}
    for field, value in values.items():
        ref = parse_ref(value, field=field, models_allow=models_allow)
        if ref.kind in ("artifact", "job"):
            _artifact_of(session, project_id=project_id, ref=ref, field=field)
        out[field] = str(ref)
    return out


def resolve_refs(
    session: Session,
    *,
    project_id: str,
    overrides: Mapping[str, Any],
    models_allow: Sequence[Path],
    materialize: Any,
    work_dir: Path,
) -> dict[str, Any]:
    """``overrides`` with each reference field turned into something the recipe loads: a local
    folder (artifacts are fetched from the store into ``work_dir``) or a hub name.

    ``materialize(digest, dest)`` writes a stored artifact to ``dest``. Runs on the worker."""
    from recipes.base_models import DEFAULT_BASE_MODEL
    from recipes.errors import RecipeConfigError

    resolved = dict(overrides)
    for field in REF_FIELDS:
        if field not in overrides or overrides[field] is None:
            continue
        try:
            ref = parse_ref(overrides[field], field=field, models_allow=models_allow)
            if ref.kind in ("artifact", "job"):
                artifact = _artifact_of(session, project_id=project_id, ref=ref, field=field)
                target = work_dir / "inputs" / f"{field}-{artifact.digest[:16]}"
                if not target.is_dir():
                    materialize(artifact.digest, target)
                resolved[field] = str(target)
            elif ref.kind == "hub" and ref.value != DEFAULT_BASE_MODEL:
                resolved[field] = _hub_snapshot(ref.value, field=field)
            else:
                resolved[field] = ref.value
        except (InvalidInputError, NotFoundError) as exc:
            raise RecipeConfigError(exc.message, field=field) from exc
    return resolved


def tokenizer_source(ref: ModelRef) -> str | None:
    """What the API process may load a tokenizer from for ``ref`` (dataset token counts): an
    allowed folder, the packaged default, or the hub cache's copy of a hub name (never fetched
    here); never a relative path of the server. None for artifact and job references."""
    from recipes.base_models import DEFAULT_BASE_MODEL
    from recipes.errors import RecipeConfigError

    if ref.kind == "local" or (ref.kind == "hub" and ref.value == DEFAULT_BASE_MODEL):
        return ref.value
    if ref.kind != "hub":
        return None
    try:
        return _hub_snapshot(ref.value, field="base_model", local_only=True)
    except RecipeConfigError:
        return f"hub:{ref.value}"  # not in the cache: fails to load the same way, whatever exists


def _hub_snapshot(name: str, *, field: str, local_only: bool = False) -> str:
    """The hub cache's folder of ``name`` (downloaded when the hub is reachable and not
    ``local_only``): a hub name never reads a server folder that happens to be called the same."""
    from huggingface_hub import snapshot_download

    from recipes.errors import RecipeConfigError

    offline = local_only or os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {
        "1", "true", "yes", "on"
    }
    try:
        return snapshot_download(name, local_files_only=offline)
    except Exception as exc:
        raise RecipeConfigError(
            f"{field}: the hub model {name!r} is not available to this worker "
            f"({'offline, not in the hub cache' if offline else type(exc).__name__})",
            field=field,
        ) from exc
