"""Turn uploaded files into one normalised, validated, content-addressed dataset file.

One streaming pass over each file, in bounded memory: every line is parsed, its format detected
(`app.datasets.formats`), normalised, checked (`app.datasets.report` lists the checks) and
written as canonical JSON to a temporary file while it is hashed. The sha256 of that file is the
version's address: the same content pushed twice, in any of the supported formats, is the same
version.

Output lines: ``{"split": "train" | "holdout", ...normal row}`` for SFT and preference data
(training-file rows first, in file order, then the rows of a separate holdout file), and bare
``{"id", "text", "metadata"}`` rows for documents.

Split: without a holdout file, a row goes to the holdout when the sha256 of its prompt falls in
the first ``holdout_fraction`` of the hash space (10% by default). Rows sharing a prompt share a
split, so the split is deterministic and cannot leak a prompt.

Minimum rows (thresholds per kind, see `MIN_ROWS`): SFT and preference data need at least 2
training rows (fewer blocks the push) and 50 are recommended (fewer is a warning); documents need
1. Per-recipe overrides are in `RECIPE_MIN_ROWS`.

Memory: per row, 8 bytes of row hash and 4 of line number for exact duplicates, and MinHash
signatures for the first `NEAR_DUPLICATE_MAX_ROWS` rows; the holdout's row and prompt hashes
(8 bytes each) for the leakage check; lines are read at most `MAX_LINE_BYTES` at a time.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from app.core.errors import InvalidInputError
from app.core.json_body import parse_json
from app.datasets.formats import (
    FAMILIES,
    KINDS,
    Normalised,
    RowError,
    canonical,
    detect_format,
    kind_of,
    normalise,
    row_text,
    token_sequences,
)
from app.datasets.near_duplicates import NearDuplicateFinder
from app.datasets.pii import find_pii
from app.datasets.report import Report
from app.datasets.token_budget import TokenCounter, token_counter

MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
NEAR_DUPLICATE_MAX_ROWS = 50_000
DEFAULT_HOLDOUT_FRACTION = 0.1
MOSTLY_SYNTHETIC = 0.5
TEXT_DOCUMENT_SUFFIXES = (".txt", ".md", ".markdown")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class RowThreshold:
    error_below: int
    warn_below: int


MIN_ROWS: dict[str, RowThreshold] = {
    "sft": RowThreshold(error_below=2, warn_below=50),
    "preference": RowThreshold(error_below=2, warn_below=50),
    "documents": RowThreshold(error_below=1, warn_below=1),
}
RECIPE_MIN_ROWS: dict[str, RowThreshold] = {
    "full_sft": RowThreshold(error_below=2, warn_below=200),
    "dpo": RowThreshold(error_below=2, warn_below=100),
}


@dataclass(frozen=True)
class SourceFile:
    path: Path
    filename: str


@dataclass
class IngestOptions:
    kind: str | None = None
    base_model: str | None = None
    max_tokens: int | None = None
    models_dir: Path | None = None  # where the default base model is converted (settings)
    holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION
    recipe: str | None = None


@dataclass
class IngestResult:
    path: Path
    sha256: str
    size_bytes: int
    kind: str
    format: str
    split: str  # "hash" | "file" | "none"
    rows_train: int
    rows_holdout: int
    synthetic_share: float
    report: Report

    @property
    def ok(self) -> bool:
        return self.report.ok


@dataclass
class _FileState:
    label: str
    format: str | None = None
    family: str | None = None
    first_line: int = 0


@dataclass
class _Hashes:
    """Row and prompt hashes of a file, kept compactly for duplicate and leakage checks."""

    rows: array = field(default_factory=lambda: array("Q"))
    lines: array = field(default_factory=lambda: array("I"))
    prompts: array = field(default_factory=lambda: array("Q"))

    def add(self, *, row: int, prompt: int, line: int) -> None:
        self.rows.append(row)
        self.prompts.append(prompt)
        self.lines.append(line)


class _HashingWriter:
    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.sha.update(data)
        self.size += len(data)


def _h64(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def iter_lines(path: Path) -> Iterator[tuple[int, bytes | None]]:
    """(line number, raw line) pairs; None for a line over `MAX_LINE_BYTES` (skipped unread)."""
    with path.open("rb") as handle:
        number = 0
        while True:
            raw = handle.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while True:
                    rest = handle.readline(_CHUNK)
                    if not rest or rest.endswith(b"\n"):
                        break
                yield number, None
                continue
            yield number, raw


def _parse_rows(
    source: SourceFile, *, kind: str, state: _FileState, report: Report
) -> Iterator[tuple[int, Normalised]]:
    """Parse, detect and normalise every row; problems go to the report by line."""
    for line, raw in iter_lines(source.path):
        where = {"file": source.filename, "line": line}
        if raw is None:
            report.error("line_too_long", f"the line is over {MAX_LINE_BYTES} bytes", **where)
            continue
        if not raw.strip():
            continue
        try:  # the API's JSON intake: depth, number size, NUL, lone surrogates refused
            obj = parse_json(raw, what="row")
        except InvalidInputError as exc:
            report.error("unparseable", exc.message, **where)
            continue
        try:
            fmt = detect_format(obj)
        except RowError as exc:
            report.error(exc.check, str(exc), **where)
            continue
        family = FAMILIES[fmt]
        if state.family is None:
            state.format, state.family, state.first_line = fmt, family, line
        elif family != state.family:
            report.error(
                "mixed_formats",
                f"this row is {fmt} but the file started as {state.format} at line "
                f"{state.first_line}; use one format per file",
                **where,
            )
            continue
        try:
            yield line, normalise(obj, fmt=fmt, kind=kind, line=line)
        except RowError as exc:
            report.error(exc.check, str(exc), **where)


def detect_kind(source: SourceFile) -> str | None:
    """The kind the first recognisable row of a file implies (None when there is none)."""
    if source.filename.lower().endswith(TEXT_DOCUMENT_SUFFIXES):
        return "documents"
    for _, raw in iter_lines(source.path):
        if raw is None or not raw.strip():
            continue
        try:
            obj = json.loads(raw)
            return kind_of(detect_format(obj), obj)
        except (UnicodeDecodeError, ValueError):
            continue
    return None


class _Checker:
    """Per-row checks shared by the training file and the holdout file."""

    def __init__(self, *, report: Report, counter: TokenCounter) -> None:
        self.report = report
        self.counter = counter
        self.synthetic = 0
        self.rows = 0
        self.max_tokens_seen = 0
        self.max_tokens_kind = "none"  # tokens, a byte upper bound, or an estimate

    def check(self, item: Normalised, *, file: str, line: int) -> None:
        row = item.row
        self.rows += 1
        meta = row.get("metadata") or {}
        if meta.get("synthetic") is True:
            self.synthetic += 1
        text = row_text(row)
        found = find_pii(text)
        if found:
            self.report.warning(
                "personal_data",
                f"looks like personal data ({', '.join(found)}); remove or mask it",
                file=file,
                line=line,
                kinds=found,
            )
        for conversation in token_sequences(row):
            tokens = self.counter.count(conversation)
            if tokens > self.max_tokens_seen or self.max_tokens_kind == "none":
                self.max_tokens_seen, self.max_tokens_kind = tokens, self.counter.last_kind
            if tokens > self.counter.budget:
                self.report.warning(
                    "over_token_budget",
                    f"{tokens} tokens, over the budget of {self.counter.budget} "
                    f"({self.counter.method}); it will be truncated in training",
                    file=file,
                    line=line,
                    tokens=tokens,
                )
                break


def ingest(
    *,
    main: SourceFile,
    holdout: SourceFile | None,
    options: IngestOptions,
    work_dir: Path,
) -> IngestResult:
    """Normalise and validate ``main`` (and ``holdout``) into ``work_dir``; see module doc."""
    report = Report()
    kind = options.kind or detect_kind(main) or "sft"
    if kind not in KINDS:
        report.error("shape", f"kind {kind!r} is not one of {', '.join(KINDS)}")
    out_path = work_dir / "normalised.jsonl"
    if main.filename.lower().endswith(TEXT_DOCUMENT_SUFFIXES):
        return _ingest_text_document(main, out_path=out_path, kind=kind, report=report)

    counter = token_counter(
        base_model=options.base_model, max_tokens=options.max_tokens, models_dir=options.models_dir
    )
    checker = _Checker(report=report, counter=counter)
    holdout_part = work_dir / "holdout.part"
    holdout_hashes = _Hashes()
    holdout_rows = 0
    if holdout is not None:
        if kind == "documents":
            report.error("shape", "documents have no holdout; push them without --holdout",
                         file=holdout.filename)
        else:
            holdout_rows = _ingest_holdout(
                holdout, kind=kind, out_path=holdout_part, hashes=holdout_hashes,
                checker=checker, report=report,
            )
    sorted_holdout_rows = np.sort(np.frombuffer(holdout_hashes.rows, dtype=np.uint64))
    sorted_holdout_prompts = np.sort(np.frombuffer(holdout_hashes.prompts, dtype=np.uint64))

    state = _FileState(label=main.filename)
    hashes = _Hashes()
    near = NearDuplicateFinder(max_rows=NEAR_DUPLICATE_MAX_ROWS)
    threshold = int(options.holdout_fraction * 10_000)
    doc_ids: set[str] = set()
    rows_train = rows_in_holdout = 0
    with out_path.open("wb") as handle:
        writer = _HashingWriter(handle)
        for line, item in _parse_rows(main, kind=kind, state=state, report=report):
            where = {"file": main.filename, "line": line}
            checker.check(item, **where)
            row_hash = _h64(canonical(item.row))
            prompt_hash = _h64(item.prompt_key)
            hashes.add(row=row_hash, prompt=prompt_hash, line=line)
            near.add(line=line, text=row_text(item.row))
            if kind == "documents":
                if item.row["id"] in doc_ids:
                    report.error("duplicate_id", f"document id {item.row['id']!r} is used twice",
                                 **where)
                doc_ids.add(item.row["id"])
                rows_train += 1
                writer.write(canonical(item.row).encode() + b"\n")
                continue
            if holdout is not None:
                split = "train"
                if _contains(sorted_holdout_rows, row_hash):
                    report.error("holdout_leakage",
                                 "this row is also in the holdout file: evaluation on it would "
                                 "measure memory, not skill; remove it from one of the files",
                                 **where)
                elif _contains(sorted_holdout_prompts, prompt_hash):
                    report.warning("prompt_in_both_splits",
                                   "the same prompt is in the holdout file (with another answer)",
                                   **where)
            else:
                bucket = int(hashlib.sha256(item.prompt_key.encode()).hexdigest()[:8], 16)
                split = "holdout" if bucket % 10_000 < threshold else "train"
            if split == "train":
                rows_train += 1
            else:
                rows_in_holdout += 1
            writer.write(canonical({"split": split, **item.row}).encode() + b"\n")
        if holdout is not None and holdout_part.exists():
            with holdout_part.open("rb") as part:
                while chunk := part.read(_CHUNK):
                    writer.write(chunk)
    holdout_part.unlink(missing_ok=True)

    _report_duplicates(hashes, file=main.filename, report=report)
    if holdout is not None:
        _report_duplicates(holdout_hashes, file=holdout.filename, report=report)
    _report_near_duplicates(near, hashes, file=main.filename, report=report)
    total_holdout = holdout_rows + rows_in_holdout
    _report_row_counts(kind, options, rows_train=rows_train, rows_holdout=total_holdout,
                       split_given=holdout is not None, report=report)
    synthetic_share = checker.synthetic / checker.rows if checker.rows else 0.0
    if synthetic_share > MOSTLY_SYNTHETIC:
        report.warning("mostly_synthetic",
                       f"{synthetic_share:.0%} of rows are marked metadata.synthetic; check that "
                       "real examples are well represented")
    split = "none" if kind == "documents" else ("file" if holdout is not None else "hash")
    report.stats.update(
        {
            "kind": kind,
            "format": state.format,
            "rows_train": rows_train,
            "rows_holdout": total_holdout,
            "split": split,
            "holdout_fraction": options.holdout_fraction if split == "hash" else None,
            "synthetic_share": round(synthetic_share, 4),
            "tokens": {
                **counter.describe(),
                "max_seen": checker.max_tokens_seen,
                "max_seen_is": checker.max_tokens_kind,
            },
            "near_duplicates": {"rows_compared": near.count, "rows_not_compared": near.skipped},
        }
    )
    return IngestResult(
        path=out_path,
        sha256=writer.sha.hexdigest(),
        size_bytes=writer.size,
        kind=kind,
        format=state.format or "unknown",
        split=split,
        rows_train=rows_train,
        rows_holdout=total_holdout,
        synthetic_share=synthetic_share,
        report=report,
    )


def _ingest_holdout(
    source: SourceFile,
    *,
    kind: str,
    out_path: Path,
    hashes: _Hashes,
    checker: _Checker,
    report: Report,
) -> int:
    state = _FileState(label=source.filename)
    count = 0
    with out_path.open("wb") as handle:
        for line, item in _parse_rows(source, kind=kind, state=state, report=report):
            checker.check(item, file=source.filename, line=line)
            hashes.add(row=_h64(canonical(item.row)), prompt=_h64(item.prompt_key), line=line)
            handle.write(canonical({"split": "holdout", **item.row}).encode() + b"\n")
            count += 1
    return count


def _contains(sorted_values: np.ndarray, value: int) -> bool:
    if sorted_values.size == 0:
        return False
    index = int(np.searchsorted(sorted_values, np.uint64(value)))
    return index < sorted_values.size and int(sorted_values[index]) == value


def _report_duplicates(hashes: _Hashes, *, file: str, report: Report) -> None:
    rows = np.frombuffer(hashes.rows, dtype=np.uint64)
    if rows.size < 2:
        return
    lines = np.frombuffer(hashes.lines, dtype=np.uint32)
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    new_group = np.r_[True, sorted_rows[1:] != sorted_rows[:-1]]
    first_line = lines[order[np.nonzero(new_group)[0][np.cumsum(new_group) - 1]]]
    duplicate_positions = np.nonzero(~new_group)[0]
    pairs = sorted((int(lines[order[p]]), int(first_line[p])) for p in duplicate_positions)
    for line, first in pairs:
        report.warning("duplicate", f"the same row as line {first}", file=file, line=line,
                       duplicate_of=first)


def _report_near_duplicates(
    near: NearDuplicateFinder, hashes: _Hashes, *, file: str, report: Report
) -> None:
    lines = np.frombuffer(hashes.lines, dtype=np.uint32)  # ascending: rows come in file order
    rows = np.frombuffer(hashes.rows, dtype=np.uint64)

    def row_at(line: int) -> int:
        return int(rows[int(np.searchsorted(lines, line))])

    for line, earlier, similarity in near.pairs():
        if row_at(line) == row_at(earlier):
            continue  # already reported as an exact duplicate
        report.warning(
            "near_duplicate",
            f"nearly the same text as line {earlier} (estimated similarity {similarity:.2f})",
            file=file,
            line=line,
            duplicate_of=earlier,
        )
    if near.skipped:
        report.stats["near_duplicates_note"] = (
            f"near-duplicates were checked among the first {near.count} rows only"
        )


def _report_row_counts(
    kind: str,
    options: IngestOptions,
    *,
    rows_train: int,
    rows_holdout: int,
    split_given: bool,
    report: Report,
) -> None:
    threshold = RECIPE_MIN_ROWS.get(options.recipe or "", MIN_ROWS.get(kind, MIN_ROWS["sft"]))
    what = f"recipe {options.recipe}" if options.recipe in RECIPE_MIN_ROWS else f"{kind} data"
    if rows_train < threshold.error_below:
        report.error("too_few_rows",
                     f"{rows_train} training row(s); {what} needs at least "
                     f"{threshold.error_below}")
    elif rows_train < threshold.warn_below:
        report.warning("few_rows",
                       f"{rows_train} training row(s); at least {threshold.warn_below} are "
                       f"recommended for {what}")
    if kind != "documents" and not split_given and rows_holdout == 0 and rows_train > 0:
        report.warning("no_holdout_rows",
                       "the hash split put every row in training (too few rows); pass a holdout "
                       "file with --holdout to evaluate")


def _ingest_text_document(
    source: SourceFile, *, out_path: Path, kind: str, report: Report
) -> IngestResult:
    if kind != "documents":
        report.error("shape", f"{source.filename} is a text document; push it with "
                     "--kind documents", file=source.filename)
    size = source.path.stat().st_size
    text = ""
    if size > MAX_DOCUMENT_BYTES:
        report.error("too_large", f"a text document may be at most {MAX_DOCUMENT_BYTES} bytes "
                     f"({size} given); split it or send JSONL documents", file=source.filename)
    else:
        try:
            text = source.path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            report.error("unparseable", f"not UTF-8 text: {exc}", file=source.filename)
    if not report.error_counts and not text.strip():
        report.error("empty_turn", "the document is empty", file=source.filename)
    row = {"id": source.filename, "text": text, "metadata": {"source": source.filename}}
    found = find_pii(text) if text else []
    if found:
        report.warning("personal_data", f"looks like personal data ({', '.join(found)})",
                       file=source.filename, kinds=found)
    data = canonical(row).encode() + b"\n"
    out_path.write_bytes(data)
    report.stats.update({"kind": "documents", "format": "text", "rows_train": 1,
                         "rows_holdout": 0, "split": "none"})
    return IngestResult(
        path=out_path, sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data),
        kind="documents", format="text", split="none", rows_train=1, rows_holdout=0,
        synthetic_share=0.0, report=report,
    )


def read_rows(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train rows, holdout rows) of a normalised dataset file, without the split field."""
    train: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    with path.open("rb") as handle:
        for raw in handle:
            row = json.loads(raw)
            split = row.pop("split", "train")
            (held if split == "holdout" else train).append(row)
    return train, held

