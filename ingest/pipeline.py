"""load -> validate -> chunk -> embed -> index, incremental and atomic.

Unchanged documents keep their stored vectors (carried into the new generation), changed ones
are re-embedded, removed ones disappear. A file that fails keeps its previously indexed version.
Nothing the readers see changes until the new generation is verified and the pointer moves.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
from filelock import FileLock, Timeout

from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.errors import CorpusError, IndexNotReadyError, IngestLockedError, NurtureError
from assistant.models import Chunk, Document, QuestionRecord
from assistant.questions import build_question_lexical
from assistant.store import Generation, IndexStore
from ingest.chunk import Chunker
from ingest.embed import embed_chunks
from ingest.index import build_lexical, prune, write_generation
from ingest.load import load_corpus
from ingest.questions import question_records
from ingest.sentences import sentence_texts
from ingest.validate import validate_document

logger = logging.getLogger(__name__)

# Bump when chunking changes in a way that should re-embed everything.
_CHUNKER_VERSION = "2"  # 2: "Also asked as" blocks stripped, alternates on chunks


@dataclass
class IngestReport:
    active: str | None = None
    previous: str | None = None
    unchanged: bool = False
    documents: int = 0
    chunks: int = 0
    embedded: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept_previous: list[str] = field(default_factory=list)
    errors: list[CorpusError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    texts_embedded: int = 0
    questions: int = 0
    questions_embedded: int = 0
    sentences: int = 0
    sentences_embedded: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors


def ingest_lock(settings: Settings) -> FileLock:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(settings.lock_path), timeout=0)


@contextmanager
def writing(settings: Settings) -> Iterator[None]:
    """Hold the one-writer lock for the block, or refuse at once if another writer has it."""
    lock = ingest_lock(settings)
    try:
        lock.acquire()
    except Timeout:
        raise IngestLockedError(
            f"another `nurture ingest` is already running (lock {settings.lock_path}); "
            "wait for it to finish, then run this again"
        ) from None
    try:
        yield
    finally:
        lock.release()


@dataclass(frozen=True)
class Plan:
    """What an ingest will do, decided before anything is embedded or written."""

    previous: Generation | None
    unchanged: bool
    manifest: Mapping[str, str]  # doc id -> fingerprint of what the new generation serves
    documents: Mapping[str, Document]  # every document that loaded and validated
    embed: tuple[str, ...]  # documents chunked afresh (their chunks are `new_chunks`)
    reuse: tuple[str, ...]  # documents whose stored chunks and vectors carry over
    kept_previous: tuple[str, ...]  # failed files still served from the previous generation
    removed: tuple[str, ...]
    new_chunks: tuple[Chunk, ...]
    errors: tuple[CorpusError, ...]
    warnings: tuple[str, ...]

    def report(self) -> IngestReport:
        return IngestReport(
            previous=self.previous.name if self.previous else None,
            unchanged=self.unchanged,
            embedded=list(self.embed),
            reused=sorted(set(self.reuse) - set(self.kept_previous)),
            removed=list(self.removed),
            kept_previous=list(self.kept_previous),
            errors=list(self.errors),
            warnings=list(self.warnings),
        )


class Pipeline:
    def __init__(self, settings: Settings, store: IndexStore, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.chunker = Chunker(embedder, settings.chunk_size, settings.chunk_overlap)

    def fingerprint(self, content_hash: str) -> str:
        """What decides whether a document's stored chunks and vectors can be reused."""
        recipe = (
            f"{content_hash}|{self.embedder.name}|{self.settings.chunk_size}|"
            f"{self.settings.chunk_overlap}|{_CHUNKER_VERSION}"
        )
        return hashlib.sha256(recipe.encode()).hexdigest()

    def run(
        self, *, full: bool = False, progress: bool = False, activate: bool = True
    ) -> IngestReport:
        """Ingest. With `activate=False`, build and verify a draft generation (vectors reused as
        usual) and remember it as the draft, leaving the active one serving (`nurture preview`)."""
        started = time.perf_counter()
        with writing(self.settings):
            report = self._write(self._plan(full=full), progress=progress, activate=activate)
        report.seconds = time.perf_counter() - started
        return report

    def _plan(self, *, full: bool) -> Plan:
        """Load, validate and chunk; decide what is reused, re-embedded, kept and removed."""
        errors: list[CorpusError] = []
        loaded = load_corpus(self.settings.corpus_dir, self.settings.max_file_bytes)
        errors.extend(loaded.errors)
        failed = set(loaded.failed_ids)
        documents: dict[str, Document] = {}
        for raw in loaded.documents:
            try:
                documents[raw.id] = validate_document(raw)
            except CorpusError as error:
                errors.append(error)
                failed.add(raw.id)

        active, _ = self.store.pointer()
        previous = self.store.generation(active) if active else None
        if previous is not None and previous.model != self.embedder.name:
            logger.info("model changed from %s: re-embedding everything", previous.model)
            full = True
        old = previous.manifest if previous is not None else {}

        keys = {doc_id: self.fingerprint(doc.content_hash) for doc_id, doc in documents.items()}
        kept_previous = sorted(doc_id for doc_id in failed if doc_id in old)
        manifest = {**keys, **{doc_id: old[doc_id] for doc_id in kept_previous}}
        removed = sorted(set(old) - set(manifest))
        unchanged = previous is not None and not full and manifest == old

        reuse = [doc_id for doc_id in manifest if not full and old.get(doc_id) == manifest[doc_id]]
        reuse += [doc_id for doc_id in kept_previous if doc_id not in reuse]
        embed: list[str] = []
        new_chunks: list[Chunk] = []
        for doc_id in [] if unchanged else sorted(set(keys) - set(reuse)):
            try:
                new_chunks.extend(self.chunker.chunk(documents[doc_id]))
                embed.append(doc_id)
            except CorpusError as error:
                errors.append(error)
                manifest.pop(doc_id)
                if doc_id in old:
                    manifest[doc_id] = old[doc_id]
                    reuse.append(doc_id)
                    kept_previous.append(doc_id)
        return Plan(
            previous=previous,
            unchanged=unchanged,
            manifest=MappingProxyType(manifest),
            documents=MappingProxyType(documents),
            embed=tuple(embed),
            reuse=tuple(sorted(reuse)),
            kept_previous=tuple(kept_previous),
            removed=tuple(removed),
            new_chunks=tuple(new_chunks),
            errors=tuple(errors),
            warnings=tuple(loaded.warnings),
        )

    def _write(self, plan: Plan, *, progress: bool, activate: bool = True) -> IngestReport:
        """Embed what the plan says, write and verify a generation, then switch to it (or, as a
        draft, only remember it)."""
        report = plan.report()
        previous = plan.previous
        if plan.unchanged and previous is not None:
            if not activate:
                self.store.set_draft(None)
            report.active = previous.name
            report.documents = previous.doc_count
            report.chunks = previous.chunk_count
            report.reused = sorted(plan.manifest)
            self._ensure_lexical(previous.name)
            self._ensure_sentences(previous.name)
            if not self.store.documents(previous.name):  # an index from before documents were kept
                self.store.record_documents(previous.name, list(plan.documents.values()))
            return report

        kept_chunks: list[Chunk] = []
        kept_vectors = np.zeros((0, 0), dtype=np.float32)
        if plan.reuse and previous is not None:
            collection = self.store.collection(previous.name)
            kept_chunks, kept_vectors = self.store.chunks(collection, plan.reuse)
        new_chunks = list(plan.new_chunks)
        chunks = kept_chunks + new_chunks
        if not chunks:
            raise NurtureError(
                "no document could be indexed, so nothing was changed; fix the errors above "
                "and run `nurture ingest` again"
            )

        logger.info(
            "embedding %d chunks from %d documents (%d documents reused)",
            len(new_chunks),
            len(plan.embed),
            len(plan.reuse),
        )
        new_vectors = embed_chunks(self.embedder, new_chunks, progress=progress)
        report.texts_embedded = len(new_chunks)
        vectors = np.vstack([v for v in (kept_vectors, new_vectors) if v.size]).astype(np.float32)

        kept_documents = (
            [d for d in self.store.documents(previous.name) if d.id in plan.kept_previous]
            if previous is not None and plan.kept_previous
            else []
        )
        served = [
            plan.documents[doc_id]
            for doc_id in plan.manifest
            if doc_id in plan.documents and doc_id not in plan.kept_previous
        ] + kept_documents
        questions, question_vectors, report.questions_embedded = self._questions(
            previous.name if previous is not None else None,
            list(plan.reuse),
            [plan.documents[doc_id] for doc_id in plan.embed],
            new_chunks,
        )
        report.questions = len(questions)
        sentences, sentence_vectors, report.sentences_embedded = self._sentences(
            previous.name if previous is not None else None, served
        )
        report.sentences = len(sentences)
        generation = write_generation(
            self.store,
            self.embedder,
            chunks,
            vectors,
            dict(plan.manifest),
            self.settings.lexical_dir,
            served,
            questions,
            question_vectors,
            self.settings.question_lexical_dir,
            sentences,
            sentence_vectors,
        )
        if activate:
            self.store.activate(generation.name, previous=previous.name if previous else None)
            self.store.set_draft(None)
            logger.info("generation %s is now active", generation.name)
            keep = {generation.name} | ({previous.name} if previous else set())
        else:
            self.store.set_draft(generation.name, previous.name if previous else None)
            logger.info("generation %s is a draft (not active)", generation.name)
            # Drafts are pruned like old generations: only the newest one is kept.
            keep = {generation.name, *filter(None, self.store.pointer())}
        prune(self.store, self._lexical_roots(), keep)

        report.active = generation.name
        report.documents = generation.doc_count
        report.chunks = generation.chunk_count
        return report

    def _questions(
        self,
        previous: str | None,
        reused: list[str],
        changed: list[Document],
        new_chunks: list[Chunk],
    ) -> tuple[list[QuestionRecord], np.ndarray, int]:
        """Question records for the new generation: reused documents' records keep their
        vectors; a phrasing whose words are unchanged anywhere reuses its vector too."""
        old_records: list[QuestionRecord] = []
        old_vectors = np.zeros((0, 0), dtype=np.float32)
        old_collection = self.store.question_collection(previous) if previous else None
        if old_collection is not None:
            old_records, old_vectors = self.store.question_records(old_collection)
        by_text = {record.text: old_vectors[i] for i, record in enumerate(old_records)}
        keep = set(reused)
        records = [record for record in old_records if record.doc_id in keep]
        vectors = [by_text[record.text] for record in records]
        fresh = [record for doc in changed for record in question_records(doc, new_chunks)]
        unseen = sorted({record.text for record in fresh} - set(by_text))
        if unseen:
            embedded = self.embedder.embed_documents(unseen)
            by_text.update(zip(unseen, embedded, strict=True))
        records += fresh
        vectors += [by_text[record.text] for record in fresh]
        if not records:
            return [], np.zeros((0, self.embedder.dimension), dtype=np.float32), 0
        return records, np.vstack(vectors).astype(np.float32), len(unseen)

    def _sentences(
        self, previous: str | None, documents: list[Document]
    ) -> tuple[list[str], np.ndarray, int]:
        """The quotable sentences of the new generation's documents and their vectors; a
        sentence whose words are unchanged keeps its vector from the previous generation."""
        by_text: dict[str, np.ndarray] = {}
        old = self.store.sentence_collection(previous) if previous else None
        if old is not None:
            texts, vectors = self.store.sentences(old)
            by_text = dict(zip(texts, vectors, strict=True))
        texts = sentence_texts(documents)
        unseen = [text for text in texts if text not in by_text]
        if unseen:
            logger.info("embedding %d quotable sentences", len(unseen))
            by_text.update(zip(unseen, self.embedder.embed_documents(unseen), strict=True))
        if not texts:
            return [], np.zeros((0, self.embedder.dimension), dtype=np.float32), 0
        return texts, np.vstack([by_text[text] for text in texts]).astype(np.float32), len(unseen)

    def _ensure_sentences(self, name: str) -> None:
        """A generation built before sentences were embedded gets them, so an unchanged
        library still tells the composer which sentence answers."""
        if self.store.sentence_collection(name) is not None:
            return
        texts, vectors, _ = self._sentences(None, self.store.documents(name))
        if texts:
            collection = self.store.new_sentence_collection(
                name, self.embedder.name, self.embedder.dimension
            )
            self.store.add_sentences(collection, texts, vectors)

    def _lexical_roots(self) -> list[Path]:
        return [self.settings.lexical_dir, self.settings.question_lexical_dir]

    def _ensure_lexical(self, name: str) -> None:
        if not (self.settings.lexical_dir / name).is_dir():
            chunks, _ = self.store.chunks(self.store.collection(name))
            build_lexical(chunks, self.settings.lexical_dir / name)
        if not (self.settings.question_lexical_dir / name).is_dir():
            questions = self.store.questions(name)
            if questions:
                build_question_lexical(questions).save(self.settings.question_lexical_dir / name)

    def activate(self, name: str) -> tuple[str, str | None]:
        """Publish a generation (a previewed draft): it serves, the active one becomes the
        previous. Returns (now active, now previous)."""
        with writing(self.settings):
            generation = self.store.generation(name)
            if generation is None:
                raise IndexNotReadyError(
                    f"there is no generation {name!r}; run `nurture preview` to build a draft "
                    "and use the name it prints"
                )
            if generation.model != self.embedder.name:
                raise IndexNotReadyError(
                    f"generation {name} was built with {generation.model}, not "
                    f"{self.embedder.name}; run `nurture preview` again"
                )
            active, _ = self.store.pointer()
            if active == name:
                return name, None
            self._ensure_lexical(name)
            self.store.activate(name, previous=active)
            self.store.set_draft(None)
            prune(self.store, self._lexical_roots(), {name, *filter(None, [active])})
            return name, active

    def rollback(self) -> tuple[str, str]:
        """Serve the previous generation again; returns (now active, now previous)."""
        with writing(self.settings):
            active, previous = self.store.pointer()
            if not previous or self.store.generation(previous) is None:
                raise IndexNotReadyError(
                    "there is no previous generation to roll back to (it is kept after an "
                    "ingest that changed something)"
                )
            self._ensure_lexical(previous)
            self.store.activate(previous, previous=active)
            return previous, active or ""
