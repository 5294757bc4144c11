"""Hybrid retrieval: dense (Chroma) and lexical (BM25) results, fused, filtered and diversified."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from chromadb.api.models.Collection import Collection
from pydantic import BaseModel, Field

from assistant.asks import ask_of
from assistant.compose import quotable_sentences
from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.lexical import LexicalIndex, tokenize
from assistant.models import Chunk, DocType, Document, QuestionRecord
from assistant.questions import QuestionIndex
from assistant.store import IndexStore
from assistant.text import Normaliser

logger = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "lexical"]
Fusion = Literal["rrf", "weighted"]


class Filters(BaseModel):
    """Narrow answers to some documents. All given conditions must hold."""

    types: list[DocType] | None = Field(None, description="Only these document types.")
    topics: list[str] | None = Field(None, description="Documents with any of these topics.")
    age_months: int | None = Field(
        None, ge=0, le=216, description="Documents about a child of this age (in months)."
    )

    def allows(self, chunk: Chunk) -> bool:
        if self.types and chunk.type not in self.types:
            return False
        if self.topics and not {t.lower() for t in self.topics} & set(chunk.topics):
            return False
        if self.age_months is not None and chunk.age_min_months is not None:
            if not chunk.age_min_months <= self.age_months <= (chunk.age_max_months or 10**6):
                return False
        return True

    @property
    def empty(self) -> bool:
        return not (self.types or self.topics or self.age_months is not None)


@dataclass
class Hit:
    chunk: Chunk
    score: float
    dense: float | None = None
    lexical: float | None = None
    # How well the carer's question matches the section's own question (its heading or one of
    # its "Also asked as" phrasings): cosine similarity and normalised BM25, when it matched.
    question_dense: float | None = None
    question_lexical: float | None = None
    matched_question: str | None = None

    @property
    def section_id(self) -> str:
        return f"{self.chunk.doc_id}#{self.chunk.anchor}"


@dataclass
class Retrieval:
    query: str  # the query as searched, after cleaning
    hits: list[Hit]
    best_dense: float
    query_vector: np.ndarray | None
    # How well the library supports an answer: the best dense similarity, raised by the share
    # of the question's terms found in the top passage, lowered by the share the library never
    # uses. Compared with `abstain_threshold`.
    evidence: float = 0.0
    timings_ms: dict[str, float] = field(default_factory=dict)
    # The vector of what the carer asks: the last asking sentence of a long message, or the
    # whole query (see `ask_of`).
    ask_vector: np.ndarray | None = None

    @property
    def best_question(self) -> float:
        """How close the question comes to a section's own question (its heading or an "also
        asked as" phrasing)."""
        return max((hit.question_dense or 0.0 for hit in self.hits), default=0.0)


_SEARCH_MIN_CORRECTABLE = 5
# A runner-up within 10% of the best score whose own question matches 0.1 better (cosine) goes
# first (`_clearer_question_first`); checked on the gold set and the second realistic set.
_CLEARER_QUESTION = 0.1
_CLOSE_SCORE = 0.9
# ...and each further 0.01 of question match closes 2% more of the score gap, down to 75%
# (checked on the gold set and dev set 5: 2 sections better, none worse).
_CLOSEST_SCORE = 0.75
_GAP_PER_QUESTION = 2.0


@dataclass
class IndexView:
    """One loaded generation: its collection, every chunk's provenance, and its BM25 index."""

    generation: str
    collection: Collection
    chunks: dict[str, Chunk]
    lexical: LexicalIndex
    idf: dict[str, float]
    normalise: Normaliser
    documents: dict[str, Document]
    # The question index: every section's heading and alternates, their vectors (matched in
    # process: a few hundred short rows) and BM25; and each section's chunks in order.
    questions: QuestionIndex | None = None
    question_vectors: np.ndarray | None = None
    question_list: list[QuestionRecord] = field(default_factory=list)
    sections: dict[str, list[Chunk]] = field(default_factory=dict)
    question_terms: set[str] = field(default_factory=set)
    # Each quotable sentence's unit vector, by its text (empty for a generation without them).
    sentence_vectors: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        store: IndexStore,
        settings: Settings,
        generation: str,
        known_words: set[str] | None = None,
    ) -> IndexView:
        collection = store.collection(generation)
        chunks, _ = store.chunks(collection, with_vectors=False)
        by_id = {chunk.id: chunk for chunk in chunks}
        directory = settings.lexical_dir / generation
        if directory.is_dir():
            lexical = LexicalIndex.load(directory)
        else:
            # Another machine built this generation (a shared Chroma server): rebuild locally.
            logger.info("building the lexical index for generation %s locally", generation)
            lexical = LexicalIndex.build(
                [c.id for c in chunks], [c.embedding_text() for c in chunks]
            )
            lexical.save(directory)
        frequency: Counter[str] = Counter()
        words: Counter[str] = Counter()
        for chunk in chunks:
            text = chunk.embedding_text()
            frequency.update(set(tokenize(text)))
            words.update(re.findall(r"[a-z]+", text.lower()))
        total = max(len(chunks), 1)
        idf = {term: math.log(1 + total / count) for term, count in frequency.items()}
        documents = {doc.id: doc for doc in store.documents(generation)}
        sections: dict[str, list[Chunk]] = {}
        for chunk in sorted(chunks, key=lambda c: (c.doc_id, c.chunk_index)):
            sections.setdefault(f"{chunk.doc_id}#{chunk.anchor}", []).append(chunk)
        questions = QuestionIndex.load(store, settings, generation)
        question_list: list[QuestionRecord] = []
        vectors: np.ndarray | None = None
        collection_q = store.question_collection(generation)
        if collection_q is not None:
            question_list, vectors = store.question_records(collection_q, with_vectors=True)
            if len(question_list) == 0:
                vectors = None
            else:
                norms = np.linalg.norm(vectors, axis=1, keepdims=True)
                vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        # Words of the "also asked as" phrasings are the library's words too: a carer who uses a
        # word only an alternate has is not using a word the library never uses.
        question_terms: set[str] = set()
        for record in question_list:
            question_terms.update(tokenize(record.text))
            words.update(re.findall(r"[a-z]+", record.text.lower()))
        sentence_vectors: dict[str, np.ndarray] = {}
        quoted = store.sentence_collection(generation)
        if quoted is not None:
            texts, found = store.sentences(quoted)
            if len(texts):
                found = found / np.maximum(np.linalg.norm(found, axis=1, keepdims=True), 1e-12)
                sentence_vectors = dict(zip(texts, found.astype(np.float32), strict=True))
        # Search corrects five-letter typos too ("shoud"), against the library's own words.
        normalise = Normaliser(
            words, known_words, min_correctable=_SEARCH_MIN_CORRECTABLE, frequency=words
        )
        return cls(
            generation,
            collection,
            by_id,
            lexical,
            idf,
            normalise,
            documents,
            questions,
            vectors,
            question_list,
            sections,
            question_terms,
            sentence_vectors,
        )

    def idf_of(self, term: str) -> float:
        return self.idf.get(term, math.log(1 + len(self.chunks)))


class Retriever:
    def __init__(
        self,
        store: IndexStore,
        embedder: Embedder,
        settings: Settings,
        known_words: set[str] | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.known_words = known_words or set()
        self._view: IndexView | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def view(self) -> IndexView:
        """The active generation, reloaded when an ingest has moved the pointer."""
        now = time.monotonic()
        if self._view is not None and now - self._checked < self.settings.index_refresh_seconds:
            return self._view
        with self._lock:
            generation = self.store.require_active(self.embedder.name, self.embedder.dimension)
            if self._view is None or self._view.generation != generation.name:
                self._view = IndexView.load(
                    self.store, self.settings, generation.name, self.known_words
                )
                logger.info("serving index generation %s", generation.name)
            self._checked = now
            return self._view

    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        filters: Filters | None = None,
        mode: Mode = "hybrid",
        fusion: Fusion | None = None,
        query_vector: np.ndarray | None = None,
        diversify: bool = True,
        use_questions: bool | None = None,
    ) -> Retrieval:
        settings = self.settings
        if use_questions is None:
            use_questions = settings.question_weight > 0
        k = k or settings.retrieve_k
        fusion = fusion or settings.fusion
        view = self.view()
        timings: dict[str, float] = {}
        ask = ask_of(query, settings.ask_focus_min_words) if use_questions else None
        query = view.normalise(query) or query
        allowed = self._allowed_docs(view, filters)
        candidates = settings.retrieve_candidates

        dense: list[tuple[Chunk, float]] = []
        if mode in ("hybrid", "dense"):
            if query_vector is None:
                started = time.perf_counter()
                query_vector = self.embedder.embed_query(query)
                timings["embed"] = _ms(started)
            started = time.perf_counter()
            where = {"doc_id": {"$in": sorted(allowed)}} if allowed is not None else None
            if allowed is None or allowed:
                wanted = min(candidates, len(view.chunks))
                nearest = self.store.nearest(view.collection, query_vector, wanted, where)
                dense = [(view.chunks[i], score) for i, score in nearest if i in view.chunks]
            timings["dense"] = _ms(started)

        lexical: list[tuple[Chunk, float]] = []
        if mode in ("hybrid", "lexical"):
            started = time.perf_counter()
            wanted = candidates if allowed is None else candidates * 4
            for chunk_id, score in view.lexical.search(query, wanted):
                chunk = view.chunks.get(chunk_id)
                if chunk is not None and (allowed is None or chunk.doc_id in allowed):
                    lexical.append((chunk, score))
            lexical = lexical[:candidates]
            timings["lexical"] = _ms(started)

        started = time.perf_counter()
        hits = fuse(dense, lexical, fusion, settings.fusion_alpha, settings.rrf_k)
        ask_vector = query_vector
        if use_questions:
            matched = self._match_questions(view, query, query_vector, mode, allowed)
            if ask:
                # The ask at the end of a long message, matched on its own: a section whose
                # question it asks keeps its better match.
                ask = view.normalise(ask) or ask
                ask_vector = self.embedder.embed_query(ask) if query_vector is not None else None
                for section, found in self._match_questions(
                    view, ask, ask_vector, mode, allowed
                ).items():
                    held = matched.get(section, (0.0, 0.0, found[2]))
                    best = found if found[0] > held[0] else held
                    matched[section] = (best[0], max(held[1], found[1]), best[2])
            hits = add_question_matches(
                hits, matched, view.sections, settings.question_alpha, settings.question_weight
            )
        if diversify:
            hits = [
                whole_section(hit, view.sections, view.documents)
                for hit in diversified(hits, k, settings.max_chunks_per_doc)
            ]
        else:
            hits = hits[:k]
        timings["fuse"] = _ms(started)
        best_dense = max((score for _, score in dense), default=0.0)
        evidence = best_dense + self._support(view, query, hits)
        return Retrieval(query, hits, best_dense, query_vector, evidence, timings, ask_vector)

    def similarity(self, text: str, vector: np.ndarray | None) -> dict[str, float]:
        """Each quotable sentence of `text` (a section) with its cosine to `vector`, for the
        sentences the index holds; empty when it holds none or there is no vector."""
        held = self.view().sentence_vectors
        if vector is None or not held:
            return {}
        unit = np.asarray(vector, dtype=np.float32)
        unit = unit / max(float(np.linalg.norm(unit)), 1e-12)
        return {
            quoted: float(held[quoted] @ unit)
            for _, quoted, _ in quotable_sentences(text)
            if quoted in held
        }

    def _match_questions(
        self,
        view: IndexView,
        query: str,
        query_vector: np.ndarray | None,
        mode: Mode,
        allowed: set[str] | None,
    ) -> dict[str, tuple[float, float, str]]:
        """Per section: (best cosine, best normalised BM25, the phrasing that matched best)."""
        found: dict[str, tuple[float, float, str]] = {}
        records = view.question_list
        if mode in ("hybrid", "dense") and query_vector is not None and records:
            assert view.question_vectors is not None
            scores = view.question_vectors @ np.asarray(query_vector, dtype=np.float32)
            for index in np.argsort(-scores)[: self.settings.retrieve_candidates * 2]:
                record = records[int(index)]
                if allowed is not None and record.doc_id not in allowed:
                    continue
                section = record.section_id
                if section not in found:
                    found[section] = (float(scores[index]), 0.0, record.text)
        if mode in ("hybrid", "lexical") and view.questions is not None:
            lexical = view.questions.search_lexical(query, self.settings.retrieve_candidates * 2)
            top = max((score for _, score in lexical), default=0.0) or 1.0
            for record, score in lexical:
                if allowed is not None and record.doc_id not in allowed:
                    continue
                dense, best_lexical, text = found.get(record.section_id, (0.0, 0.0, record.text))
                if score / top > best_lexical:
                    found[record.section_id] = (dense, score / top, text)
        return found

    def _support(self, view: IndexView, query: str, hits: list[Hit]) -> float:
        terms = set(tokenize(query))
        if not terms or not hits:
            return 0.0
        weights = {term: view.idf_of(term) for term in terms}
        total = sum(weights.values())
        top = set(tokenize(hits[0].chunk.embedding_text()))
        covered = sum(weight for term, weight in weights.items() if term in top) / total
        unknown = (
            sum(
                weight
                for term, weight in weights.items()
                if term not in view.idf and term not in view.question_terms
            )
            / total
        )
        return (
            self.settings.evidence_coverage_weight * covered
            - self.settings.evidence_unknown_weight * unknown
        )

    @staticmethod
    def _allowed_docs(view: IndexView, filters: Filters | None) -> set[str] | None:
        if filters is None or filters.empty:
            return None
        return {chunk.doc_id for chunk in view.chunks.values() if filters.allows(chunk)}


def fuse(
    dense: list[tuple[Chunk, float]],
    lexical: list[tuple[Chunk, float]],
    fusion: Fusion,
    alpha: float,
    rrf_k: int,
) -> list[Hit]:
    hits: dict[str, Hit] = {}
    for chunk, score in dense:
        hits[chunk.id] = Hit(chunk, 0.0, dense=score)
    for chunk, score in lexical:
        hits.setdefault(chunk.id, Hit(chunk, 0.0)).lexical = score
    if fusion == "rrf":
        for rank, (chunk, _) in enumerate(dense):
            hits[chunk.id].score += 1.0 / (rrf_k + rank + 1)
        for rank, (chunk, _) in enumerate(lexical):
            hits[chunk.id].score += 1.0 / (rrf_k + rank + 1)
    else:
        top_lexical = max((score for _, score in lexical), default=0.0) or 1.0
        for hit in hits.values():
            dense_part = hit.dense if hit.dense is not None else 0.0
            lexical_part = (hit.lexical or 0.0) / top_lexical
            hit.score = alpha * dense_part + (1 - alpha) * lexical_part
    return sorted(hits.values(), key=lambda hit: hit.score, reverse=True)


def add_question_matches(
    hits: list[Hit],
    matched: dict[str, tuple[float, float, str]],
    sections: dict[str, list[Chunk]],
    alpha: float,
    weight: float,
) -> list[Hit]:
    """Blend how well each section's own questions match into its chunks' scores:
    (1 - weight) * passage score + weight * question score. A section found only through its
    questions joins with its first chunk, where the corpus answers the heading's question."""
    by_section: dict[str, list[Hit]] = {}
    for hit in hits:
        by_section.setdefault(hit.section_id, []).append(hit)
    for section, (dense, lexical, text) in matched.items():
        if section not in by_section and sections.get(section):
            hit = Hit(sections[section][0], 0.0)
            by_section[section] = [hit]
            hits.append(hit)
        for hit in by_section.get(section, []):
            hit.question_dense, hit.question_lexical, hit.matched_question = dense, lexical, text
    for hit in hits:
        passage = hit.score
        question = 0.0
        if hit.question_dense is not None:
            question = alpha * hit.question_dense + (1 - alpha) * (hit.question_lexical or 0.0)
        hit.score = (1 - weight) * passage + weight * question
    ranked = sorted(hits, key=lambda hit: hit.score, reverse=True)
    return _clearer_question_first(ranked)


def _clearer_question_first(ranked: list[Hit]) -> list[Hit]:
    """A close runner-up whose own question matches the carer's clearly better goes first: a
    passage that shares a word ("screams", at night) loses to the section that was asked for
    ("upset after family time"), when their scores are close."""
    if len(ranked) < 2 or ranked[0].question_dense is None:
        return ranked
    top = ranked[0]
    # The next three sections, not the next three chunks: one section's chunks can fill them.
    seen = {top.section_id}
    for index, hit in enumerate(ranked[1:], start=1):
        if hit.section_id in seen:
            continue
        seen.add(hit.section_id)
        advantage = (hit.question_dense or 0.0) - top.question_dense
        gap = _GAP_PER_QUESTION * (advantage - _CLEARER_QUESTION)
        window = max(_CLOSEST_SCORE, _CLOSE_SCORE - gap)
        if advantage >= _CLEARER_QUESTION and hit.score >= top.score * window:
            return [hit, *ranked[:index], *ranked[index + 1 :]]
        if len(seen) > 3:
            break
    return ranked


def whole_section(
    hit: Hit, sections: dict[str, list[Chunk]], documents: dict[str, Document]
) -> Hit:
    """The hit widened to its whole section, from the section's opening. Chunks are sized for the
    model's window; an answer is composed from the section a carer's question matched, whose
    opening sentences answer its heading, and a list in it is quoted whole, not cut mid-way."""
    chunks = sections.get(hit.section_id) or [hit.chunk]
    document = documents.get(hit.chunk.doc_id)
    section = next(
        (
            s
            for s in (document.sections if document else [])
            if s.anchor == hit.chunk.anchor and s.heading_path == hit.chunk.heading_path
        ),
        None,
    )
    if section is None or not section.text.strip():
        return replace(hit, chunk=chunks[0])
    widened = chunks[0].model_copy(
        update={"text": section.text, "start": section.start, "end": section.end}
    )
    return replace(hit, chunk=widened)


def diversified(hits: Iterable[Hit], k: int, per_doc: int) -> list[Hit]:
    """Best first, but one chunk per section and at most `per_doc` per document."""
    chosen: list[Hit] = []
    sections: set[tuple[str, str]] = set()
    per: Counter[str] = Counter()
    held_back: list[Hit] = []
    for hit in hits:
        key = (hit.chunk.doc_id, hit.chunk.anchor)
        if key in sections or per[hit.chunk.doc_id] >= per_doc:
            held_back.append(hit)
            continue
        chosen.append(hit)
        sections.add(key)
        per[hit.chunk.doc_id] += 1
        if len(chosen) == k:
            return chosen
    return chosen + held_back[: k - len(chosen)]


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
