"""Feature matrix for the learned triage model: signal features, sentence embeddings and the
token alignment between fields (`app.triage.alignment`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.cases.schemas import FailureCase
from app.triage import alignment
from app.triage.embedding import Embedder
from app.triage.signals import SignalReport, compute_signals

# Text fields that can be embedded, each a function of the case.
EMBED_FIELDS: dict[str, str] = {
    "feedback": "the reporter's note",
    "output": "the failed answer",
    "input": "the user's question",
    "expected": "the expected answer",
    "context": "the supplied passages",
    "case": "feedback, source and output together",
}
SIMILARITY_PAIRS: tuple[tuple[str, str], ...] = (
    ("output", "expected"),
    ("output", "context"),
    ("expected", "context"),
    ("input", "output"),
    ("input", "context"),
)


def field_text(case: FailureCase, name: str) -> str:
    if name == "feedback":
        return case.feedback or ""
    if name == "output":
        return case.output or ""
    if name == "input":
        return case.input or ""
    if name == "expected":
        return case.expected or ""
    if name == "context":
        return " ".join(case.context or [])
    if name == "case":
        parts = [
            f"feedback: {case.feedback}" if case.feedback else "",
            f"source: {case.source}" if case.source else "",
            f"question: {case.input}",
            f"answer: {case.output}",
        ]
        return "\n".join(p for p in parts if p)
    raise KeyError(f"unknown embedding field {name!r}; known: {sorted(EMBED_FIELDS)}")


@dataclass
class CaseFeatures:
    """Everything computed once per batch of cases."""

    reports: list[SignalReport]
    signal_matrix: np.ndarray  # (n, len(signal_names))
    signal_names: list[str]
    embeddings: dict[str, np.ndarray]  # field -> (n, 384)
    similarities: np.ndarray  # (n, len(SIMILARITY_PAIRS))
    alignment: np.ndarray  # (n, len(alignment.feature_names()))

    def matrix(self, fields: Sequence[str]) -> np.ndarray:
        """[signal features | similarities | embeddings of `fields`]."""
        blocks = [self.signal_matrix, self.similarities]
        blocks.extend(self.embeddings[name] for name in fields)
        return np.hstack(blocks).astype(np.float32)

    def subset(self, index: np.ndarray) -> CaseFeatures:
        return CaseFeatures(
            reports=[self.reports[i] for i in index],
            signal_matrix=self.signal_matrix[index],
            signal_names=self.signal_names,
            embeddings={k: v[index] for k, v in self.embeddings.items()},
            similarities=self.similarities[index],
            alignment=self.alignment[index],
        )


def signal_feature_names() -> list[str]:
    """The fixed, sorted list of signal feature names."""
    probe = FailureCase(input="x", output="y")
    return sorted(compute_signals(probe).features)


def build_features(
    cases: Sequence[FailureCase],
    *,
    embedder: Embedder,
    fields: Sequence[str],
    reports: Sequence[SignalReport] | None = None,
) -> CaseFeatures:
    """Signals and embeddings for `cases`, embedding all fields in one batched call."""
    names = signal_feature_names()
    reports = list(reports) if reports is not None else [compute_signals(c) for c in cases]
    signal_matrix = np.array(
        [[r.features.get(name, 0.0) for name in names] for r in reports], dtype=np.float32
    ).reshape(len(reports), len(names))
    align_fields = [f for pair in alignment.ALIGN_PAIRS for f in pair]
    similarity_fields = [f for pair in SIMILARITY_PAIRS for f in pair]
    needed = list(dict.fromkeys([*fields, *similarity_fields, *align_fields]))
    texts: list[str] = []
    for name in needed:
        texts.extend(field_text(case, name) for case in cases)
    vectors, token_rows = embedder.encode_with_tokens(texts)
    n = len(cases)
    embeddings = {name: vectors[i * n : (i + 1) * n] for i, name in enumerate(needed)}
    tokens = {name: token_rows[i * n : (i + 1) * n] for i, name in enumerate(needed)}
    sims = np.zeros((n, len(SIMILARITY_PAIRS)), dtype=np.float32)
    for j, (left, right) in enumerate(SIMILARITY_PAIRS):
        sims[:, j] = np.einsum("ij,ij->i", embeddings[left], embeddings[right])
    return CaseFeatures(
        reports=reports,
        signal_matrix=signal_matrix,
        signal_names=names,
        embeddings=embeddings,
        similarities=sims,
        alignment=alignment.alignment_matrix(tokens, n),
    )
