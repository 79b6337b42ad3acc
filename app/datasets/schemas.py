from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

DatasetKind = Literal["sft", "preference", "documents"]


class DatasetVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    sha256: str
    name: str
    kind: str
    format: str
    source_filename: str
    source_sha256: str
    holdout_filename: str | None
    split: str
    rows_train: int
    rows_holdout: int
    synthetic_share: float
    parent_sha256: str | None
    size_bytes: int
    created_at: datetime


class DatasetVersionDetail(DatasetVersionRead):
    report: dict[str, Any]


class DatasetPushed(BaseModel):
    created: bool
    version: DatasetVersionRead
    report: dict[str, Any]
