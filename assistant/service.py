"""The answering core: `Assistant.ask(question, history, filters) -> Answer`.

In order: safety triage (always, even with no index or model), retrieval, then either a grounded
answer whose every sentence is cited or an honest abstention that says who to ask instead.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from assistant.compose import ExtractiveGenerator, Generator, Passage, Sentence
from assistant.config import Settings
from assistant.embeddings import BatchingEmbedder, Embedder, build_embedder
from assistant.errors import GeneratorUnavailableError, IndexNotReadyError, NurtureError
from assistant.generate import build_llm_generator
from assistant.models import (
    EVIDENCE_LABELS,
    Answer,
    Citation,
    Document,
    Message,
    RelatedDocument,
    SafetyInfo,
)
from assistant.retrieve import Filters, Hit, Retrieval, Retriever
from assistant.safety import SafetyResult, SafetyTriage, embed_exemplars
from assistant.scope import ScopeGuard
from assistant.store import IndexStore, open_store
from assistant.text import load_known_words

logger = logging.getLogger(__name__)

PROMPTS = Path(__file__).parent / "prompts"
RECONNECT_SECONDS = 2.0  # a store that was down at start-up is tried again at most this often
_FOLLOW_UP = re.compile(
    r"^\s*(what|how) about\b|^\s*(and|but|also|plus|or)\b|^\s*what if\b|^\s*same\b|"
    r"^\s*(is|does|will|can) (that|this|it)\b|^\s*why\??\s*$",
    re.IGNORECASE,
)
_DOMAIN = re.compile(
    r"\b(bab(y|ies)|toddler|infant|newborn|child|children|kid|foster|carer|placement|contact|"
    r"family time|social worker|health visitor|attachment|adopt\w*|care order|bubs?|little one|"
    r"son|daughter|nursery|cot|bottle|crying|cries|screams?|sleep\w*|feed\w*)\b",
    re.IGNORECASE,
)


@dataclass
class Prepared:
    """The result of `Assistant.prepare`: what is known before any generation work."""

    question: str
    history: list[Message]
    safety: SafetyResult
    hits: list[Hit]
    sources: list[Citation]  # numbered 1.. in retrieval order; markers use these numbers
    abstain_reason: str | None
    related: list[RelatedDocument]
    timings: dict[str, float]
    started: float


class Assistant:
    def __init__(
        self,
        settings: Settings,
        triage: SafetyTriage,
        retriever: Retriever | None,
        generator: Generator | None = None,
        scope: ScopeGuard | None = None,
    ) -> None:
        self.settings = settings
        self.triage = triage
        self.retriever = retriever
        self.generator = generator
        self.scope = scope
        self.messages = yaml.safe_load((PROMPTS / "messages.yaml").read_text())
        # How to reach the store when it was down at start-up; tried at most every few seconds.
        self.connect: Callable[[], Retriever] | None = None
        self._connect_lock = threading.Lock()
        self._connect_tried = -float("inf")

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store: IndexStore | None = None,
        embedder: Embedder | None = None,
    ) -> Assistant:
        """Build once at start-up. Triage is ready even if the model or the index is not."""
        model_path: str | None = None
        try:
            model_path = settings.resolved_model_path()
        except Exception:  # noqa: BLE001 - no model package: triage still works on patterns
            logger.warning("embedding model not found; safety triage runs on patterns only")
        triage = SafetyTriage(
            known_words=load_known_words(model_path),
            exemplar_threshold=settings.safety_exemplar_threshold,
        )
        retriever = None
        scope = None
        connect: Callable[[], Retriever] | None = None
        try:
            model = BatchingEmbedder(embedder or build_embedder(settings))
            scope = ScopeGuard.build(model, settings.scope_margin, settings.scope_floor)
            if settings.safety_exemplar_threshold <= 1.0:
                triage.exemplar_vectors = embed_exemplars(triage, model)

            def connect() -> Retriever:
                return Retriever(
                    store or open_store(settings), model, settings, triage.normalise.known_words
                )

            retriever = connect()
        except Exception as error:  # noqa: BLE001 - serve triage even when this fails
            # Our own errors say what to change (and never hold a carer's words); others may.
            logger.warning("retrieval unavailable at start-up: %s", _kind(error))
        assistant = cls(settings, triage, retriever, build_llm_generator(settings), scope=scope)
        if retriever is None and connect is not None:
            # The model loaded but the store did not (a Chroma server down): connect later.
            assistant.connect = connect
        return assistant

    # -- the one entry point ---------------------------------------------------------

    def ask(
        self,
        question: str,
        history: Sequence[Message] | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        return self.finish(self.prepare(question, history, filters))

    def prepare(
        self,
        question: str,
        history: Sequence[Message] | None = None,
        filters: Filters | None = None,
    ) -> Prepared:
        """Everything before generation: triage, retrieval, and whether to answer at all.

        The sources a streamed answer will cite are known here, before any generation work."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        history = list(history or [])

        mark = time.perf_counter()
        safety = self.triage.triage(question)
        timings["triage"] = _ms(mark)

        # A safety message is about what is happening now: search for it on its own words.
        query = self.retrieval_query(question, [] if safety.category != "none" else history)
        try:
            retrieval = self.retrieve(query, filters)
        except Exception as error:  # noqa: BLE001 - the retrieval boundary: see `unavailable`
            if safety.category == "none":
                raise unavailable(error) from error
            logger.warning(
                "answering with the safety message only: retrieval failed (%s)", _kind(error)
            )
            return Prepared(
                question, history, safety, [], [], "index_unavailable", [], timings, started
            )
        timings.update(retrieval.timings_ms)

        if safety.category == "none" and retrieval.query_vector is not None:
            mark = time.perf_counter()
            safety = self.triage.triage(question, retrieval.query_vector)
            timings["triage"] += _ms(mark)

        related = self._related(retrieval.hits)
        threshold = self.settings.abstain_threshold
        if safety.category != "none":
            threshold -= self.settings.safety_evidence_margin
        outside = (
            self.scope.outside(retrieval.query_vector, retrieval.best_dense)
            if self.scope is not None and retrieval.query_vector is not None
            else None
        )
        reason: str | None = None
        if outside or not retrieval.hits or retrieval.evidence < threshold:
            in_domain = (filters and not filters.empty) or _DOMAIN.search(retrieval.query)
            reason = "no_evidence" if in_domain and not outside else "out_of_scope"
        hits = [] if reason else retrieval.hits
        sources = [self.citation(n, hit) for n, hit in enumerate(hits, start=1)]
        return Prepared(question, history, safety, hits, sources, reason, related, timings, started)

    def finish(self, prepared: Prepared) -> Answer:
        """Generate the answer from what `prepare` found."""
        timings = prepared.timings
        if prepared.abstain_reason:
            body = (
                self.messages["index_unavailable"].strip()
                if prepared.abstain_reason == "index_unavailable"
                else self._abstention(prepared.abstain_reason, prepared.related)
            )
            timings["total"] = _ms(prepared.started)
            return self._answer(
                prepared.safety,
                body,
                abstain_reason=prepared.abstain_reason,
                related=prepared.related,
                timings=timings,
            )
        mark = time.perf_counter()
        passages = [Passage(hit.chunk, hit.score) for hit in prepared.hits]
        extractive = ExtractiveGenerator(
            self._idf(), max_sentences=self.settings.max_answer_sentences
        )
        try:
            generator = self.generator or extractive
            sentences = generator.generate(prepared.question, passages, prepared.history)
        except GeneratorUnavailableError as error:
            # Quoting the guidance is a real answer, never an error dressed as one.
            logger.warning("falling back to quoting the guidance: %s", error)
            sentences = extractive.generate(prepared.question, passages, prepared.history)
        text, citations = self.cite(sentences, prepared.sources)
        timings["compose"] = _ms(mark)
        timings["total"] = _ms(prepared.started)
        if not citations:
            return self._answer(
                prepared.safety,
                self._abstention("no_evidence", prepared.related),
                abstain_reason="no_evidence",
                related=prepared.related,
                timings=timings,
            )
        return self._answer(prepared.safety, text, citations=citations, timings=timings)

    # -- steps ------------------------------------------------------------------------

    def urgent(self, question: str) -> bool:
        """Whether triage flags the message on its words alone (no retrieval needed)."""
        return self.triage.triage(question).category != "none"

    def _idf(self) -> dict[str, float] | None:
        """The loaded index's term weights, for the composer; None if the index went away
        between retrieval and composing (the composer then weighs words equally)."""
        if self.retriever is None:
            return None
        try:
            return self.retriever.view().idf
        except Exception as error:  # noqa: BLE001 - the retrieval boundary
            logger.warning("composing without term weights: %s", _kind(error))
            return None

    def _ready(self) -> Retriever:
        if self.retriever is None and self.connect is not None:
            with self._connect_lock:
                now = time.monotonic()
                if self.retriever is None and now - self._connect_tried >= RECONNECT_SECONDS:
                    self._connect_tried = now
                    self.retriever = self.connect()
                    logger.info("connected to the index store")
        if self.retriever is None:
            raise IndexNotReadyError("the embedding model or the index could not be loaded")
        return self.retriever

    def retrieve(
        self, query: str, filters: Filters | None = None, k: int | None = None
    ) -> Retrieval:
        """Retrieval alone (also for browsing the library). Every failure is raised as
        `IndexNotReadyError` (503)."""
        try:
            return self._ready().search(query, filters=filters, k=k)
        except Exception as error:  # noqa: BLE001 - the retrieval boundary
            raise unavailable(error) from error

    def documents(self) -> dict[str, Document]:
        """The documents of the serving generation, by id (for opening citations)."""
        try:
            return self._ready().view().documents
        except Exception as error:  # noqa: BLE001 - the retrieval boundary
            raise unavailable(error) from error

    @staticmethod
    def retrieval_query(question: str, history: Sequence[Message]) -> str:
        """A follow-up ("what about at night?") is searched together with the previous question."""
        previous = [m.content for m in history if m.role == "user"]
        if not previous:
            return question
        content_words = [w for w in re.findall(r"[a-zA-Z']+", question) if len(w) > 3]
        if _FOLLOW_UP.search(question) or len(content_words) <= 2:
            return f"{previous[-1]} {question}"
        return question

    @staticmethod
    def citation(n: int, hit: Hit) -> Citation:
        chunk = hit.chunk
        return Citation(
            n=n,
            doc_id=chunk.doc_id,
            title=chunk.title,
            section=chunk.section,
            anchor=chunk.anchor,
            url=chunk.url,
            source="; ".join(chunk.source_names),
            type=chunk.type,
            evidence=EVIDENCE_LABELS[chunk.type],
            reviewed=chunk.reviewed,
            snippet=chunk.text,
            quotes=[],
            chunk_id=chunk.id,
            start=chunk.start,
            end=chunk.end,
            score=round(hit.score, 6),
        )

    @staticmethod
    def cite(sentences: list[Sentence], sources: list[Citation]) -> tuple[str, list[Citation]]:
        """Put the source's number after every sentence; return only the sources quoted.

        Numbers are the sources' retrieval ranks, the same on every path (JSON, stream, chat)."""
        quotes: dict[int, list[str]] = {}
        parts = []
        for sentence in sentences:
            if not 0 <= sentence.passage < len(sources):
                raise ValueError(f"generator cited passage {sentence.passage}, which was not given")
            quotes.setdefault(sentence.passage, []).append(sentence.text)
            parts.append(f"{sentence.text} [{sources[sentence.passage].n}]")
        citations = [
            sources[index].model_copy(update={"quotes": quoted})
            for index, quoted in sorted(quotes.items())
        ]
        return " ".join(parts), citations

    def _abstention(self, reason: str, related: list[RelatedDocument]) -> str:
        text = self.messages[reason].strip()
        if related:
            topics = "\n".join(f"- {doc.title}" for doc in related)
            text += "\n\n" + self.messages["related_intro"].strip() + "\n\n" + topics
        return text

    def _related(self, hits: list[Hit]) -> list[RelatedDocument]:
        seen: dict[str, RelatedDocument] = {}
        for hit in hits:
            seen.setdefault(
                hit.chunk.doc_id, RelatedDocument(doc_id=hit.chunk.doc_id, title=hit.chunk.title)
            )
        return list(seen.values())[:3]

    @staticmethod
    def _answer(
        safety: SafetyResult,
        body: str,
        *,
        citations: list[Citation] | None = None,
        abstain_reason: str | None = None,
        related: list[RelatedDocument] | None = None,
        timings: dict[str, float],
    ) -> Answer:
        # The safety block always comes first; nothing retrieved is put before it.
        text = f"{safety.message}\n\n{body}" if safety.message else body
        return Answer(
            answer=text,
            citations=citations or [],
            abstained=abstain_reason is not None,
            abstain_reason=abstain_reason,
            safety=SafetyInfo(category=safety.category, message=safety.message),
            related=related or [],
            timings_ms={key: round(value, 3) for key, value in timings.items()},
        )


def _kind(error: BaseException) -> str:
    """What failed, for logs: our errors say what to change; others only name their type (their
    text may echo a request)."""
    return str(error) if isinstance(error, NurtureError) else type(error).__name__


def unavailable(error: BaseException) -> IndexNotReadyError:
    """Any failure of retrieval (our errors, Chroma's, httpx's when a Chroma server is stopped,
    OS errors) as the one error the API answers with 503 and Retry-After."""
    if isinstance(error, IndexNotReadyError):
        return error
    return IndexNotReadyError(
        f"the guidance index is not available ({_kind(error)}); try again shortly"
    )


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
