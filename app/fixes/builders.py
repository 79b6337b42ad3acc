"""Training and eval data built from a step's cases, stored as immutable dataset versions.

Per recipe (the selection's train cases train, its holdout cases measure):

* SFT (lora_sft, qlora_sft, full_sft): one chat row per case, user = the case's prompt (its
  ``context`` first when it has one, so grounding is trained with its context), assistant =
  ``expected``; the holdout cases go in as the version's holdout file;
* DPO: ``{"prompt", "chosen": expected, "rejected": output}`` pairs, the same way;
* prompting: the train cases are the few-shot examples; validators are inferred from their
  expected answers (`infer_validators`: a JSON Schema when they are JSON, length bounds, the
  language) and go into the recipe's config;
* RAG: each usable case is a question (input -> expected) asked against the documents the team
  pushed (the newest documents version); no documents: 422 saying so.

Every row's metadata names its case and subcategory; the version's report gets a
``provenance`` entry (the fix's step, the case ids on each side, the triage engine version).
The same cases give the same bytes, hence the same version.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.artifacts.store import ArtifactStore
from app.cases.models import Case
from app.config import Settings
from app.core.errors import InvalidInputError
from app.datasets import service as datasets
from app.datasets.ingest import IngestOptions, SourceFile, ingest
from app.datasets.models import DatasetVersion
from app.fixes.selection import Member, StepSelection
from app.projects.models import Project

SFT_RECIPES = frozenset({"lora_sft", "qlora_sft", "full_sft"})
JSON_SHARE = 0.8  # expected answers that must be JSON for a JSON Schema to be inferred
LENGTH_SLACK = 0.5  # length bounds: [min * (1 - slack), max * (1 + slack)]


@dataclass
class BuiltData:
    """What a fix's job runs on: dataset refs, config, and what was stored."""

    dataset: str
    holdout: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)


def prompt_text(case: Case) -> str:
    """The user turn for a case: its context first (when it has one), then the question."""
    if case.context:
        joined = "\n".join(f"- {c}" for c in case.context)
        return f"Context:\n{joined}\n\nQuestion: {case.input}"
    return case.input


def case_messages(case: Case) -> list[dict[str, str]]:
    """The chat the champion and the candidate answer for a held-out case."""
    return [{"role": "user", "content": prompt_text(case)}]


def _meta(member: Member) -> dict[str, Any]:
    return {"case_id": member.case.id, "subcategory": member.subcategory}


def sft_row(member: Member) -> dict[str, Any]:
    case = member.case
    return {
        "messages": [
            {"role": "user", "content": prompt_text(case)},
            {"role": "assistant", "content": case.expected},
        ],
        "metadata": _meta(member),
    }


def dpo_row(member: Member) -> dict[str, Any]:
    case = member.case
    return {
        "prompt": [{"role": "user", "content": prompt_text(case)}],
        "chosen": [{"role": "assistant", "content": case.expected}],
        "rejected": [{"role": "assistant", "content": case.output}],
        "metadata": _meta(member),
    }


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def infer_json_schema(answers: list[str]) -> dict[str, Any] | None:
    """A JSON Schema the answers share (object keys every answer has, with their types), or
    None when fewer than `JSON_SHARE` of them are JSON."""
    from recipes.validators import extract_json

    values = []
    for text in answers:
        try:
            values.append(extract_json(text))
        except ValueError:
            continue
    if not values or len(values) < JSON_SHARE * len(answers):
        return None
    if all(isinstance(v, dict) for v in values):
        required = sorted(set.intersection(*(set(v) for v in values)))
        properties: dict[str, Any] = {}
        for key in required:
            types = sorted({_json_type(v[key]) for v in values})
            if "integer" in types and "number" in types:
                types.remove("integer")
            properties[key] = {"type": types[0] if len(types) == 1 else types}
        return {"type": "object", "required": required, "properties": properties}
    kinds = sorted({_json_type(v) for v in values})
    return {"type": kinds[0] if len(kinds) == 1 else kinds}


def infer_validators(answers: list[str]) -> dict[str, Any]:
    """Prompting-recipe config (json_schema, min_chars, max_chars, language) that the expected
    answers satisfy: what a failing answer of these cases broke."""
    from recipes.validators import detect_language

    config: dict[str, Any] = {}
    if not answers:
        return config
    schema = infer_json_schema(answers)
    if schema is not None:
        config["json_schema"] = schema
    lengths = [len(a.strip()) for a in answers]
    config["min_chars"] = max(1, math.floor(min(lengths) * (1 - LENGTH_SLACK)))
    config["max_chars"] = math.ceil(max(lengths) * (1 + LENGTH_SLACK)) + 10
    languages = {detect_language(a) for a in answers} - {None}
    if len(languages) == 1:
        config["language"] = languages.pop()
    return config


def _write(path: Path, rows: list[dict[str, Any]]) -> SourceFile:
    path.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows))
    return SourceFile(path, path.name)


def store_rows(
    session: Session,
    *,
    project: Project,
    store: ArtifactStore,
    settings: Settings,
    name: str,
    kind: str,
    train: list[dict[str, Any]],
    holdout: list[dict[str, Any]] | None,
    provenance: dict[str, Any],
) -> DatasetVersion:
    """Validate and store rows as a dataset version through the dataset service."""
    tmp_root = settings.home_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_root, prefix="fix-data-") as tmp:
        work = Path(tmp)
        main = _write(work / f"{name}.jsonl", train)
        held = _write(work / f"{name}.holdout.jsonl", holdout) if holdout else None
        result = ingest(
            main=main,
            holdout=held,
            work_dir=work,
            options=IngestOptions(kind=kind, holdout_fraction=0.0),
        )
        version, created = datasets.create_version(
            session,
            project=project,
            store=store,
            result=result,
            name=name,
            source_filename=main.filename,
            source_sha256=result.sha256,
            holdout_filename=held.filename if held else None,
        )
    if created:
        version.report = {**(version.report or {}), "provenance": provenance}
        session.flush()
    return version


def _described(version: DatasetVersion) -> dict[str, Any]:
    return {
        "id": version.id,
        "sha256": version.sha256,
        "name": version.name,
        "kind": version.kind,
        "rows_train": version.rows_train,
        "rows_holdout": version.rows_holdout,
    }


def latest_documents(session: Session, *, project: Project) -> DatasetVersion | None:
    return session.scalar(
        select(DatasetVersion)
        .where(DatasetVersion.project_id == project.id, DatasetVersion.kind == "documents")
        .order_by(DatasetVersion.created_at.desc(), DatasetVersion.id)
        .limit(1)
    )


def build_data(
    session: Session,
    *,
    project: Project,
    selection: StepSelection,
    store: ArtifactStore,
    settings: Settings,
) -> BuiltData:
    """Store the step's datasets (see the module doc) and say what the job runs on."""
    recipe = selection.recipe
    provenance = {
        "built_from": "cases",
        "step": selection.step.order if selection.step else None,
        "rung": selection.rung,
        "recipe": recipe,
        "triage_engine_version": selection.triage_version,
        "train_case_ids": [m.case.id for m in selection.train],
        "holdout_case_ids": [m.case.id for m in selection.holdout],
    }
    base = f"fix-{selection.rung}"
    common = dict(project=project, store=store, settings=settings, provenance=provenance)
    if recipe == "rag":
        documents = latest_documents(session, project=project)
        if documents is None:
            raise InvalidInputError(
                f"{selection.label} (RAG) answers {len(selection.members)} knowledge case(s) "
                "from the team's documents, and none were pushed: push the sources the answers "
                f"should come from (`rung datasets push {project.name} docs.jsonl --kind "
                "documents`, or .md/.txt files), then run the fix again",
                errors=[{"field": "documents", "message": "no documents pushed"}],
            )
        questions = store_rows(
            session,
            name=f"{base}-questions",
            kind="sft",
            train=[sft_row(m) for m in selection.holdout],
            holdout=None,
            **common,
        )
        return BuiltData(
            dataset=documents.sha256,
            holdout=questions.sha256,
            versions={"documents": _described(documents), "holdout": _described(questions)},
        )
    if recipe == "dpo":
        version = store_rows(
            session,
            name=f"{base}-pairs",
            kind="preference",
            train=[dpo_row(m) for m in selection.train],
            holdout=[dpo_row(m) for m in selection.holdout],
            **common,
        )
        return BuiltData(dataset=version.sha256, versions={"train": _described(version)})
    version = store_rows(
        session,
        name=f"{base}-sft",
        kind="sft",
        train=[sft_row(m) for m in selection.train],
        holdout=[sft_row(m) for m in selection.holdout],
        **common,
    )
    built = BuiltData(dataset=version.sha256, versions={"train": _described(version)})
    if recipe == "prompting":
        built.config = infer_validators([m.case.expected or "" for m in selection.train])
    return built
