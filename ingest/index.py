"""Stage 5: write a new generation (vectors and lexical index), verify it, then make it active."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from assistant.embeddings import Embedder
from assistant.errors import NurtureError
from assistant.lexical import LexicalIndex
from assistant.models import Chunk, Document, QuestionRecord
from assistant.questions import build_question_lexical
from assistant.store import Generation, IndexStore

logger = logging.getLogger(__name__)


class VerificationError(NurtureError):
    """A freshly built generation did not pass its checks; it is never made active."""

    status_code = 500
    kind = "index_verification_failed"


def build_lexical(chunks: Sequence[Chunk], directory: Path) -> None:
    LexicalIndex.build([c.id for c in chunks], [c.embedding_text() for c in chunks]).save(directory)


def write_generation(
    store: IndexStore,
    embedder: Embedder,
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    manifest: dict[str, str],
    lexical_root: Path,
    documents: Sequence[Document],
    questions: Sequence[QuestionRecord] = (),
    question_vectors: np.ndarray | None = None,
    question_lexical_root: Path | None = None,
    sentences: Sequence[str] = (),
    sentence_vectors: np.ndarray | None = None,
) -> Generation:
    """Build, verify and record a generation (passages, questions and quotable sentences). It
    is not active until `activate` is called."""
    name, collection = store.new_generation(embedder.name, embedder.dimension)
    try:
        store.add(collection, chunks, vectors)
        verify(store, name, embedder, chunks)
        build_lexical(chunks, lexical_root / name)
        if questions:
            assert question_vectors is not None and question_lexical_root is not None
            asked = store.new_question_collection(name, embedder.name, embedder.dimension)
            store.add_questions(asked, questions, question_vectors)
            verify_questions(store, name, embedder, questions)
            build_question_lexical(list(questions)).save(question_lexical_root / name)
        if sentences:
            assert sentence_vectors is not None
            quoted = store.new_sentence_collection(name, embedder.name, embedder.dimension)
            store.add_sentences(quoted, sentences, sentence_vectors)
            if quoted.count() != len(sentences):
                raise VerificationError(
                    f"generation {name} holds {quoted.count()} sentences, expected {len(sentences)}"
                )
        store.record_documents(name, documents)
    except BaseException:
        # Clean up what we can; anything left behind is pruned by the next ingest.
        try:
            store.drop_generation(name)
        except Exception:  # noqa: BLE001 - the original error matters more
            logger.warning("could not remove unfinished generation %s", name)
        raise
    generation = Generation(
        name=name,
        model=embedder.name,
        dimension=embedder.dimension,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        chunk_count=len(chunks),
        doc_count=len({chunk.doc_id for chunk in chunks}),
        manifest=manifest,
    )
    store.record(generation)
    return generation


def verify(store: IndexStore, name: str, embedder: Embedder, chunks: Sequence[Chunk]) -> None:
    collection = store.collection(name)
    if collection.count() != len(chunks):
        raise VerificationError(
            f"generation {name} holds {collection.count()} chunks, expected {len(chunks)}"
        )
    missing = {chunk.id for chunk in chunks}
    for found, vectors in store.vectors(collection, [chunk.id for chunk in chunks]):
        missing.difference_update(found)
        if vectors.shape != (len(found), embedder.dimension) or not np.isfinite(vectors).all():
            raise VerificationError(f"generation {name} has missing or malformed vectors")
    if missing:
        raise VerificationError(f"generation {name} is missing chunks: {sorted(missing)[:5]}")
    # Canary: the text of one chunk, embedded afresh, must find its own document first.
    canary = chunks[len(chunks) // 2]
    hits = store.query(collection, embedder.embed_query(canary.embedding_text()), k=3)
    if not hits or canary.doc_id not in {chunk.doc_id for chunk, _ in hits[:3]}:
        raise VerificationError(f"generation {name} failed its canary query for {canary.doc_id}")


def verify_questions(
    store: IndexStore, name: str, embedder: Embedder, questions: Sequence[QuestionRecord]
) -> None:
    collection = store.question_collection(name)
    if collection is None or collection.count() != len(questions):
        held = collection.count() if collection is not None else 0
        raise VerificationError(
            f"generation {name} holds {held} questions, expected {len(questions)}"
        )
    missing = {q.id for q in questions}
    for found, vectors in store.vectors(collection, [q.id for q in questions]):
        missing.difference_update(found)
        if vectors.shape != (len(found), embedder.dimension) or not np.isfinite(vectors).all():
            raise VerificationError(f"generation {name} has missing or malformed question vectors")
    if missing:
        raise VerificationError(f"generation {name} is missing questions: {sorted(missing)[:5]}")
    # Canary: a phrasing embedded afresh finds itself (or a record with the same words). The
    # search is approximate (HNSW): at a few hundred thousand records one probe can miss, so
    # three are tried and the index fails only if none finds itself among the nearest ten.
    probes = {q.id: q for q in (questions[len(questions) // 2], questions[0], questions[-1])}
    for canary in probes.values():
        hits = store.query_questions(name, embedder.embed_query(canary.text), k=10)
        if any(record.text == canary.text and score > 0.99 for record, score in hits):
            return
    raise VerificationError(
        f"generation {name} failed its question canary for {questions[0].section_id}"
    )


def prune(store: IndexStore, lexical_roots: Sequence[Path], keep: set[str]) -> list[str]:
    """Drop every generation not in `keep` (with any collection a killed run left behind),
    and its lexical indexes."""
    removed = store.prune(keep)
    for root in lexical_roots:
        if root.is_dir():
            for path in root.iterdir():
                if path.name not in keep:
                    shutil.rmtree(path, ignore_errors=True)
    return removed
