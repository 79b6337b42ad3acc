"""rag: the index retrieves the right document, persists, and is evaluated with ragas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from recipes import rag
from recipes.errors import RecipeConfigError
from recipes.rag import RagConfig, load_index

DOCUMENTS = [
    {
        "id": "refunds",
        "text": "Refund policy. Refunds are paid to the original card within "
        "5 business days after the returned item reaches our warehouse.",
        "metadata": {"v": 1},
    },
    {
        "id": "shipping",
        "text": "Shipping. Standard delivery takes 3 to 7 days. Express "
        "delivery arrives the next working day if ordered before 2 pm.",
        "metadata": {},
    },
    {
        "id": "warranty",
        "text": "Warranty. Electronics carry a two-year warranty covering "
        "manufacturing defects, not accidental damage such as dropped phones.",
        "metadata": {},
    },
    {
        "id": "stores",
        "text": "Store hours. Our shops open 9 am to 8 pm Monday to Saturday "
        "and are closed on Sundays and public holidays.",
        "metadata": {},
    },
]
HOLDOUT = [
    {
        "question": "How many days until my refund reaches my card?",
        "answer": "Within 5 business days.",
        "reference_doc_ids": ["refunds"],
    },
    {
        "question": "Is a phone I dropped covered by the warranty?",
        "answer": "No, accidental damage is not covered.",
        "reference_doc_ids": ["warranty"],
    },
    {
        "messages": [
            {"role": "user", "content": "Are you open on Sunday?"},
            {"role": "assistant", "content": "No, stores are closed on Sundays."},
        ],
        "reference_doc_ids": ["stores"],
    },
]


def test_retrieves_the_right_document_and_persists(tmp_path: Path) -> None:
    result = rag.run(
        RagConfig(top_k=1, generate_answers=False),
        train_rows=[],
        eval_rows=HOLDOUT,
        output_dir=tmp_path,
        documents=DOCUMENTS,
    )
    report = json.loads(result.artifact("eval_report").read_text())
    assert [r["retrieved_doc_ids"] for r in report] == [["refunds"], ["warranty"], ["stores"]]
    m = result.metrics
    assert m["hit_rate"] == 1.0 and m["mrr"] == 1.0
    assert m["context_recall"] == 1.0 and m["context_precision"] > 0.99
    assert m["chunks"] == 4 and "answer_similarity" not in m

    store = load_index(result.artifact("index"))
    found = store.similarity_search("When does express delivery arrive?", k=1)
    assert found[0].metadata["doc_id"] == "shipping"


def test_answers_use_the_retrieved_context(tmp_path: Path) -> None:
    answers = iter(
        [
            AIMessage(content="Within 5 business days."),  # with retrieval
            AIMessage(content="I am not sure."),  # baseline, no retrieval
        ]
    )

    class Recording(GenericFakeChatModel):
        prompts: list = []

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            self.prompts.append(list(messages))
            return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    model = Recording(messages=answers)
    model.prompts = []
    result = rag.run(
        RagConfig(top_k=2),
        train_rows=[],
        eval_rows=HOLDOUT[:1],
        output_dir=tmp_path,
        documents=DOCUMENTS,
        chat_model=model,
    )
    system = model.prompts[0][0].content
    assert "[refunds] Refund policy" in system  # the context went into the prompt
    assert len(model.prompts[1]) == 1  # the baseline saw the question only
    m = result.metrics
    assert m["answer_similarity"] == pytest.approx(1.0)
    assert m["baseline_answer_similarity"] < 0.6


def test_bad_inputs_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(RecipeConfigError, match="documents is empty"):
        rag.run(RagConfig(), train_rows=[], eval_rows=HOLDOUT, output_dir=tmp_path, documents=[])
    with pytest.raises(RecipeConfigError, match="not among documents"):
        rag.run(
            RagConfig(generate_answers=False),
            train_rows=[],
            output_dir=tmp_path,
            eval_rows=[{"question": "q", "reference_doc_ids": ["nope"]}],
            documents=DOCUMENTS,
        )
    with pytest.raises(RecipeConfigError) as info:
        RagConfig(vector_store="pgvector")
    assert info.value.field == "postgres_url"
    with pytest.raises(RecipeConfigError, match="chunk_size"):
        RagConfig.from_overrides(["chunk_size=100", "chunk_overlap=200"])


def test_retrieval_metrics_come_from_the_evals_scorers() -> None:
    from evals.dataset import Example
    from evals.scorers.batch import mean_score

    def ranked(retrieved: list[str], reference: list[str]) -> tuple[Example, str]:
        meta = {"retrieved_ids": retrieved, "reference_ids": reference}
        return Example(id="-".join(retrieved) or "none", input="q", metadata=meta), ""

    pairs = [ranked(["a", "b"], ["b"]), ranked(["c", "d"], ["x"]), ranked(["e"], [])]
    assert mean_score("hit_rate", pairs) == pytest.approx(0.5)  # the third is unscored
    assert mean_score("reciprocal_rank", pairs) == pytest.approx(0.25)  # (1/2 + 0) / 2
    assert mean_score("hit_rate", [ranked(["e"], [])]) is None


def test_an_unreadable_judge_leaves_the_llm_metrics_out(tmp_path: Path) -> None:
    from itertools import cycle

    answers = cycle([AIMessage(content="Within 5 business days.")])
    judge = GenericFakeChatModel(messages=cycle([AIMessage(content="not json at all")]))
    result = rag.run(
        RagConfig(top_k=1),
        train_rows=[],
        eval_rows=HOLDOUT[:1],
        output_dir=tmp_path,
        documents=DOCUMENTS,
        chat_model=GenericFakeChatModel(messages=answers),
        judge_model=judge,
    )
    m = result.metrics
    assert m["hit_rate"] == 1.0 and m["answer_similarity"] == pytest.approx(1.0)
    assert "faithfulness" not in m and "answer_correctness" not in m
