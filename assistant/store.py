"""The vector store: Chroma collections, one per index generation, and the active pointer.

Each ingest writes a new generation (its own collection), verifies it, and only then moves the
`active` pointer. The pointer and each generation's manifest live in a small metadata collection
in the same Chroma, so every API instance that reads that Chroma (embedded or a server) agrees
on which generation is serving. Moving the pointer is a single-record upsert: atomic.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError

from assistant.config import Settings
from assistant.errors import ConfigError, IndexNotReadyError
from assistant.models import Chunk, Document, QuestionRecord

logger = logging.getLogger(__name__)

_ACTIVE = "active"
_DRAFT = "draft"
_QUESTIONS = "_questions"  # suffix of a generation's question collection
_SENTENCES = "_sentences"  # suffix of a generation's quotable-sentence collection
_PAGE = 5000  # chunks read per request
_PAGE_IDS = 500  # document ids per `$in` filter
_PAGE_GET = 1000  # ids per `get(ids=...)` (SQLite refuses ~32k variables; vectors are large)
_SEGMENT_DIR = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class RefuseToEmbed(EmbeddingFunction[Documents]):
    """Stands in for Chroma's default embedding function, which would download a model."""

    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:  # noqa: ARG002 - Chroma's signature
        raise RuntimeError("Nurture passes its own embeddings; Chroma must never embed text")

    @staticmethod
    def name() -> str:
        return "nurture-refuse"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> RefuseToEmbed:  # noqa: ARG004
        return RefuseToEmbed()


@dataclass
class Generation:
    name: str
    model: str
    dimension: int
    built_at: str
    chunk_count: int
    doc_count: int
    # doc id -> content hash of the file that produced its chunks
    manifest: dict[str, str] = field(default_factory=dict)


def connect(settings: Settings) -> ClientAPI:
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(
                f"NURTURE_CHROMA_URL={settings.chroma_url!r} is not a URL like http://host:8000"
            )
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 80),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


class IndexStore:
    def __init__(self, client: ClientAPI, prefix: str = "nurture") -> None:
        self.client = client
        self.prefix = prefix
        self._meta = client.get_or_create_collection(
            f"{prefix}_meta", embedding_function=RefuseToEmbed()
        )

    # -- generations -------------------------------------------------------------------

    def collection_name(self, generation: str) -> str:
        return f"{self.prefix}_{generation}"

    def new_generation(self, model: str, dimension: int) -> tuple[str, Collection]:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        name = f"g{stamp}{secrets.token_hex(3)}"
        return name, self._create(self.collection_name(name), model, dimension)

    def collection(self, generation: str) -> Collection:
        return self.client.get_collection(
            self.collection_name(generation), embedding_function=RefuseToEmbed()
        )

    def question_collection_name(self, generation: str) -> str:
        return f"{self.prefix}_{generation}{_QUESTIONS}"

    def new_question_collection(self, generation: str, model: str, dimension: int) -> Collection:
        return self._create(self.question_collection_name(generation), model, dimension)

    def question_collection(self, generation: str) -> Collection | None:
        """The generation's question index, or None for a generation built before it existed."""
        return self._optional(self.question_collection_name(generation))

    def sentence_collection_name(self, generation: str) -> str:
        return f"{self.prefix}_{generation}{_SENTENCES}"

    def new_sentence_collection(self, generation: str, model: str, dimension: int) -> Collection:
        return self._create(self.sentence_collection_name(generation), model, dimension)

    def sentence_collection(self, generation: str) -> Collection | None:
        """The generation's quotable sentences, or None for a generation built before them."""
        return self._optional(self.sentence_collection_name(generation))

    def _create(self, name: str, model: str, dimension: int) -> Collection:
        return self.client.create_collection(
            name,
            embedding_function=RefuseToEmbed(),
            metadata={"hnsw:space": "cosine", "model": model, "dimension": dimension},
        )

    def _optional(self, name: str) -> Collection | None:
        try:
            return self.client.get_collection(name, embedding_function=RefuseToEmbed())
        except (ValueError, NotFoundError):
            return None

    def pointer(self) -> tuple[str | None, str | None]:
        """(active, previous) generation names."""
        record = self._meta.get(ids=[_ACTIVE], include=["metadatas"])
        if not record["ids"]:
            return None, None
        meta = record["metadatas"][0] or {}
        return (meta.get("generation") or None), (meta.get("previous") or None)

    def generation(self, name: str) -> Generation | None:
        record = self._meta.get(ids=[f"gen:{name}"], include=["metadatas", "documents"])
        if not record["ids"]:
            return None
        meta = record["metadatas"][0]
        return Generation(
            name=name,
            model=str(meta["model"]),
            dimension=int(meta["dimension"]),
            built_at=str(meta["built_at"]),
            chunk_count=int(meta["chunk_count"]),
            doc_count=int(meta["doc_count"]),
            manifest=json.loads(record["documents"][0] or "{}"),
        )

    def active(self) -> Generation | None:
        name, _ = self.pointer()
        return self.generation(name) if name else None

    def require_active(self, model: str, dimension: int) -> Generation:
        """The serving generation, refused if it was built by another embedding model."""
        generation = self.active()
        if generation is None:
            raise IndexNotReadyError("no index has been built yet: run `nurture ingest`")
        if generation.model != model or generation.dimension != dimension:
            raise IndexNotReadyError(
                f"the index was built with {generation.model} ({generation.dimension} dims) but "
                f"this service uses {model} ({dimension} dims): run `nurture ingest --full` to "
                "rebuild it with the current model"
            )
        return generation

    def record(self, generation: Generation) -> None:
        """Store a verified generation's details and manifest (before it is made active)."""
        self._meta.upsert(
            ids=[f"gen:{generation.name}"],
            documents=[json.dumps(generation.manifest, sort_keys=True)],
            metadatas=[
                {
                    "model": generation.model,
                    "dimension": generation.dimension,
                    "built_at": generation.built_at,
                    "chunk_count": generation.chunk_count,
                    "doc_count": generation.doc_count,
                }
            ],
            embeddings=[[0.0]],
        )

    def activate(self, name: str, previous: str | None) -> None:
        """The one atomic step that changes what every reader serves."""
        self._meta.upsert(
            ids=[_ACTIVE],
            metadatas=[{"generation": name, "previous": previous or ""}],
            documents=[""],
            embeddings=[[0.0]],
        )

    def set_draft(self, name: str | None, base: str | None = None) -> None:
        """Remember the latest previewed (built, verified, not active) generation, and the
        active one it was compared with; None forgets it."""
        if name is None:
            self._meta.delete(ids=[_DRAFT])
            return
        self._meta.upsert(
            ids=[_DRAFT],
            metadatas=[{"generation": name, "base": base or ""}],
            documents=[""],
            embeddings=[[0.0]],
        )

    def draft(self) -> tuple[str, str] | None:
        """(draft, the generation it was previewed against), while the draft still exists."""
        record = self._meta.get(ids=[_DRAFT], include=["metadatas"])
        if not record["ids"]:
            return None
        meta = record["metadatas"][0] or {}
        name = str(meta.get("generation") or "")
        if not name or self.generation(name) is None:
            return None
        return name, str(meta.get("base") or "")

    def generations(self) -> list[str]:
        """Every generation with a collection in this store (its passages or its questions)."""
        prefix = f"{self.prefix}_g"
        names = [
            collection.name if hasattr(collection, "name") else str(collection)
            for collection in self.client.list_collections()
        ]
        found = set()
        for name in names:
            if name.startswith(prefix):
                generation = name[len(self.prefix) + 1 :]
                found.add(generation.removesuffix(_QUESTIONS).removesuffix(_SENTENCES))
        return sorted(found)

    def drop_generation(self, name: str) -> None:
        """Remove a generation's collections and records (whatever of them exists)."""
        existing = {
            collection.name if hasattr(collection, "name") else str(collection)
            for collection in self.client.list_collections()
        }
        for collection in (
            self.collection_name(name),
            self.question_collection_name(name),
            self.sentence_collection_name(name),
        ):
            if collection in existing:
                self.client.delete_collection(collection)
        self._meta.delete(ids=[f"gen:{name}"])
        self._meta.delete(where={"doc_generation": name})
        self.sweep_segments()

    def prune(self, keep: set[str]) -> list[str]:
        """Drop every generation not in `keep`, including collections a killed run left."""
        removed = []
        for name in self.generations():
            if name not in keep:
                self.drop_generation(name)
                removed.append(name)
        self.sweep_segments()
        return removed

    def sweep_segments(self) -> list[str]:
        """Remove vector-segment folders that no collection uses any more. Embedded Chroma
        leaves a deleted collection's HNSW folder on disk; a server manages its own files."""
        settings = self.client.get_settings()
        if not settings.is_persistent or not settings.persist_directory:
            return []
        root = Path(settings.persist_directory)
        database = root / "chroma.sqlite3"
        if not database.exists():
            return []
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
            used = {str(row[0]) for row in connection.execute("SELECT id FROM segments")}
        removed = []
        for path in root.iterdir():
            if path.is_dir() and _SEGMENT_DIR.match(path.name) and path.name not in used:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        if removed:
            logger.info("removed %d unused Chroma segment folders", len(removed))
        return removed

    def vectors(
        self, collection: Collection, ids: Sequence[str]
    ) -> Iterator[tuple[list[str], np.ndarray]]:
        """The stored vectors of `ids` (those that exist), page by page, so a large index is
        never held twice in memory."""
        for start in range(0, len(ids), _PAGE_GET):
            page = collection.get(ids=list(ids[start : start + _PAGE_GET]), include=["embeddings"])
            yield list(page["ids"]), np.asarray(page["embeddings"], dtype=np.float32)

    # -- documents (for opening a citation) -------------------------------------------

    def record_documents(self, generation: str, documents: Sequence[Document]) -> None:
        """Keep each document's metadata and sections with the generation that indexes it."""
        batch = self.client.get_max_batch_size()
        for start in range(0, len(documents), batch):
            part = documents[start : start + batch]
            self._meta.upsert(
                ids=[f"doc:{generation}:{doc.id}" for doc in part],
                documents=[doc.model_dump_json() for doc in part],
                metadatas=[{"doc_generation": generation, "doc_id": doc.id} for doc in part],
                embeddings=[[0.0]] * len(part),
            )

    def documents(self, generation: str) -> list[Document]:
        result = self._meta.get(where={"doc_generation": generation}, include=["documents"])
        docs = [Document.model_validate_json(text) for text in result["documents"]]
        return sorted(docs, key=lambda doc: doc.id)

    # -- chunks ------------------------------------------------------------------------

    def add(self, collection: Collection, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        batch = self.client.get_max_batch_size()
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            collection.add(
                ids=[chunk.id for chunk in part],
                documents=[chunk.text for chunk in part],
                metadatas=[chunk.to_metadata() for chunk in part],
                embeddings=vectors[start : start + batch],
            )

    def chunks(
        self,
        collection: Collection,
        doc_ids: Sequence[str] | None = None,
        *,
        with_vectors: bool = True,
    ) -> tuple[list[Chunk], np.ndarray]:
        """Chunks (optionally of some documents only) with their stored vectors, read in pages
        (one large read runs into SQLite's limit on query variables)."""
        wheres: list[dict[str, Any] | None] = [None]
        if doc_ids is not None:
            ids = list(doc_ids)
            wheres = [
                {"doc_id": {"$in": ids[i : i + _PAGE_IDS]}} for i in range(0, len(ids), _PAGE_IDS)
            ]
        rows, vectors = _read_pages(collection, wheres, with_vectors)
        return [Chunk.from_metadata(*row) for row in rows], vectors

    def nearest(
        self,
        collection: Collection,
        vector: np.ndarray,
        k: int,
        where: dict[str, Any] | None = None,
    ) -> list[tuple[str, float]]:
        """Ids and cosine similarities only: the cheap query when the caller holds the chunks
        (`k` must not exceed the collection's size)."""
        if k <= 0:
            return []
        result = collection.query(
            query_embeddings=[vector], n_results=k, where=where, include=["distances"]
        )
        return [
            (chunk_id, 1.0 - float(distance))
            for chunk_id, distance in zip(result["ids"][0], result["distances"][0], strict=True)
        ]

    def query(
        self,
        collection: Collection,
        vector: np.ndarray,
        k: int,
        where: dict[str, Any] | None = None,
    ) -> list[tuple[Chunk, float]]:
        """Nearest chunks with cosine similarity (1 is identical)."""
        return [
            (Chunk.from_metadata(chunk_id, text, meta), score)
            for chunk_id, text, meta, score in _nearest(collection, vector, k, where)
        ]

    # -- questions (headings and "Also asked as" phrasings, each pointing at its section) --

    def add_questions(
        self, collection: Collection, records: Sequence[QuestionRecord], vectors: np.ndarray
    ) -> None:
        batch = self.client.get_max_batch_size()
        for start in range(0, len(records), batch):
            part = records[start : start + batch]
            collection.add(
                ids=[record.id for record in part],
                documents=[record.text for record in part],
                metadatas=[record.to_metadata() for record in part],
                embeddings=vectors[start : start + batch],
            )

    def question_records(
        self, collection: Collection, *, with_vectors: bool = True
    ) -> tuple[list[QuestionRecord], np.ndarray]:
        """Every record of a question collection (with its vectors), read in pages."""
        rows, vectors = _read_pages(collection, [None], with_vectors)
        return [QuestionRecord.from_metadata(*row) for row in rows], vectors

    def questions(self, generation: str) -> list[QuestionRecord]:
        """All question records of a generation ([] if it has no question index)."""
        collection = self.question_collection(generation)
        if collection is None:
            return []
        return self.question_records(collection, with_vectors=False)[0]

    def query_questions(
        self,
        generation: str,
        vector: np.ndarray,
        k: int,
        where: dict[str, Any] | None = None,
    ) -> list[tuple[QuestionRecord, float]]:
        """Nearest question phrasings with cosine similarity, best first."""
        collection = self.question_collection(generation)
        if collection is None or k <= 0:
            return []
        return [
            (QuestionRecord.from_metadata(record_id, text, meta), score)
            for record_id, text, meta, score in _nearest(collection, vector, k, where)
        ]

    # -- quotable sentences (each embedded once, so the composer can tell which answers) --

    def add_sentences(
        self, collection: Collection, texts: Sequence[str], vectors: np.ndarray
    ) -> None:
        batch = self.client.get_max_batch_size()
        for start in range(0, len(texts), batch):
            part = list(texts[start : start + batch])
            collection.add(
                ids=[sentence_id(text) for text in part],
                documents=part,
                embeddings=vectors[start : start + batch],
            )

    def sentences(self, collection: Collection) -> tuple[list[str], np.ndarray]:
        """Every sentence of a sentence collection and its vector, read in pages."""
        rows, vectors = _read_pages(collection, [None], with_vectors=True)
        return [text for _, text, _ in rows], vectors


def sentence_id(text: str) -> str:
    """A sentence's id: the same words give the same id in every generation."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _read_pages(
    collection: Collection, wheres: list[dict[str, Any] | None], with_vectors: bool
) -> tuple[list[tuple[str, str, dict[str, Any]]], np.ndarray]:
    """(id, document, metadata) of every record matching any of `wheres`, and their vectors,
    read `_PAGE` at a time (one large read runs into SQLite's limit on query variables)."""
    include = ["documents", "metadatas"] + (["embeddings"] if with_vectors else [])
    rows: list[tuple[str, str, dict[str, Any]]] = []
    vectors: list[np.ndarray] = []
    for where in wheres:
        offset = 0
        while True:
            page = collection.get(where=where, include=include, limit=_PAGE, offset=offset)
            rows += zip(page["ids"], page["documents"], page["metadatas"], strict=True)
            if with_vectors and len(page["ids"]):
                vectors.append(np.asarray(page["embeddings"], dtype=np.float32))
            if len(page["ids"]) < _PAGE:
                break
            offset += _PAGE
    if not with_vectors or not vectors:
        return rows, np.zeros((0, 0), dtype=np.float32)
    return rows, np.vstack(vectors)


def _nearest(
    collection: Collection, vector: np.ndarray, k: int, where: dict[str, Any] | None
) -> list[tuple[str, str, dict[str, Any], float]]:
    """(id, document, metadata, cosine similarity) of the k nearest records, best first."""
    count = collection.count()
    if count == 0:
        return []
    result = collection.query(
        query_embeddings=[vector],
        n_results=min(k, count),
        where=where,
        include=["documents", "metadatas", "distances"],
    )
    return [
        (record_id, text, meta, 1.0 - float(distance))
        for record_id, text, meta, distance in zip(
            result["ids"][0],
            result["documents"][0],
            result["metadatas"][0],
            result["distances"][0],
            strict=True,
        )
    ]


class PinnedStore(IndexStore):
    """The same store with one generation pinned as "active": a Retriever built on it serves
    that generation (a draft, for previews) whatever the pointer says."""

    def __init__(self, store: IndexStore, generation: str) -> None:
        super().__init__(store.client, store.prefix)
        self.pinned = generation

    def pointer(self) -> tuple[str | None, str | None]:
        return self.pinned, None


def open_store(settings: Settings) -> IndexStore:
    return IndexStore(connect(settings), settings.collection_prefix)
