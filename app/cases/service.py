"""Storing, listing and deleting failure cases."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from app.cases.models import Case
from app.cases.schemas import CaseBatchCreated, CaseLabel, CasePage, CaseRead, FailureCase
from app.cases.validation import ParsedCase, parse_batch
from app.core.errors import InvalidInputError, NotFoundError
from app.db import new_id
from app.projects.models import Project


def store_cases(session: Session, *, project: Project, parsed: Sequence[ParsedCase]) -> list[Case]:
    """Add the cases to the session (ids assigned here; written at the next flush or commit,
    all or nothing, each `triage_state: pending` until the worker triages it)."""
    rows = [_to_row(project, case, label) for case, label in parsed]
    session.add_all(rows)
    return rows


def create_batch(
    session: Session, *, project: Project, items: Any, max_items: int
) -> CaseBatchCreated:
    """Validate a batch as a whole (422 naming every bad item) and add it to the session."""
    rows = store_cases(session, project=project, parsed=parse_batch(items, max_items=max_items))
    return CaseBatchCreated(created=len(rows), ids=[r.id for r in rows])


def _to_row(project: Project, case: FailureCase, label: CaseLabel | None) -> Case:
    return Case(
        id=new_id("cas"),
        project_id=project.id,
        input=case.input,
        output=case.output,
        expected=case.expected,
        context=case.context,
        feedback=case.feedback,
        attempted=list(case.attempted),
        source=case.source,
        meta=case.metadata,
        reviewer_category=label.category if label else None,
        reviewer_subcategory=label.subcategory if label else None,
        reviewer_fix=label.fix if label else None,
    )


def to_failure_case(row: Case) -> FailureCase:
    return FailureCase.model_validate(
        {
            "input": row.input,
            "output": row.output,
            "expected": row.expected,
            "context": row.context,
            "feedback": row.feedback,
            "attempted": row.attempted or [],
            "source": row.source,
            "metadata": row.meta or {},
        }
    )


def to_read(row: Case, *, project: Project) -> CaseRead:
    label = None
    if row.reviewer_subcategory:
        label = CaseLabel.model_validate(
            {
                "category": row.reviewer_category,
                "subcategory": row.reviewer_subcategory,
                "fix": row.reviewer_fix,
            }
        )
    return CaseRead.model_validate(
        {
            **to_failure_case(row).model_dump(),
            "id": row.id,
            "project": project.name,
            "created_at": row.created_at,
            "reviewer_label": label,
            "triage_state": "pending" if row.triage_version is None else "done",
            "triage": row.triage if row.triage_version is not None else None,
        }
    )


def read_case(session: Session, *, project: Project, case_id: str) -> CaseRead:
    return to_read(get_case(session, project=project, case_id=case_id), project=project)


def case_page(session: Session, *, project: Project, **filters: Any) -> CasePage:
    """A page of the project's cases (`list_cases` filters), shaped for the API."""
    rows, next_cursor = list_cases(session, project=project, **filters)
    return CasePage(items=[to_read(r, project=project) for r in rows], next_cursor=next_cursor)


def get_case(session: Session, *, project: Project, case_id: str) -> Case:
    row = session.scalar(select(Case).where(Case.id == case_id, Case.project_id == project.id))
    if row is None:
        raise NotFoundError(f"case {case_id!r} not found in project {project.name!r}")
    return row


def delete_case(session: Session, *, project: Project, case_id: str) -> None:
    session.delete(get_case(session, project=project, case_id=case_id))


def all_cases(session: Session, *, project: Project) -> list[Case]:
    stmt = select(Case).where(Case.project_id == project.id).order_by(Case.created_at, Case.id)
    return list(session.scalars(stmt))


def encode_cursor(row: Case) -> str:
    raw = f"{row.created_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, case_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created), case_id
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            "cursor is not valid: pass the next_cursor value of a previous page unchanged",
            errors=[{"field": "cursor", "message": str(exc)}],
        ) from exc


FILTER_PAGE = 500


def _matches(
    row: Case, *, category: str | None, subcategory: str | None, needs_review: bool | None
) -> bool:
    triage = row.triage or {}
    if category is not None and triage.get("category") != category:
        return False
    if subcategory is not None and triage.get("subcategory") != subcategory:
        return False
    return needs_review is None or bool(triage.get("needs_review")) == needs_review


def list_cases(
    session: Session,
    *,
    project: Project,
    limit: int = 50,
    cursor: str | None = None,
    source: str | None = None,
    category: str | None = None,
    subcategory: str | None = None,
    needs_review: bool | None = None,
) -> tuple[list[Case], str | None]:
    stmt = select(Case).where(Case.project_id == project.id)
    if source:
        stmt = stmt.where(Case.source == source)
    if cursor:
        created, case_id = decode_cursor(cursor)
        stmt = stmt.where(
            or_(Case.created_at > created, and_(Case.created_at == created, Case.id > case_id))
        )
    stmt = stmt.order_by(Case.created_at, Case.id)
    triage_filters = category is not None or subcategory is not None or needs_review is not None
    if not triage_filters:
        rows = list(session.scalars(stmt.limit(limit + 1)))
    else:
        # Triage lives in a JSON column that SQLite and PostgreSQL query differently; filter in
        # Python over keyset pages (no server-side cursor: read-only PostgreSQL sessions run in
        # autocommit, where a named cursor cannot live), bounded by `limit`.
        rows = []
        after: tuple[Any, str] | None = None
        while len(rows) <= limit:
            page_stmt = stmt
            if after is not None:
                page_stmt = page_stmt.where(
                    or_(
                        Case.created_at > after[0],
                        and_(Case.created_at == after[0], Case.id > after[1]),
                    )
                )
            page = list(session.scalars(page_stmt.limit(FILTER_PAGE)))
            for row in page:
                if _matches(
                    row, category=category, subcategory=subcategory, needs_review=needs_review
                ):
                    rows.append(row)
                    if len(rows) > limit:
                        break
            if len(page) < FILTER_PAGE:
                break
            after = (page[-1].created_at, page[-1].id)
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor
