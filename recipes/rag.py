"""The RAG rung: a langchain pipeline split -> embed -> index -> retrieve -> answer.

* split: ``RecursiveCharacterTextSplitter`` (``chunk_size``/``chunk_overlap`` characters);
* embed: offline all-MiniLM-L6-v2 (`recipes.embeddings.MiniLMEmbeddings`);
* index (`recipes.rag_index`): langchain's ``InMemoryVectorStore`` dumped to ``index/store.json``
  (default, no server), or PostgreSQL + pgvector through ``langchain-postgres`` when
  ``vector_store=pgvector`` and ``postgres_url`` are set. pgvector is optional: it needs
  ``pip install langchain-postgres`` and the server's ``vector`` extension (``create extension
  vector``); without them the recipe fails with `RecipeEnvironmentError` saying so;
* retrieve: the ``top_k`` most similar chunks;
* answer: ``ChatPromptTemplate | chat_model | StrOutputParser`` with the chunks as context.

``run(config, *, train_rows, eval_rows, output_dir, documents, progress=None, resume_from=None,
should_stop=None, chat_model=None, judge_model=None)``. ``documents`` is a list of
``{"id": str, "text": str, "metadata": dict}`` (metadata optional). ``eval_rows`` are SFT rows
(question = last user message, reference = the assistant answer) or ``{"question", "answer"}``;
either may carry ``"reference_doc_ids": [...]`` (top level or in ``metadata``), the documents that
hold the answer. ``train_rows``
are not used (the documents are the knowledge); ``resume_from`` is ignored (indexing is cheap).
``chat_model`` answers (None: ``config.base_model`` locally); ``judge_model`` turns on the LLM
metrics.

Metrics on the holdout, each the mean of an `evals` scorer (`evals.scorers`): ``hit_rate`` and
``mrr`` (``hit_rate``/``reciprocal_rank``: a chunk of a reference document among the top_k),
``context_precision`` and ``context_recall`` (ragas non-LLM, against the reference documents'
texts), ``answer_similarity`` (``string_similarity`` of answer vs reference;
``baseline_answer_similarity`` for the same model without retrieval). With a judge:
``faithfulness`` and ``answer_correctness`` (a judge reply ragas cannot read leaves that row out).
Artifacts: ``index`` (folder with manifest.json) and ``eval_report``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from recipes.base_models import DEFAULT_BASE_MODEL
from recipes.config_base import RecipeConfig, require
from recipes.errors import RecipeCancelledError, RecipeConfigError, RecipeRuntimeError
from recipes.rag_index import build_store, check_documents, split_documents, write_index
from recipes.rag_index import load_index as load_index  # re-exported: reopen a run's index
from recipes.rows import sft_messages
from recipes.run_types import ProgressEvent, ProgressFn, RecipeResult, StopFn, emit, finish

if TYPE_CHECKING:
    from langchain_core.documents import Document
    from langchain_core.language_models import BaseChatModel

NAME = "rag"
DEFAULT_RAG_SYSTEM_PROMPT = (
    "Answer the question using only the context below. If the context does not contain the "
    "answer, say that you don't know."
)


@dataclass
class RagConfig(RecipeConfig):
    """Settings of the RAG recipe."""

    base_model: str = field(
        default=DEFAULT_BASE_MODEL,
        metadata={
            "help": "Model that answers when no chat_model is passed (loaded locally). "
            "Default SmolLM2-135M-Instruct: offline on CPU."
        },
    )
    chunk_size: int = field(
        default=800,
        metadata={
            "help": "Characters per chunk. 800 (~200 tokens) fits MiniLM's 256-token "
            "window, so no chunk is silently truncated when embedded."
        },
    )
    chunk_overlap: int = field(
        default=100,
        metadata={
            "help": "Characters shared by neighbouring chunks, so a fact cut at a chunk "
            "border is still whole in one of them. 100 (~1/8 of a chunk)."
        },
    )
    top_k: int = field(
        default=4,
        metadata={
            "help": "Chunks retrieved per question. 4: good recall while the context "
            "still fits a small model's window."
        },
    )
    vector_store: Literal["memory", "pgvector"] = field(
        default="memory",
        metadata={
            "help": "memory (default): langchain InMemoryVectorStore saved to the output "
            "folder, no server. pgvector: PostgreSQL with the vector extension "
            "(needs postgres_url and langchain-postgres)."
        },
    )
    postgres_url: str | None = field(
        default=None,
        metadata={
            "help": "SQLAlchemy URL for pgvector, e.g. postgresql+psycopg://user@host/db. "
            "Not written to the artefact."
        },
    )
    collection: str = field(default="rung_rag", metadata={"help": "pgvector collection name."})
    system_prompt: str = field(
        default=DEFAULT_RAG_SYSTEM_PROMPT,
        metadata={
            "help": "Instruction put before the retrieved context. The default asks the "
            "model to stay grounded and admit when the context lacks the answer."
        },
    )
    max_new_tokens: int = field(
        default=256, metadata={"help": "Answer length cap for the local model."}
    )
    eval_limit: int = field(
        default=50, metadata={"help": "Holdout rows evaluated at most (each costs 2 model calls)."}
    )
    generate_answers: bool = field(
        default=True,
        metadata={
            "help": "Answer the holdout questions. False: evaluate retrieval only (fast, "
            "no model calls)."
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.chunk_size >= 50, "must be >= 50 characters", field="chunk_size")
        require(
            0 <= self.chunk_overlap < self.chunk_size,
            "must be >= 0 and < chunk_size",
            field="chunk_overlap",
        )
        require(self.top_k >= 1, "must be >= 1", field="top_k")
        require(self.max_new_tokens >= 1, "must be >= 1", field="max_new_tokens")
        require(self.eval_limit >= 1, "must be >= 1", field="eval_limit")
        if self.vector_store == "pgvector":
            require(
                bool(self.postgres_url),
                "is required when vector_store=pgvector",
                field="postgres_url",
            )


@dataclass
class RagEvalRow:
    question: str
    reference: str | None
    reference_doc_ids: list[str]


def rag_eval_row(row: dict[str, Any], *, index: int) -> RagEvalRow:
    metadata = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
    ids = row.get("reference_doc_ids") or metadata.get("reference_doc_ids") or []
    if not isinstance(ids, list):
        raise RecipeConfigError(f"rag eval row {index}: reference_doc_ids must be a list")
    ids = [str(i) for i in ids]
    if isinstance(row.get("question"), str):
        answer = row.get("answer", row.get("reference"))
        return RagEvalRow(row["question"], answer if isinstance(answer, str) else None, ids)
    messages = sft_messages(row, index=index)
    question = next(m["content"] for m in reversed(messages[:-1]) if m["role"] == "user")
    return RagEvalRow(question, messages[-1]["content"], ids)


def answer_chain(chat_model: BaseChatModel, system_prompt: str) -> Any:
    """``{"context", "question"} -> answer text`` as a langchain runnable."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    prompt = ChatPromptTemplate.from_messages(
        [("system", system_prompt + "\n\nContext:\n{context}"), ("human", "{question}")]
    )
    return prompt | chat_model | StrOutputParser()


def format_context(chunks: list[Document]) -> str:
    return "\n\n".join(f"[{c.metadata.get('doc_id')}] {c.page_content}" for c in chunks)


def run(
    config: RagConfig,
    *,
    train_rows: list[dict],
    eval_rows: list[dict],
    output_dir: Path,
    documents: list[dict[str, Any]],
    progress: ProgressFn | None = None,
    resume_from: Path | None = None,
    should_stop: StopFn | None = None,
    chat_model: BaseChatModel | None = None,
    judge_model: BaseChatModel | None = None,
) -> RecipeResult:
    """Index ``documents`` and evaluate retrieval (and answers) on the holdout."""
    del train_rows, resume_from  # see the module doc
    docs = check_documents(documents)
    holdout = [rag_eval_row(r, index=i) for i, r in enumerate(eval_rows)][: config.eval_limit]
    if not holdout:
        raise RecipeConfigError("rag: eval_rows is empty; the holdout measures the pipeline")
    known = {d["id"] for d in docs}
    for row in holdout:
        unknown = [i for i in row.reference_doc_ids if i not in known]
        if unknown:
            raise RecipeConfigError(f"rag: reference_doc_ids {unknown} are not among documents")
    output_dir = Path(output_dir)
    index_dir = output_dir / "index"
    index_dir.mkdir(parents=True, exist_ok=True)

    emit(progress, ProgressEvent(phase="index", message=f"splitting {len(docs)} documents"))
    chunks = split_documents(docs, chunk_size=config.chunk_size, chunk_overlap=config.chunk_overlap)
    store = build_store(
        chunks,
        vector_store=config.vector_store,
        collection=config.collection,
        postgres_url=config.postgres_url,
    )
    write_index(
        store,
        index_dir,
        vector_store=config.vector_store,
        collection=config.collection,
        chunk_size=config.chunk_size,
        chunk_overlap=config.chunk_overlap,
        top_k=config.top_k,
        system_prompt=config.system_prompt,
        documents=len(docs),
        chunks=len(chunks),
    )
    emit(progress, ProgressEvent(phase="index", message=f"indexed {len(chunks)} chunks"))

    if config.generate_answers and chat_model is None:
        from recipes.local_chat import local_chat_model

        emit(progress, ProgressEvent(phase="load", message=f"loading {config.base_model}"))
        chat_model = local_chat_model(config.base_model, max_new_tokens=config.max_new_tokens)
    chain = answer_chain(chat_model, config.system_prompt) if config.generate_answers else None
    texts = {d["id"]: d["text"] for d in docs}
    report: list[dict[str, Any]] = []
    for i, row in enumerate(holdout):
        if should_stop is not None and should_stop():
            raise RecipeCancelledError(f"rag cancelled after {i} of {len(holdout)} rows")
        retrieved = store.similarity_search(row.question, k=config.top_k)
        entry: dict[str, Any] = {
            "question": row.question,
            "reference": row.reference,
            "reference_doc_ids": row.reference_doc_ids,
            "retrieved_doc_ids": [c.metadata.get("doc_id") for c in retrieved],
            "retrieved_contexts": [c.page_content for c in retrieved],
            "reference_contexts": [texts[d] for d in row.reference_doc_ids],
        }
        if chain is not None:
            entry["answer"] = _call(
                chain, {"context": format_context(retrieved), "question": row.question}
            )
            entry["baseline_answer"] = _call(
                chat_model, row.question, parse=True
            )  # the same model without retrieval
        report.append(entry)
        emit(
            progress,
            ProgressEvent(
                phase="eval",
                step=i + 1,
                total_steps=len(holdout),
                message=f"evaluated {i + 1} of {len(holdout)}",
            ),
        )

    metrics = _holdout_metrics(report, judge_model=judge_model)
    metrics["documents"] = float(len(docs))
    metrics["chunks"] = float(len(chunks))
    metrics["eval_rows"] = float(len(report))
    report_path = output_dir / "eval_report.json"
    report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return finish(
        progress,
        recipe=NAME,
        metrics=metrics,
        artifacts=[("index", index_dir), ("eval_report", report_path)],
        summary=_summary(metrics, config),
        config={**dataclasses.asdict(config), "postgres_url": None},
        step=len(report),
        total_steps=len(report),
    )


def _call(runnable: Any, value: Any, *, parse: bool = False) -> str:
    try:
        out = runnable.invoke(value)
    except Exception as exc:
        raise RecipeRuntimeError(
            f"the chat model failed ({type(exc).__name__}: {exc})", retryable=True
        ) from exc
    if parse:
        out = out.content if isinstance(out.content, str) else str(out.content)
    return str(out).strip()


def _holdout_metrics(
    report: list[dict[str, Any]], *, judge_model: BaseChatModel | None
) -> dict[str, float]:
    """The holdout's means, each from an `evals` scorer (see the module doc)."""
    from evals.dataset import Example
    from evals.scorers import ScorerContext
    from evals.scorers.batch import mean_score

    out: dict[str, float] = {}

    def put(key: str, spec: str, pairs: list[tuple[Example, str]], **context: Any) -> None:
        value = mean_score(spec, pairs, context=ScorerContext(**context))
        if value is not None:
            out[key] = value

    def example(i: int, row: dict[str, Any], **fields: Any) -> Example:
        return Example(id=str(i), input=row["question"].strip() or "-", **fields)

    ranked = [
        (
            example(
                i,
                r,
                metadata={
                    "retrieved_ids": r["retrieved_doc_ids"],
                    "reference_ids": r["reference_doc_ids"],
                },
            ),
            "",
        )
        for i, r in enumerate(report)
        if r["reference_doc_ids"]
    ]
    put("hit_rate", "hit_rate", ranked)
    put("mrr", "reciprocal_rank", ranked)
    contexts = [
        (
            example(
                i,
                r,
                context=r["retrieved_contexts"],
                reference_contexts=r["reference_contexts"],
            ),
            "",
        )
        for i, r in enumerate(report)
        if r["reference_contexts"] and r["retrieved_contexts"]
    ]
    put("context_precision", "context_precision", contexts)
    put("context_recall", "context_recall", contexts)
    answered = [r for r in report if r.get("answer") is not None and r["reference"]]
    for key, arm in (
        ("answer_similarity", "answer"),
        ("baseline_answer_similarity", "baseline_answer"),
    ):
        pairs = [(example(i, r, expected=r["reference"]), r[arm]) for i, r in enumerate(answered)]
        put(key, "string_similarity", pairs)
    if judge_model is not None and answered:
        judged = [
            (
                example(i, r, expected=r["reference"], context=r["retrieved_contexts"] or None),
                r["answer"],
            )
            for i, r in enumerate(answered)
        ]
        put("faithfulness", "faithfulness", judged, judge=judge_model)
        # ragas AnswerCorrectness' own default weighting: 0.75 factuality, 0.25 similarity.
        put(
            "answer_correctness",
            "answer_correctness:similarity_weight=0.25",
            judged,
            judge=judge_model,
        )
    return out


def _summary(metrics: dict[str, float], config: RagConfig) -> str:
    parts = [
        f"rag indexed {int(metrics['documents'])} documents as {int(metrics['chunks'])} "
        f"chunks ({config.vector_store} store, top {config.top_k})"
    ]
    if "hit_rate" in metrics:
        parts.append(
            f"reference document retrieved for {metrics['hit_rate']:.0%} of "
            f"{int(metrics['eval_rows'])} holdout questions (MRR {metrics['mrr']:.2f})"
        )
    if "context_recall" in metrics:
        parts.append(
            f"context precision {metrics['context_precision']:.2f}, recall "
            f"{metrics['context_recall']:.2f}"
        )
    if "answer_similarity" in metrics:
        parts.append(
            f"answer similarity {metrics.get('baseline_answer_similarity', 0):.2f} "
            f"without retrieval -> {metrics['answer_similarity']:.2f} with it"
        )
    if "faithfulness" in metrics:
        parts.append(f"faithfulness {metrics['faithfulness']:.2f}")
    return "; ".join(parts) + "."
