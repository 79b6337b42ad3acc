"""Keep the yardsticks clean: no training case may nearly copy a case of a held-out set.

A training case is *too close* to a held-out case when their normalised inputs are equal, or
when the token-sort ratio (rapidfuzz) of `input + output` reaches `threshold`. The default, 67.5,
was set on the pairs a review found by hand (the same question and fact in other words scored
68-75: "latest stable python version?" against "what's the latest stable python version?"),
while unrelated cases on common topics stay below 66; `rung triage-train --max-similarity`
changes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

from app.cases.schemas import FailureCase
from app.triage.case_files import read_case_file

DEFAULT_THRESHOLD = 67.5


@dataclass(frozen=True)
class NearCopy:
    """One training line that is too close to one held-out line."""

    training: str  # "file.jsonl:line"
    held_out: str  # "dev.jsonl:line"
    score: float

    def describe(self) -> str:
        return f"{self.training} nearly copies {self.held_out} (similarity {self.score:.0f})"


class LeakageError(ValueError):
    """Training lines nearly copy held-out lines; the message names every pair."""

    def __init__(self, pairs: Sequence[NearCopy], threshold: float) -> None:
        self.pairs = list(pairs)
        shown = "\n  ".join(p.describe() for p in self.pairs[:20])
        more = f"\n  ... and {len(self.pairs) - 20} more" if len(self.pairs) > 20 else ""
        super().__init__(
            f"{len(self.pairs)} training case(s) nearly copy held-out cases "
            f"(threshold {threshold:.0f}); reword or remove them before training:\n  {shown}{more}"
        )


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def held_out_cases(paths: Sequence[Path]) -> list[tuple[str, FailureCase]]:
    """(`name:line`, case) of every case in the held-out files that exist."""
    out: list[tuple[str, FailureCase]] = []
    for path in paths:
        if path.exists():
            out.extend((f"{path.name}:{r.line}", r.case) for r in read_case_file(path))
    return out


def find_near_copies(
    training: Sequence[tuple[str, FailureCase]],
    held_out: Sequence[tuple[str, FailureCase]],
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[NearCopy]:
    """Every (training, held-out) pair that is too close, most similar first."""
    if not training or not held_out:
        return []
    train_io = [_norm(f"{c.input} {c.output}") for _, c in training]
    held_io = [_norm(f"{c.input} {c.output}") for _, c in held_out]
    scores = process.cdist(train_io, held_io, scorer=fuzz.token_sort_ratio, workers=-1)
    held_inputs: dict[str, int] = {}
    for j, (_, case) in enumerate(held_out):
        held_inputs.setdefault(_norm(case.input), j)
    pairs: dict[tuple[int, int], float] = {
        (int(i), int(j)): float(scores[i, j]) for i, j in np.argwhere(scores >= threshold)
    }
    for i, (_, case) in enumerate(training):
        j = held_inputs.get(_norm(case.input))
        if j is not None:
            pairs[(i, j)] = 100.0
    found = [NearCopy(training[i][0], held_out[j][0], s) for (i, j), s in pairs.items()]
    return sorted(found, key=lambda p: (-p.score, p.training))


def check_no_near_copies(
    training: Sequence[tuple[str, FailureCase]],
    held_out_paths: Sequence[Path],
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> int:
    """Raise `LeakageError` naming each too-close pair; returns how many held-out cases were
    checked."""
    held = held_out_cases(held_out_paths)
    pairs = find_near_copies(training, held, threshold=threshold)
    if pairs:
        raise LeakageError(pairs, threshold)
    return len(held)
