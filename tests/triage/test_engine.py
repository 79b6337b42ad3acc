"""The engine end to end on hand-made cases (real embeddings, the shipped artefact)."""

from __future__ import annotations

import re

from app.cases.schemas import FailureCase
from app.triage.engine import TriageEngine, load_engine
from tests.triage.test_signals import CASES


def test_clear_cases_get_their_subcategory_and_fix(engine: TriageEngine) -> None:
    names = list(CASES)
    results = engine.triage([CASES[n] for n in names])
    assert [r.subcategory for r in results] == names
    for name, result in zip(names, results, strict=True):
        assert result.category == (
            "knowledge"
            if name in {"missing_knowledge", "stale_knowledge", "retrieval_gap"}
            else "behavior"
        )
        assert 0.0 <= result.confidence <= 1.0
        assert result.evidence
        assert abs(sum(result.probabilities.values()) - 1.0) < 1e-3
        assert result.engine_version == engine.version


def test_attempted_prompting_moves_behaviour_to_lora(engine: TriageEngine) -> None:
    case = CASES["format"]
    tried = case.model_copy(update={"attempted": ["prompting"]})
    first, second = engine.triage([case, tried])
    assert (first.subcategory, first.fix) == ("format", "prompting")
    assert (second.subcategory, second.fix) == ("format", "lora")


def test_an_uncertain_case_is_flagged_for_review(engine: TriageEngine) -> None:
    """The flag follows the calibrated threshold fitted at training time (manifest.json)."""
    vague = FailureCase(
        input="tell me about the plan",
        output="The plan includes several features.",
        feedback="not great",
    )
    clear = CASES["format"]
    vague_result, clear_result = engine.triage([vague, clear])
    threshold = engine.manifest.review["operating_point"]["threshold"]
    assert engine.policy.threshold == threshold
    assert vague_result.needs_review and vague_result.confidence < threshold
    assert any(e.startswith("review: p=") for e in vague_result.evidence)
    assert not clear_result.needs_review and clear_result.confidence >= threshold
    assert vague_result.subcategory in vague_result.probabilities


def test_order_is_kept_and_empty_input(engine: TriageEngine) -> None:
    names = ["preference", "missing_knowledge", "format"]
    results = engine.triage([CASES[n] for n in names])
    assert [r.subcategory for r in results] == names
    assert engine.triage([]) == []


def test_version_names_the_artefact_and_engine_is_cached(engine: TriageEngine) -> None:
    assert re.fullmatch(r"rung-triage/\d+\+\d+-[0-9a-f]{12}", engine.version)
    assert engine.manifest.artefact_sha256.startswith(engine.version.rsplit("-", 1)[1])
    assert load_engine() is engine


def test_the_shipped_model_draws_on_the_embeddings(engine: TriageEngine) -> None:
    """Guard against the embeddings being regularised away beside the standardised signals:
    on real training cases, the logit spread coming from the embedding block is of the same
    order as the spread coming from the signals."""

    from app.triage.features import build_features
    from app.triage.training.train import load_training_set

    training = load_training_set()
    cases = [c.case for c in training.cases[::25]]
    clf = engine.classifier
    features = build_features(cases, embedder=engine.embedder, fields=clf.config.fields)
    design = clf._design(features, fit=False)
    assert clf.model is not None
    coef = clf.model.coef_
    dense = design[:, : clf.n_dense] @ coef[:, : clf.n_dense].T
    embedded = design[:, clf.n_dense :] @ coef[:, clf.n_dense :].T
    ratio = float(embedded.std(axis=0).mean() / dense.std(axis=0).mean())
    assert ratio > 0.2, f"embedding logits spread only {ratio:.2f}x the signal logits"


def test_the_models_reading_is_never_the_only_evidence(engine: TriageEngine) -> None:
    bare = FailureCase(input="can you help with my order", output="Sure, what is the number?")
    results = engine.triage([*CASES.values(), bare])
    for result in results:
        model_lines = [e for e in result.evidence if e.startswith("the model reads this as")]
        assert model_lines == [
            f"the model reads this as {result.subcategory.replace('_', ' ')} "
            f"(p={result.confidence:.2f})"
        ]
        checkable = [
            e
            for e in result.evidence
            if not e.startswith(("the model reads", "knowledge problem", "review:"))
        ]
        assert checkable, result.evidence
    assert any("reported: input and output only" in e for e in results[-1].evidence)
