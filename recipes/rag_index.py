"""The RAG recipe's index: documents checked, split into chunks, embedded (offline MiniLM) into
langchain's ``InMemoryVectorStore`` (dumped to ``index/store.json``) or a pgvector collection, and
reopened from the index folder's ``manifest.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recipes.errors import RecipeConfigError, RecipeEnvironmentError

if TYPE_CHECKING:
    from langchain_core.documents import Document
    from langchain_core.vectorstores import VectorStore

EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


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


def split_documents(
    documents: list[dict[str, Any]], *, chunk_size: int, chunk_overlap: int
) -> list[Document]:
    """Each document cut into overlapping chunks, ids ``<doc id>#<n>``."""
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    chunks: list[Document] = []
    for doc in documents:
        for n, piece in enumerate(splitter.split_text(doc["text"])):
            metadata = {**doc["metadata"], "doc_id": doc["id"], "chunk": n}
            chunks.append(Document(page_content=piece, metadata=metadata, id=f"{doc['id']}#{n}"))
    return chunks


def build_store(
    chunks: list[Document], *, vector_store: str, collection: str, postgres_url: str | None
) -> VectorStore:
    """The chunks embedded into an in-memory store or a pgvector collection."""
    from recipes.embeddings import MiniLMEmbeddings

    embeddings = MiniLMEmbeddings()
    if vector_store == "memory":
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
            collection_name=collection,
            connection=postgres_url,
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


def write_index(
    store: VectorStore,
    index_dir: Path,
    *,
    vector_store: str,
    collection: str,
    **settings: Any,
) -> None:
    """Dump an in-memory store and write the manifest `load_index` reads (``settings``: chunking,
    top_k, system prompt and counts, recorded as given)."""
    if vector_store == "memory":
        store.dump(str(index_dir / "store.json"))  # type: ignore[attr-defined]
    manifest = {
        "vector_store": vector_store,
        "collection": collection if vector_store == "pgvector" else None,
        "embedding_model": EMBEDDING_MODEL,
        **settings,
    }
    (index_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
