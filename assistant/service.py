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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from assistant.compose import (
    ExtractiveGenerator,
    FallbackGenerator,
    Generator,
    Passage,
    citation,
    cite,
    keeps_contract,
)
from assistant.config import Settings
from assistant.embeddings import BatchingEmbedder, Embedder, build_embedder
from assistant.errors import IndexNotReadyError, NurtureError, QuestionError
from assistant.generate import build_llm_generator
from assistant.models import (
    Answer,
    Citation,
    Document,
    Message,
    RelatedDocument,
    SafetyCategory,
    SafetyInfo,
)
from assistant.retrieve import Filters, Hit, Retrieval, Retriever
from assistant.safety import SafetyResult, SafetyTriage, build_triage, load_classifier
from assistant.scope import OLDER_CHILDREN, ScopeGuard
from assistant.store import IndexStore, open_store
from assistant.topic_fit import default_topic_fit

logger = logging.getLogger(__name__)

PROMPTS = Path(__file__).parent / "prompts"
RECONNECT_SECONDS = 2.0  # a store that was down at start-up is tried again at most this often
_FOLLOW_UP = re.compile(
    r"^\s*(what|how) about\b|^\s*(and|but|also|plus|or)\b|^\s*what if\b|^\s*same\b|"
    r"^\s*(is|does|will|can) (that|this|it)\b|^\s*why\??\s*$",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]{2,}")
_DOMAIN = re.compile(
    r"\b(bab(y|ies)|toddler|infant|newborn|child|children|kid|foster|carer|placement|contact|"
    r"family time|social worker|health visitor|attachment|adopt\w*|care order|bubs?|little one|"
    r"son|daughter|nursery|cot|bottle|crying|cries|screams?|sleep\w*|feed\w*|lo|"
    r"grand(son|daughter|child)|niece|nephew|kinship|sgo|tantrums?|meltdowns?|nappy|nappies|"
    r"potty|sw|hv|lac|iro|birth (mum|mother|dad|father|family|parents?)|"
    r"\d+ ?(yo|y/o|mo|m/o|wks?|weeks? old|mths?|months? old|yrs?|yr olds?|years? old)|"
    r"\d+ and a half|(?:she|he|they) ?(?:s|is|are) \d{1,2})\b",
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
    # The evidence is middling: quote the closest section, saying it is not an exact answer.
    closest: bool = False
    # For each hit, its quotable sentences' cosine with the carer's ask.
    similarities: list[dict[str, float]] = field(default_factory=list)
    # For a declined question: who is better placed to answer it, when the topic says.
    who_to_ask: str | None = None


class Assistant:
    def __init__(
        self,
        settings: Settings,
        triage: SafetyTriage,
        retriever: Retriever | None,
        generator: Generator | None = None,
        scope: ScopeGuard | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self.triage = triage
        self.retriever = retriever
        # Embeds the carer's question for the safety classifier, even while the store is down.
        self.embedder = embedder
        # The quoting composer is always there; an LLM, when configured, goes in front of it
        # (see `build_generator`).
        self.generator = generator or build_generator(settings, self._idf)
        self.scope = scope
        self.topic_fit = default_topic_fit()
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
        triage = build_triage(settings)
        retriever = None
        scope = None
        connect: Callable[[], Retriever] | None = None
        model: Embedder | None = None
        try:
            batching = BatchingEmbedder(embedder or build_embedder(settings))
            model = batching
            triage.classifier = load_classifier(
                settings, settings.resolved_model_path(), trunk=batching.token_states
            )
            scope = ScopeGuard.build(
                model, settings.scope_margin, settings.scope_floor, settings.scope_max_age_years
            )

            def connect() -> Retriever:
                return Retriever(
                    store or open_store(settings), model, settings, triage.normalise.known_words
                )

            retriever = connect()
            triage.learn_words(retriever.view().idf)
        except Exception as error:  # noqa: BLE001 - serve triage even when this fails
            # Our own errors say what to change (and never hold a carer's words); others may.
            logger.warning("retrieval unavailable at start-up: %s", _kind(error))
        assistant = cls(settings, triage, retriever, scope=scope, embedder=model)
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
        if question.isupper() and len(_WORD.findall(question)) > 1:
            question = question.lower()  # all capitals read as ordinary text (not "EPO?")

        # One embedding serves the classifier and the search: of the carer's words with figures
        # of speech read as what they mean ("she's dead good at sharing" is "really good").
        meant = self.triage.literal(question)
        mark = time.perf_counter()
        vector = self._embed(meant)
        if vector is not None:
            timings["embed"] = _ms(mark)
        mark = time.perf_counter()
        safety = self.triage.triage(meant)
        timings["triage"] = _ms(mark)
        if safety.matched == "language":
            return Prepared(question, history, safety, [], [], "unreadable", [], timings, started)
        unfiltered = filters is None or filters.empty
        if safety.category == "none" and not history and unfiltered and too_short(question):
            # "sleep?" or only emoji: ask for a sentence rather than stitch random sections.
            return Prepared(question, history, safety, [], [], "needs_more", [], timings, started)

        # A safety message is about what is happening now: search for it on its own words.
        query = self.retrieval_query(meant, [] if safety.category != "none" else history)
        try:
            retrieval = self.retrieve(
                query, filters, query_vector=vector if query == meant else None
            )
        except Exception as error:
            if safety.category == "none":
                raise unavailable(error) from error
            logger.warning(
                "answering with the safety message only: retrieval failed (%s)", _kind(error)
            )
            return Prepared(
                question, history, safety, [], [], "index_unavailable", [], timings, started
            )
        timings.update(retrieval.timings_ms)

        asked = self.topic_fit.asked_about(question)
        # After a message that only says who can check a health worry, the answer is chosen as
        # for any question (the feeding guidance under "a health professional can check").
        triaged = safety.limits_quotes
        # Topic fit applies to the topics listed after a refusal too (no "if a child in your
        # care dies" under a question about a relative with dementia).
        related = self._related([h for h in retrieval.hits if self._fits(h, asked, triaged)])
        threshold = self.settings.abstain_threshold
        if triaged:
            threshold -= self.settings.safety_evidence_margin
        outside = self._outside(question, retrieval)
        # Topic fit: a section about emergencies, abuse, shaking or losing control is quoted
        # only when the question is about that, or after a safety message.
        fitting = [hit for hit in retrieval.hits if self._fits(hit, asked, triaged)]
        reason: str | None = None
        closest = False
        # About the carer's world: it says so ("toddler", "contact", "3yrs"), or it is nearly
        # one of the library's own questions ("he rocks back and forth a lot").
        in_domain = bool(
            (filters and not filters.empty)
            or _DOMAIN.search(retrieval.query)
            or (fitting and self._own_question(fitting[0]))
        )
        if outside or not fitting or retrieval.evidence < threshold:
            reason = "no_evidence" if in_domain and not outside else "out_of_scope"
        elif fitting[0].score < retrieval.hits[
            0
        ].score * self.settings.topic_fit_ratio and not self._close_match(fitting[0]):
            # The best match was left out for topic fit; what remains is not a close match.
            reason = "no_evidence"
        if (
            reason == "no_evidence"
            and fitting
            and not self._nearer_uncovered_topic(retrieval)
            and retrieval.evidence >= threshold - self.settings.closest_margin
            and self._close_match(fitting[0])
        ):
            # Middling evidence about the carer's world: quote the closest section and say
            # so, rather than refuse; no hedge when the carer asked that section's own question.
            reason, closest = None, not self._own_question(fitting[0])
        elif (
            not reason
            and fitting[0].score < self.settings.full_answer_floor
            and not self._asked_directly(fitting[0])
        ):
            # Enough evidence to say something, but the best section is not a close match and
            # the carer did not ask its own question: quote it as the closest guidance.
            closest = True
        hits = [] if reason else fitting
        if triaged:
            # After a safety message, only guidance about that situation, or none at all. Short
            # of an emergency, a section whose own question the carer asked is that situation
            # ("birth dad wants photos of his son on WhatsApp" after the safeguarding lines).
            hits = [hit for hit in hits if self._fits_safety(safety.category, hit)]
            if not hits and not reason:
                reason = "no_evidence"
        sources = [citation(n, hit.chunk, hit.score) for n, hit in enumerate(hits, start=1)]
        similarities = [self._similarity(hit, retrieval.ask_vector) for hit in hits]
        who_to_ask = None
        if reason == "out_of_scope" and self.scope is not None:
            who_to_ask = self.scope.who_to_ask(outside, retrieval.query_vector)
            if outside:
                # About a topic we know we do not cover: library titles would only distract.
                related = []
        return Prepared(
            question,
            history,
            safety,
            hits,
            sources,
            reason,
            related,
            timings,
            started,
            closest,
            similarities,
            who_to_ask,
        )

    def finish(self, prepared: Prepared) -> Answer:
        """Generate the answer from what `prepare` found."""
        timings = prepared.timings
        if prepared.abstain_reason:
            if prepared.abstain_reason in ("index_unavailable", "unreadable", "needs_more"):
                body = self.messages[prepared.abstain_reason].strip()
            else:
                body = self._abstention(prepared.abstain_reason, prepared)
            timings["total"] = _ms(prepared.started)
            return self._answer(
                prepared.safety,
                body,
                abstain_reason=prepared.abstain_reason,
                related=prepared.related,
                timings=timings,
            )
        mark = time.perf_counter()
        passages = [
            Passage(
                hit.chunk,
                hit.score,
                asked_directly=self._asked_directly(hit),
                question=hit.question_dense or 0.0,
                similarity=similarity,
            )
            for hit, similarity in zip(prepared.hits, prepared.similarities, strict=True)
        ]
        triaged = prepared.safety.limits_quotes
        sentences = self.generator.generate(
            prepared.question,
            passages,
            prepared.history,
            triaged=triaged,
            closest=prepared.closest,
        )
        text, citations = cite(sentences, prepared.sources)
        timings["compose"] = _ms(mark)
        timings["total"] = _ms(prepared.started)
        if not citations:
            return self._answer(
                prepared.safety,
                self._abstention("no_evidence", prepared),
                abstain_reason="no_evidence",
                related=prepared.related,
                timings=timings,
            )
        note = None
        if prepared.closest:
            first = next(c for c in citations if c.n == min(c.n for c in citations))
            note = (
                self.messages["closest"]
                .strip()
                .format(section=first.section.split(" > ")[-1], title=first.title)
            )
        return self._answer(prepared.safety, text, citations=citations, timings=timings, note=note)

    # -- steps ------------------------------------------------------------------------

    def urgent(self, question: str) -> bool:
        """Whether triage flags the message on its words alone (no retrieval needed)."""
        return self.triage.triage(question, classify=False).category != "none"

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

    def _outside(self, question: str, retrieval: Retrieval) -> str | None:
        """The uncovered topic the question is about, if any (see `ScopeGuard`)."""
        if self.scope is None:
            return None
        if self.scope.only_older_children(question):
            return OLDER_CHILDREN
        subject = self.scope.uncovered_subject(question)
        if subject:
            return subject
        if retrieval.query_vector is None:
            return None
        named = self.scope.names_uncovered_topic(retrieval.query)
        return self.scope.outside(
            retrieval.query_vector, self._library_match(retrieval), named=named
        )

    def _nearer_uncovered_topic(self, retrieval: Retrieval) -> bool:
        """Stricter than the scope guard, for 'closest' answers: the question is at all nearer
        to a topic we do not cover (a puppy crying at night) than to the library."""
        if self.scope is None or retrieval.query_vector is None:
            return False
        if self.scope.names_uncovered_topic(retrieval.query):
            return True
        margin = self.settings.scope_margin
        library = self._library_match(retrieval) - margin
        return self.scope.outside(retrieval.query_vector, library) is not None

    def _library_match(self, retrieval: Retrieval) -> float:
        """How close the question comes to the library: its best passage, or one of the
        library's own questions when the carer asked it nearly word for word."""
        if retrieval.best_question >= self.settings.own_question_floor:
            return max(retrieval.best_dense, retrieval.best_question)
        return retrieval.best_dense

    def _fits(self, hit: Hit, asked: set[str], triaged: bool) -> bool:
        """Topic fit for a whole section: allowed when its topic is not alarming, when the
        question raises that topic, after a safety message, or when the carer asked the
        section's own question (its heading or an alternate) nearly word for word."""
        chunk = hit.chunk
        return self._asked_directly(hit) or self.topic_fit.section_allowed(
            chunk.section, chunk.topics, asked, triaged
        )

    def _fits_safety(self, category: SafetyCategory, hit: Hit) -> bool:
        """Whether a section may be quoted after this category's safety message."""
        if self.triage.fits(category, hit.chunk.topics):
            return True
        return category != "emergency" and self._asked_directly(hit)

    def _similarity(self, hit: Hit, vector: np.ndarray | None) -> dict[str, float]:
        """The hit's sentences scored against the ask; none if the index went away (the
        composer then chooses by words alone)."""
        if self.retriever is None:
            return {}
        try:
            return self.retriever.similarity(hit.chunk.text, vector)
        except Exception as error:  # noqa: BLE001 - the retrieval boundary
            logger.warning("composing without sentence vectors: %s", _kind(error))
            return {}

    def _asked_directly(self, hit: Hit) -> bool:
        return (hit.question_dense or 0.0) >= self.settings.topic_question_floor

    def _own_question(self, hit: Hit) -> bool:
        """The carer asked this section's own question nearly word for word."""
        return (hit.question_dense or 0.0) >= self.settings.own_question_floor

    def _close_match(self, hit: Hit) -> bool:
        """The carer's question is close to the section's own question (heading or alternate)."""
        return (hit.question_dense or 0.0) >= self.settings.closest_question_floor

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
        self,
        query: str,
        filters: Filters | None = None,
        k: int | None = None,
        query_vector: np.ndarray | None = None,
    ) -> Retrieval:
        """Retrieval alone (also for browsing the library). Every failure is raised as
        `IndexNotReadyError` (503)."""
        try:
            return self._ready().search(query, filters=filters, k=k, query_vector=query_vector)
        except Exception as error:
            raise unavailable(error) from error

    def _embed(self, question: str) -> np.ndarray | None:
        """The question's vector, or None when the model is unavailable (triage still runs)."""
        if self.embedder is None:
            return None
        try:
            return self.embedder.embed_query(question)
        except Exception as error:  # noqa: BLE001 - patterns and concepts still triage
            logger.warning("could not embed the question: %s", type(error).__name__)
            return None

    @property
    def generation(self) -> str | None:
        """The index generation being served (for /readyz); None when no index is loaded."""
        return self.retriever.view().generation if self.retriever else None

    def documents(self) -> dict[str, Document]:
        """The documents of the serving generation, by id (for opening citations)."""
        try:
            return self._ready().view().documents
        except Exception as error:
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

    def _abstention(self, reason: str, prepared: Prepared) -> str:
        if prepared.safety.category != "none":
            # The safety message above is the answer; no "couldn't find guidance" after it.
            return self.messages["after_safety"].strip()
        text = self.messages[reason].strip()
        if reason == "needs_more":
            return text
        if reason == "out_of_scope":
            pointer = prepared.who_to_ask or self.messages["out_of_scope_ask"].strip()
            text += f"\n\n{pointer} {self.messages['out_of_scope_health'].strip()}"
        # A health or danger worry never gets a bare "not covered": NHS 111 and 999 come first.
        if prepared.safety.category == "none" and self.triage.health_worry(prepared.question):
            text = self.messages["health_worry"].strip() + "\n\n" + text
        if prepared.related:
            topics = "\n".join(f"- {doc.title}" for doc in prepared.related)
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
        note: str | None = None,
    ) -> Answer:
        # The safety block always comes first; nothing retrieved is put before it.
        if note:
            body = f"{note}\n\n{body}"
        text = f"{safety.message}\n\n{body}" if safety.message else body
        return Answer(
            answer=text,
            note=note,
            citations=citations or [],
            abstained=abstain_reason is not None,
            abstain_reason=abstain_reason,
            safety=SafetyInfo(
                category=safety.category, message=safety.message, matched=safety.matched
            ),
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


def check_length(question: str, limit: int) -> None:
    """The command line's question limit (the HTTP layer checks its own, with a 422)."""
    if len(question) > limit:
        raise QuestionError(
            f"the question is {len(question)} characters; the limit is {limit} "
            "(NURTURE_MAX_QUESTION_CHARS): shorten it and ask again"
        )


def too_short(question: str) -> bool:
    """Fewer than two words of letters ("sleep?", "??", only emoji): too little to search on.
    An acronym alone ("EPO?", "SGO") is a fair question: the glossary answers it."""
    found = _WORD.findall(question)
    if len(found) == 1 and found[0].isupper() and len(found[0]) <= 6:
        return False
    return len(found) < 2


def build_generator(
    settings: Settings, idf: Callable[[], dict[str, float] | None] | None = None
) -> Generator:
    """Built once at start-up: the quoting composer, behind the configured LLM when there is
    one. The LLM's reply is kept only when it keeps the quoting and topic-fit contract.
    `idf` gives the serving index's term weights when the composer needs them."""
    topic_fit = default_topic_fit()
    extractive = ExtractiveGenerator(
        idf,
        topic_fit=topic_fit,
        max_sentences=settings.max_answer_sentences,
        answer_floor=settings.answer_sentence_floor,
        answer_margin=settings.answer_sentence_margin,
    )
    llm = build_llm_generator(settings)
    if llm is None:
        return extractive
    return FallbackGenerator([llm, extractive], keeps_contract(topic_fit))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
