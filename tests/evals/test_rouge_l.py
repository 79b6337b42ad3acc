"""rouge_l: the figure rouge-score computes, given the same tokenizer and stemmer."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest
from rouge_score import rouge_scorer, tokenizers
from rouge_score.tokenize import tokenize

from evals.dataset import Example
from evals.errors import ScorerError
from evals.scorers import build_scorer
from evals.scorers.overlap import porter_stemmer, rouge_l

SHARED = Path(__file__).resolve().parents[3] / "shared" / "triage" / "dev.jsonl"
VOCABULARY = (
    "the a refund refunds refunded is are was within 30 days day says say policy policies "
    "customer customers order ordered ordering shipped shipping Paris capital France of in "
    "JSON key keys value, values. account: ACC-55120 running runs ran generously general"
)
WORDS = VOCABULARY.split(" ")


class _SameStemmer(tokenizers.Tokenizer):
    def tokenize(self, text: str) -> list[str]:
        return tokenize(text, porter_stemmer())


def _pairs() -> list[tuple[str, str]]:
    rng = random.Random(7)
    pairs = [
        (" ".join(rng.choices(WORDS, k=rng.randint(0, 25))), " ".join(rng.choices(WORDS, k=n)))
        for n in [rng.randint(0, 25) for _ in range(400)]
    ]
    if SHARED.exists():  # real outputs and references, where the shared data is beside the repo
        for line in SHARED.read_text().splitlines():
            case = json.loads(line)["case"]
            if case.get("output") and case.get("expected"):
                pairs.append((case["expected"], case["output"]))
    return pairs


def test_rouge_l_equals_rouge_score_with_the_same_stemmer() -> None:
    reference = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_SameStemmer())
    pairs = _pairs()
    assert len(pairs) >= 400
    for target, prediction in pairs:
        expected = reference.score(target, prediction)["rougeL"]
        assert rouge_l(target, prediction) == pytest.approx(
            (expected.precision, expected.recall, expected.fmeasure), abs=1e-12
        ), (target, prediction)


def test_rouge_l_figures_and_modes() -> None:
    # "The capital of France is Paris." vs "Paris is the capital of France.": LCS 4 of 6 tokens
    assert rouge_l("The capital of France is Paris.", "Paris is the capital of France.") == (
        pytest.approx(4 / 6),
        pytest.approx(4 / 6),
        pytest.approx(4 / 6),
    )
    # stemming: "refunds"/"refunded" meet "refund"; case and punctuation do not count
    assert rouge_l("Refund issued!", "refunded: ISSUED") == (1.0, 1.0, 1.0)
    assert rouge_l("", "anything") == (0.0, 0.0, 0.0)
    assert rouge_l("...", "!!!") == (0.0, 0.0, 0.0)
    example = Example(id="x", input="q", expected="a b c d")
    for mode, value in (("precision", 2 / 3), ("recall", 2 / 4), ("fmeasure", 4 / 7)):
        scorer = build_scorer(f"rouge_l:mode={mode}")
        assert asyncio.run(scorer.score(example, "a c z")).value == pytest.approx(value), mode
    with pytest.raises(ScorerError, match="mode must be"):
        build_scorer("rouge_l:mode=f1")
    assert build_scorer("rouge_l").version == 2  # type: ignore[attr-defined]
