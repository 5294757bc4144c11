"""Ingest at scale: verification in pages, a per-file size limit, no orphaned Chroma collections
or segment folders, future review dates and duplicate front-matter keys refused."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.models import Chunk
from assistant.store import open_store
from ingest.index import verify
from ingest.load import load_corpus
from ingest.pipeline import Pipeline
from ingest.validate import validate_document
from tests.ingest.test_load import GOOD_FRONT, only_error


class HashEmbedder:
    """Deterministic 8-dimensional vectors: enough for tests of bookkeeping, not meaning."""

    name = "hash-8"
    max_tokens = 256
    dimension = 8

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed_documents(self, texts: list[str], *, progress: bool = False) -> np.ndarray:  # noqa: ARG002
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest()[:8], np.uint8) for t in texts]
        vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), 8) + 1.0
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def chunk(n: int) -> Chunk:
    return Chunk(
        id=f"bulk/{n // 10}::{n % 10}",
        doc_id=f"bulk/{n // 10}",
        title=f"Document {n // 10}",
        type="guidance",
        heading_path=[f"Section {n}"],
        anchor=f"section-{n}",
        chunk_index=n % 10,
        start=0,
        end=10,
        text=f"Passage number {n}.",
        content_hash="h",
        doc_hash="h",
        reviewed=date(2026, 1, 1),
        source_names=["S"],
        url=None,
    )


@pytest.mark.slow
def test_verify_reads_vectors_in_pages_past_sqlites_variable_limit(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    store = open_store(settings)
    embedder = HashEmbedder()
    chunks = [chunk(n) for n in range(33_000)]
    name, collection = store.new_generation(embedder.name, embedder.dimension)
    store.add(collection, chunks, embedder.embed_documents([c.embedding_text() for c in chunks]))
    verify(store, name, embedder, chunks)  # one get(ids=33k) fails: "too many SQL variables"
    pages = list(store.vectors(collection, [c.id for c in chunks]))
    assert sum(len(found) for found, _ in pages) == 33_000
    assert all(vectors.shape == (len(found), 8) for found, vectors in pages)


def test_a_file_over_the_size_limit_is_an_error_naming_the_setting(
    corpus: Path, embedded_settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    big = corpus / "guidance" / "big.md"
    big.write_text(GOOD_FRONT + "\n## Big?\n\n" + "Words about sleep. " * 3500 + "\n")
    result = load_corpus(corpus, max_file_bytes=40_000)
    assert [e.path for e in result.errors] == ["corpus/guidance/big.md"]
    assert "NURTURE_MAX_FILE_BYTES" in str(result.errors[0])
    assert "guidance/big" in result.failed_ids
    assert Settings().max_file_bytes == 2 * 1024 * 1024
    settings = embedded_settings.model_copy(update={"max_file_bytes": 40_000})
    report = Pipeline(settings, open_store(settings), embedder).run()
    assert not report.ok and "NURTURE_MAX_FILE_BYTES" in str(report.errors[0])
    assert report.documents == 7


def test_a_future_review_date_is_refused_by_ingest(corpus: Path) -> None:
    (corpus / "guidance" / "later.md").write_text(
        GOOD_FRONT.replace("reviewed: 2026-01-01", "reviewed: 2999-01-01") + "\nText.\n"
    )
    error = only_error(corpus)
    assert error.path == "corpus/guidance/later.md" and error.field == "reviewed"
    assert "in the future" in str(error)
    raw = next(r for r in load_corpus(corpus).documents if r.id == "guidance/later")
    validate_document(raw, today=date(3000, 1, 1))  # not in the future then


def test_a_duplicate_front_matter_key_names_the_key_and_file(corpus: Path) -> None:
    (corpus / "guidance" / "twice.md").write_text(
        GOOD_FRONT.replace("summary: One sentence.", "summary: One.\ntitle: Again") + "\nText.\n"
    )
    error = only_error(corpus)
    assert error.path == "corpus/guidance/twice.md" and error.line == 5
    assert "'title' more than once" in str(error)


def segment_folders(settings: Settings) -> set[str]:
    return {p.name for p in settings.chroma_path.iterdir() if p.is_dir()}


@pytest.mark.parametrize("killed", [False, True])
def test_pruning_removes_collections_and_segment_folders(
    embedded_settings: Settings, embedder: SentenceTransformerEmbedder, killed: bool
) -> None:
    settings = embedded_settings
    store = open_store(settings)
    first = Pipeline(settings, store, embedder).run()
    if killed:  # what a run killed mid-write leaves: collections with vectors, never active
        name, collection = store.new_generation(embedder.name, embedder.dimension)
        chunks, vectors = store.chunks(store.collection(str(first.active)))
        store.add(collection, chunks, vectors)
        asked = store.new_question_collection(name, embedder.name, embedder.dimension)
        records, question_vectors = store.question_records(
            asked_from := store.question_collection(str(first.active))
        )
        assert asked_from is not None
        store.add_questions(asked, records, question_vectors)
        quoted_from = store.sentence_collection(str(first.active))
        assert quoted_from is not None
        texts, sentence_vectors = store.sentences(quoted_from)
        quoted = store.new_sentence_collection(name, embedder.name, embedder.dimension)
        store.add_sentences(quoted, texts, sentence_vectors)
    for step in range(3):
        pause = settings.corpus_dir / "programmes" / "pause.md"
        pause.write_text(pause.read_text() + f"\nMore about Pause, part {step}.\n")
        report = Pipeline(settings, store, embedder).run()
        assert report.ok
    # Two generations (active and previous), each with passages, questions and sentences,
    # and meta.
    names = sorted(c.name for c in store.client.list_collections())
    assert len(names) == 7, names
    assert set(store.generations()) == {report.active, report.previous}
    # Every segment folder on disk belongs to a live collection: nothing orphaned.
    assert len(segment_folders(settings)) <= 7
    assert store.sweep_segments() == []


def test_question_canary_refuses_vectors_that_do_not_match_their_text(tmp_path: Path) -> None:
    from assistant.models import QuestionRecord
    from ingest.index import VerificationError, verify_questions

    store = open_store(Settings(data_dir=tmp_path / "data"))
    embedder = HashEmbedder()
    records = [
        QuestionRecord(
            id=f"d#s{n}::q0",
            doc_id="d",
            anchor=f"s{n}",
            heading_path=[f"Q {n}?"],
            kind="heading",
            text=f"Question number {n}?",
        )
        for n in range(50)
    ]
    good = embedder.embed_documents([r.text for r in records])
    name, _ = store.new_generation(embedder.name, embedder.dimension)
    store.add_questions(store.new_question_collection(name, embedder.name, 8), records, good)
    verify_questions(store, name, embedder, records)
    other, _ = store.new_generation(embedder.name, embedder.dimension)
    wrong = embedder.embed_documents([f"something else {n}" for n in range(50)])
    store.add_questions(store.new_question_collection(other, embedder.name, 8), records, wrong)
    with pytest.raises(VerificationError, match="question canary"):
        verify_questions(store, other, embedder, records)
