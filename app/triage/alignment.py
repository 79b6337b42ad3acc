"""How the fields of a case line up, token by token: the part of triage that compares fields.

For a pair of fields (A, B) every token of A is matched with its most similar token of B
(cosine of contextual MiniLM token vectors, as in BERTScore), and the other way round:

- `cover` of A by B: the mean best match of A's tokens, i.e. how much of A is said in B;
- `gap` of A in B: the share of A's tokens whose best match is weak (< `WEAK_MATCH`), i.e. the
  part of A that B does not say at all (a changed number, a missing step, an invented name).

Reading the pairs together separates labels a sentence vector cannot: the expected answer is
covered by the context but not by the output (the model ignored what it was given: grounding);
the expected answer is not in the context either (retrieval gap); the output is covered by the
expected answer except for a few tokens (a stale value); the output says what the expected
answer says in other words (style, preference).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# (A, B): how much of A is found in B, and the reverse. Names are used in evidence and features.
ALIGN_PAIRS: tuple[tuple[str, str], ...] = (
    ("output", "expected"),
    ("output", "context"),
    ("expected", "context"),
    ("input", "context"),
    ("input", "output"),
    ("feedback", "output"),
)
# A best match under this cosine is "not said": MiniLM token vectors of unrelated words in a
# sentence sit near 0.2-0.4, the same word in a paraphrase near 0.7-0.9.
WEAK_MATCH = 0.5


def feature_names() -> list[str]:
    names: list[str] = []
    for left, right in ALIGN_PAIRS:
        names.append(f"align:{left}~{right}:present")
        for a, b in ((left, right), (right, left)):
            names.extend([f"align:{a}_in_{b}:cover", f"align:{a}_in_{b}:gap"])
    return names


def _one_way(sim: np.ndarray) -> tuple[float, float]:
    best = sim.max(axis=1)
    return float(best.mean()), float((best < WEAK_MATCH).mean())


def pair_features(a: np.ndarray, b: np.ndarray) -> list[float]:
    """[present, cover(A in B), gap(A in B), cover(B in A), gap(B in A)] for token matrices."""
    if len(a) == 0 or len(b) == 0:
        return [0.0, 0.0, 0.0, 0.0, 0.0]
    sim = a.astype(np.float32) @ b.astype(np.float32).T
    cover_a, gap_a = _one_way(sim)
    cover_b, gap_b = _one_way(sim.T)
    return [1.0, cover_a, gap_a, cover_b, gap_b]


def alignment_matrix(tokens: dict[str, Sequence[np.ndarray]], n: int) -> np.ndarray:
    """(n, len(feature_names())) alignment features from each field's token matrices."""
    out = np.zeros((n, len(ALIGN_PAIRS) * 5), dtype=np.float32)
    for i in range(n):
        row: list[float] = []
        for left, right in ALIGN_PAIRS:
            row.extend(pair_features(tokens[left][i], tokens[right][i]))
        out[i] = row
    return out


def describe(values: dict[str, float]) -> list[str]:
    """Field comparisons a person can check, from one case's alignment features."""

    def present(a: str, b: str) -> bool:
        key = f"align:{a}~{b}:present"
        return bool(values.get(key, values.get(f"align:{b}~{a}:present", 0.0)))

    def unsaid(a: str, b: str) -> float:
        return values.get(f"align:{a}_in_{b}:gap", 0.0)

    notes: list[str] = []
    if present("expected", "context") and present("output", "context"):
        notes.append(
            f"words not found in the context: {unsaid('expected', 'context'):.0%} of the "
            f"expected answer, {unsaid('output', 'context'):.0%} of the output"
        )
    elif present("output", "context"):
        notes.append(
            f"words of the output not found in the context: {unsaid('output', 'context'):.0%}"
        )
    # Only when words are missing: a changed number still matches its neighbour token closely,
    # so "0% missing" would read as "the same answer" (the number signals speak to numbers).
    if present("output", "expected") and unsaid("expected", "output") >= 0.1:
        notes.append(
            f"words of the expected answer not found in the output: "
            f"{unsaid('expected', 'output'):.0%}"
        )
    return notes
