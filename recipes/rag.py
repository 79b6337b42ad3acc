"""The RAG rung: a langchain pipeline split -> embed -> index -> retrieve -> answer.

* split: ``RecursiveCharacterTextSplitter`` (``chunk_size``/``chunk_overlap`` characters);
* embed: offline all-MiniLM-L6-v2 (`recipes.embeddings.MiniLMEmbeddings`);
* index: langchain's ``InMemoryVectorStore`` dumped to ``output_dir/index/store.json``
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

Metrics on the holdout: ``hit_rate`` and ``mrr`` (a chunk of a reference document among the
top_k), ragas' non-LLM ``context_precision`` (NonLLMContextPrecisionWithReference) and
``context_recall`` (NonLLMContextRecall) against the reference documents' texts, and
``answer_similarity`` (NonLLMStringSimilarity of answer vs reference; ``baseline_answer_similarity``
for the same model without retrieval). With a judge: ragas ``faithfulness`` and
``answer_correctness``. Artifacts: ``index`` (folder with manifest.json) and ``eval_report``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from recipes.base_models import DEFAULT_BASE_MODEL
from recipes.config_base import RecipeConfig, require
from recipes.errors import (
    RecipeCancelledError,
    RecipeConfigError,
    RecipeEnvironmentError,
    RecipeRuntimeError,
)
from recipes.rows import sft_messages
from recipes.run_types import ProgressEvent, ProgressFn, RecipeResult, StopFn, emit, finish

if TYPE_CHECKING:
    from langchain_core.documents import Document
    from langchain_core.language_models import BaseChatModel
    from langchain_core.vectorstores import VectorStore

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


def check_documents(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not documents:
        raise RecipeConfigError(
            "rag: documents is empty; give the knowledge to index", field="documents"
        )
    seen: set[str] = set()
    out = []
    for i, doc in enumerate(documents):
        if not isinstance(doc, dict) or not isinstance(doc.get("text"), str):
            raise RecipeConfigError(f"rag: document {i} needs a 'text' string", field="documents")
        doc_id = str(doc.get("id", i))
        if doc_id in seen:
            raise RecipeConfigError(f"rag: duplicate document id {doc_id!r}", field="documents")
        seen.add(doc_id)
        metadata = doc.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise RecipeConfigError(
                f"rag: document {doc_id} metadata must be an object", field="documents"
            )
        out.append({"id": doc_id, "text": doc["text"], "metadata": metadata})
    return out


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


def split_documents(documents: list[dict[str, Any]], config: RagConfig) -> list[Document]:
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=config.chunk_size, chunk_overlap=config.chunk_overlap
    )
    chunks: list[Document] = []
    for doc in documents:
        for n, piece in enumerate(splitter.split_text(doc["text"])):
            metadata = {**doc["metadata"], "doc_id": doc["id"], "chunk": n}
            chunks.append(Document(page_content=piece, metadata=metadata, id=f"{doc['id']}#{n}"))
    return chunks


def build_store(chunks: list[Document], config: RagConfig) -> VectorStore:
    from recipes.embeddings import MiniLMEmbeddings

    embeddings = MiniLMEmbeddings()
    if config.vector_store == "memory":
        from langchain_core.vectorstores import InMemoryVectorStore

        store = InMemoryVectorStore(embedding=embeddings)
        store.add_documents(chunks, ids=[c.id for c in chunks])
        return store
    try:
        from langchain_postgres import PGVector
    except ImportError as exc:
        raise RecipeEnvironmentError(
            "vector_store=pgvector needs the langchain-postgres package "
            "(pip install langchain-postgres); or use vector_store=memory"
        ) from exc
    try:
        store = PGVector(
            embeddings=embeddings,
            collection_name=config.collection,
            connection=config.postgres_url,
            use_jsonb=True,
            pre_delete_collection=True,
        )
        store.add_documents(chunks, ids=[c.id for c in chunks])
    except Exception as exc:
        raise RecipeEnvironmentError(
            f"pgvector index failed ({exc}); the server needs the vector extension "
            "(`create extension vector`), or use vector_store=memory"
        ) from exc
    return store


def load_index(index_dir: Path, *, postgres_url: str | None = None) -> VectorStore:
    """Reopen an index written by `run` (memory store from disk, or the pgvector collection)."""
    from recipes.embeddings import MiniLMEmbeddings

    manifest = json.loads((Path(index_dir) / "manifest.json").read_text())
    if manifest["vector_store"] == "memory":
        from langchain_core.vectorstores import InMemoryVectorStore

        return InMemoryVectorStore.load(str(Path(index_dir) / "store.json"), MiniLMEmbeddings())
    if not postgres_url:
        raise RecipeConfigError(
            "this index lives in pgvector: pass postgres_url", field="postgres_url"
        )
    from langchain_postgres import PGVector

    return PGVector(
        embeddings=MiniLMEmbeddings(),
        collection_name=manifest["collection"],
        connection=postgres_url,
        use_jsonb=True,
    )


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
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
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
    chunks = split_documents(docs, config)
    store = build_store(chunks, config)
    if config.vector_store == "memory":
        store.dump(str(index_dir / "store.json"))
    manifest = {
        "vector_store": config.vector_store,
        "collection": config.collection if config.vector_store == "pgvector" else None,
        "embedding_model": "sentence-transformers/all-MiniLM-L6-v2",
        "chunk_size": config.chunk_size,
        "chunk_overlap": config.chunk_overlap,
        "top_k": config.top_k,
        "system_prompt": config.system_prompt,
        "documents": len(docs),
        "chunks": len(chunks),
    }
    (index_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
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

    metrics = _retrieval_metrics(report)
    metrics.update(_ragas_metrics(report, judge_model=judge_model))
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


def _retrieval_metrics(report: list[dict[str, Any]]) -> dict[str, float]:
    judged = [r for r in report if r["reference_doc_ids"]]
    if not judged:
        return {}
    hits, reciprocal = 0, 0.0
    for r in judged:
        ranks = [n for n, d in enumerate(r["retrieved_doc_ids"], 1) if d in r["reference_doc_ids"]]
        if ranks:
            hits += 1
            reciprocal += 1.0 / ranks[0]
    return {"hit_rate": hits / len(judged), "mrr": reciprocal / len(judged)}


def _ragas_metrics(
    report: list[dict[str, Any]], *, judge_model: BaseChatModel | None
) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ragas import SingleTurnSample
        from ragas.metrics import (
            NonLLMContextPrecisionWithReference,
            NonLLMContextRecall,
            NonLLMStringSimilarity,
        )

    out: dict[str, float] = {}

    def mean_score(metric: Any, samples: list[Any]) -> float | None:
        if not samples:
            return None
        return sum(float(metric.single_turn_score(s)) for s in samples) / len(samples)

    with_refs = [r for r in report if r["reference_contexts"] and r["retrieved_contexts"]]
    context_samples = [
        SingleTurnSample(
            user_input=r["question"],
            retrieved_contexts=r["retrieved_contexts"],
            reference_contexts=r["reference_contexts"],
        )
        for r in with_refs
    ]
    for key, metric in (
        ("context_precision", NonLLMContextPrecisionWithReference()),
        ("context_recall", NonLLMContextRecall()),
    ):
        value = mean_score(metric, context_samples)
        if value is not None:
            out[key] = value
    answered = [r for r in report if r.get("answer") is not None and r["reference"]]
    for key, field_name in (
        ("answer_similarity", "answer"),
        ("baseline_answer_similarity", "baseline_answer"),
    ):
        samples = [
            SingleTurnSample(response=r[field_name], reference=r["reference"]) for r in answered
        ]
        value = mean_score(NonLLMStringSimilarity(), samples)
        if value is not None:
            out[key] = value
    if judge_model is not None and answered:
        out.update(_llm_metrics(answered, judge_model))
    return out


def _llm_metrics(answered: list[dict[str, Any]], judge_model: BaseChatModel) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ragas import EvaluationDataset, SingleTurnSample, evaluate
        from ragas.embeddings import LangchainEmbeddingsWrapper
        from ragas.llms import LangchainLLMWrapper
        from ragas.metrics import AnswerCorrectness, Faithfulness

    from recipes.embeddings import MiniLMEmbeddings

    dataset = EvaluationDataset(
        samples=[
            SingleTurnSample(
                user_input=r["question"],
                response=r["answer"],
                reference=r["reference"],
                retrieved_contexts=r["retrieved_contexts"],
            )
            for r in answered
        ]
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            result = evaluate(
                dataset,
                metrics=[Faithfulness(), AnswerCorrectness()],
                llm=LangchainLLMWrapper(judge_model),
                embeddings=LangchainEmbeddingsWrapper(MiniLMEmbeddings()),
                show_progress=False,
            )
    except Exception as exc:
        raise RecipeRuntimeError(f"the judge model failed ({exc})", retryable=True) from exc
    frame = result.to_pandas()
    out: dict[str, float] = {}
    for key, column in (
        ("faithfulness", "faithfulness"),
        ("answer_correctness", "answer_correctness"),
    ):
        if column in frame and frame[column].notna().any():
            out[key] = float(frame[column].mean(skipna=True))
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
