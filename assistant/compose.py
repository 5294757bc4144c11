"""Grounded answers: quote the sentences of the retrieved passages that answer the question.

The composer sits behind the `Generator` protocol, so an LLM-backed generator can replace it
without changing the contract: it returns sentences, each tied to the passage it came from, and
the assistant turns those into `[n]` markers and citations.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from assistant.errors import GeneratorUnavailableError
from assistant.lexical import tokenize
from assistant.models import EVIDENCE_LABELS, Chunk, Citation, Message
from assistant.topic_fit import TopicFit, default_topic_fit

logger = logging.getLogger(__name__)

_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "Dr.", "Mr.", "Mrs.", "Ms.", "St.", "No.", "vs.", "al.")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_MAX_LIST_ITEMS = 15
# Words too common to show that a sentence is about the question (BM25's own list is short).
_COMMON = frozenset(
    tokenize(
        "i me my myself we our ours you your yours he him his himself she her hers herself it its "
        "they them their what which who whom this that these those am is are was were be been "
        "being have has had having do does did doing a an the and but if or because as until "
        "while of at by for with about against between into through during before after above "
        "below to from up down in out on off over under again further then once here there when "
        "where why how all any both each few more most other some such no nor not only own same "
        "so than too very can will just should now could would might must shall may also get got "
        "going go make made want need like feel know think one still back really much many well"
    )
)
# Sentences that lean on the one before them read badly when quoted alone.
_DANGLING = re.compile(r"^(?:This|That|These|Those|It|They|Both|Such|He|She|Here|Yes|No)\b")


@dataclass(frozen=True)
class Passage:
    chunk: Chunk
    score: float  # retrieval score, higher is better
    # The carer asked this section's own question (heading or alternate) nearly word for word,
    # so the section's topic is the question's topic (topic fit allows its sentences).
    asked_directly: bool = False
    # How well the carer's question matches the section's own question (cosine), if it did.
    question: float = 0.0
    # Each quotable sentence's cosine with the carer's ask, by its text (empty when the index
    # holds no sentence vectors).
    similarity: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Sentence:
    text: str
    passage: int  # index into the passages given to the generator
    start: int = 0  # offset of the sentence in the passage text


class Generator(Protocol):
    """Sentences answering `question`, each tied to the passage it quotes. `triaged`: a safety
    message is shown first (alarming topics may then be quoted); `closest`: the evidence is
    middling, so quote only the closest section."""

    def generate(
        self,
        question: str,
        passages: list[Passage],
        history: list[Message],
        *,
        triaged: bool = False,
        closest: bool = False,
    ) -> list[Sentence]: ...


def split_sentences(text: str) -> list[tuple[str, int]]:
    """Sentences of a passage with their offsets. A blank line, a bullet or a heading starts a
    new block; a wrapped line continues its paragraph. Whitespace inside a sentence is folded."""
    blocks: list[tuple[int, int]] = []  # (start, end) offsets of paragraph or bullet text
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        bullet = _BULLET.match(line)
        if not stripped or stripped.startswith("#"):
            blocks.append((-1, -1))
        elif bullet or not blocks or blocks[-1][0] < 0:
            blocks.append(
                (
                    offset + (bullet.end() if bullet else len(line) - len(line.lstrip())),
                    offset + len(line.rstrip()),
                )
            )
        else:
            blocks[-1] = (blocks[-1][0], offset + len(line.rstrip()))
        offset += len(line)
    sentences: list[tuple[str, int]] = []
    for start, end in blocks:
        if start < 0:
            continue
        for piece, relative in _split_line(text[start:end]):
            sentences.append((" ".join(piece.split()), start + relative))
    return sentences


def _split_line(line: str) -> list[tuple[str, int]]:
    pieces: list[tuple[str, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(line):
        candidate = line[start : match.start() + 1].rstrip()
        if candidate.endswith(_ABBREVIATIONS) or _inside_quote(line[start : match.start()]):
            continue
        pieces.append((line[start : match.start()].strip() or candidate, start))
        start = match.end()
    if line[start:].strip():
        pieces.append((line[start:].strip(), start))
    return [(piece, at) for piece, at in pieces if piece]


def with_lists(text: str, sentences: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """A sentence that introduces a bullet list ("Call 999 if a baby:") joined with its items
    into one quotable unit, so a list is quoted whole or not at all, never as a stray item."""

    def is_item(offset: int) -> bool:
        line_start = text.rfind("\n", 0, offset) + 1
        return bool(_BULLET.match(text[line_start:offset]))

    merged: list[tuple[str, int]] = []
    index = 0
    while index < len(sentences):
        sentence, start = sentences[index]
        items = []
        if sentence.endswith(":"):
            following = index + 1
            while following < len(sentences) and is_item(sentences[following][1]):
                items.append(sentences[following][0])
                following += 1
        if items and len(items) <= _MAX_LIST_ITEMS:
            merged.append((sentence + "".join(f"\n- {item}" for item in items), start))
            index += len(items) + 1
        else:
            merged.append((sentence, start))
            index += 1
    return merged


def quotable_sentences(text: str) -> list[tuple[int, str, int]]:
    """(position, plain text, offset) of each sentence of a passage that may be quoted on its
    own. A fragment (a bullet's second half, a lower-case run-on) never is."""
    found = []
    for position, (sentence, start) in enumerate(with_lists(text, split_sentences(text))):
        quoted = plain(sentence)
        if len(quoted.split()) < 4 or quoted[-1:] not in ".!?" or quoted[:1].islower():
            continue
        found.append((position, quoted, start))
    return found


def _inside_quote(text: str) -> bool:
    """An odd number of double quotes: the full stop ends quoted speech ("Say 'Ball!' ..."),
    which stays with the sentence around it."""
    return (text.count('"') + text.count("\u201c") + text.count("\u201d")) % 2 == 1


def plain(sentence: str) -> str:
    """Markdown links and emphasis removed, for quoting in an answer."""
    return _EMPHASIS.sub(r"\2", _LINK.sub(r"\1", sentence)).strip()


_YES_NO = re.compile(
    r"(?:^|[.?!,;]\s*|\b(?:but|so|and)\s+)(?:is|are|am|was|were|do|does|did|should|shall|can|"
    r"could|will|would|has|have|may|might|must|isnt|arent|doesnt|shouldnt|cant|wont)\b",
    re.IGNORECASE,
)
_ANSWERS_YES_NO = re.compile(
    r"^(?:yes|no|usually|often|mostly|not always|it is|it's|this is|that is|most|many|some|a few|"
    r"never|always)\b",
    re.IGNORECASE,
)
# The best section keeps first place when its own question matches the carer's this much better
# (cosine) than a yes/no-headed runner-up's.
_CLEARER_OWN_QUESTION = 0.05
# A verdict that opens a section's first sentence ("Yes:", "Usually not,", "Yes, with written
# permission:"): the answer to the section's own yes/no question, wrong under any other.
_VERDICT = re.compile(
    r"^(?:(?:(?:usually|mostly|often|probably|generally|not usually|not always|almost always)\s+)?"
    r"(?:yes|no|not|not yet|rarely|sometimes)\b[^.:;?!]{0,40}?[:;]\s+"
    r"|(?:yes|no),\s+)(?=\S)",
    re.IGNORECASE,
)
# A verdict's qualifier ("Yes, but only for ...") that cannot open a sentence on its own.
_QUALIFIER = re.compile(r"^(?:but|only|unless|if|as long as|provided|except)\b", re.IGNORECASE)
# Words that turn a yes/no question round ("is respite bad?" against "is respite worth it?"):
# a verdict answers only a question of the same sense as its heading.
_AGAINST = re.compile(
    r"\b(?:bad|worse|wrong|harm\w*|hurt\w*|damag\w*|dangerous|unsafe|risky|cruel|selfish|"
    r"unfair|too (?:early|late|young|old|much|many|long|soon))\b",
    re.IGNORECASE,
)
# A choice between two things ("through the hv or the lac nurse?"): no yes or no answers it.
_CHOICE = re.compile(
    r"\b\w+ or (?!not\b|no\b|something\b|anything\b|is it\b|more\b|less\b|so\b|longer\b)\w+",
    re.IGNORECASE,
)
# A section may give the answering sentence when it scores at least this share of the best.
_ANSWER_SECTION_SCORE = 0.8
_JUDGEMENT = ("normal", "common", "usual", "ok", "okay", "safe", "fine", "worry", "too long")


def _judgements(text: str) -> set[str]:
    lowered = text.lower()
    return {word for word in _JUDGEMENT if re.search(rf"\b{word}\b", lowered)}


def _heading(chunk: Chunk) -> str:
    """The section's own heading (its question), without the document path."""
    return (chunk.heading_path[-1:] or [""])[0]


def is_yes_no(question: str) -> bool:
    """A question that asks "is it normal", "should I", or anything answered yes or no."""
    return bool(_YES_NO.search(question.strip()))


@dataclass(frozen=True)
class Candidate:
    text: str
    passage: int
    start: int
    position: int  # sentence number within the passage
    words: int
    terms: frozenset[str]
    relevance: float  # idf-weighted share of the question's informative terms it contains
    similarity: float = 0.0  # cosine with the carer's ask


@dataclass(frozen=True)
class _Ask:
    """What the composer weighs a sentence against: the question's informative terms with their
    idf weights, the topics it asks about, and whether safety triage fired."""

    terms: frozenset[str]
    idf: dict[str, float]
    weight: float  # the idf of all its terms: a sentence holding every one has relevance 1
    topics: set[str]
    triaged: bool


class ExtractiveGenerator:
    """Quotes the best-matching section in its own order, without an LLM.

    1. The primary section is the best passage (for a yes/no question, a near-best section whose
       own heading is a yes/no question is preferred: its first sentence answers it).
    2. A coherent run of its opening sentences is quoted, about `min_words` to `max_words` words;
       for a yes/no question, the sentence that answers it comes first.
    3. A second section is added only when it scores close to the first, is on the same topic
       (same document or a shared topic), and adds a distinct point that shares words with the
       question.
    4. When the index holds sentence vectors, a sentence of the top sections that answers the
       carer's ask clearly better than anything chosen is added last (`_answering_sentence`).
    5. Topic fit: no sentence about an alarming topic (emergencies, abuse, shaking, losing
       control) unless the question raises it or safety triage fired; no sentence with no
       informative word in common with the question or its section heading.
    """

    def __init__(
        self,
        idf: dict[str, float] | Callable[[], dict[str, float]] | None = None,
        *,
        topic_fit: TopicFit | None = None,
        min_words: int = 40,
        target_words: int = 75,
        max_words: int = 140,
        max_sentences: int = 6,
        second_ratio: float = 0.9,
        second_support: float = 0.2,
        duplicate_overlap: float = 0.6,
        answer_floor: float = 0.5,
        answer_margin: float = 0.1,
    ) -> None:
        self._idf = idf
        self.topic_fit = topic_fit or default_topic_fit()
        self.min_words = min_words
        self.target_words = target_words
        self.max_words = max_words
        self.max_sentences = max_sentences
        self.second_ratio = second_ratio
        self.second_support = second_support
        self.duplicate_overlap = duplicate_overlap
        self.answer_floor = answer_floor
        self.answer_margin = answer_margin

    @property
    def idf(self) -> dict[str, float]:
        if callable(self._idf):
            return self._idf()
        return self._idf or {}

    def generate(
        self,
        question: str,
        passages: list[Passage],
        history: list[Message],  # noqa: ARG002 - the extractive composer answers the question alone
        *,
        triaged: bool = False,
        closest: bool = False,
    ) -> list[Sentence]:
        if not passages:
            return []
        idf = self.idf
        query_terms = frozenset(tokenize(question)) - _COMMON
        ask = _Ask(
            terms=query_terms,
            idf=idf,
            weight=sum(idf.get(t, 1.0) for t in query_terms) or 1.0,
            topics=self.topic_fit.asked_about(question),
            triaged=triaged,
        )
        fitting = [
            index
            for index, passage in enumerate(passages)
            if passage.asked_directly
            or self.topic_fit.section_allowed(
                passage.chunk.section, passage.chunk.topics, ask.topics, triaged
            )
        ]
        if not fitting:
            return []
        yes_no = is_yes_no(question)

        def opening(index: int) -> float:
            found = self._candidates(passages[index], index, ask)[:3]
            return sum(candidate.relevance for candidate in found)

        primary = self._primary(passages, fitting, question, yes_no, opening)
        candidates = self._candidates(passages[primary], primary, ask)
        first = passages[primary]
        if first.asked_directly:
            # The carer asked this section's own question: its topic is the question's topic.
            own = self.topic_fit.section_topics(first.chunk.section, first.chunk.topics)
            ask = replace(ask, topics=ask.topics | own)
        chosen = self._opening_run(candidates, ask, first)
        if not chosen:
            return []
        if yes_no and not (chosen[0].position == 0 and is_yes_no(_heading(first.chunk))):
            # A section whose heading is itself a yes/no question opens with its answer (the
            # corpus is written that way); any other opening may not answer the carer's.
            chosen = self._lead_with_answer(chosen, candidates, question, ask)
        if not closest:
            chosen += self._second(passages, fitting, primary, chosen, ask)
        chosen = self._answering_sentence(chosen, passages, [primary], ask)
        return [
            Sentence(
                self._verdict_fit(c.text, passages[c.passage], question, yes_no),
                c.passage,
                c.start,
            )
            for c in chosen
        ]

    @staticmethod
    def _verdict_fit(text: str, passage: Passage, question: str, yes_no: bool) -> str:
        """A sentence opening with its section's verdict ("Yes, with written permission: ...")
        keeps it only when the carer asked a yes/no question, not a choice ("the hv or the lac
        nurse?"), it was the section's own question, and it was asked the same way round ("is
        respite bad?" is not "is respite worth it?"); otherwise the verdict is dropped and the
        rest quoted, unless what follows it cannot stand alone ("but only for ...")."""
        same_sense = bool(_AGAINST.search(question)) == bool(
            _AGAINST.search(_heading(passage.chunk))
        )
        if yes_no and passage.asked_directly and same_sense and not _CHOICE.search(question):
            return text
        verdict = _VERDICT.match(text)
        if not verdict or len(text) - verdict.end() < 20:
            return text
        rest = text[verdict.end() :]
        if _QUALIFIER.match(rest):
            return text  # "Yes, but only for ...": without its verdict the rest is not a sentence
        return rest[0].upper() + rest[1:]

    # -- steps ------------------------------------------------------------------------

    def _primary(
        self,
        passages: list[Passage],
        fitting: list[int],
        question: str,
        yes_no: bool,
        opening: Callable[[int], float],
    ) -> int:
        """The best section; for a yes/no question, a close one whose heading asks the same
        kind of question ("Is it normal ...?" for "is this normal?") is preferred when its
        opening sentences share at least as much with the question as the best one's."""
        best = fitting[0]
        if not yes_no:
            return best
        judged = _judgements(question)
        for index in fitting[:3]:
            heading = _heading(passages[index].chunk)
            if index == best or not is_yes_no(heading):
                continue
            if passages[best].question >= passages[index].question + _CLEARER_OWN_QUESTION:
                # The carer asked the best section's own question more nearly.
                continue
            ratio = passages[index].score / (passages[best].score or 1.0)
            if ratio < 0.7 or (ratio < self.second_ratio and not judged & _judgements(heading)):
                continue
            if opening(index) >= opening(best):
                return index
        return best

    @staticmethod
    def _candidates(passage: Passage, index: int, ask: _Ask) -> list[Candidate]:
        found = []
        for position, text, start in quotable_sentences(passage.chunk.text):
            terms = frozenset(tokenize(text))
            relevance = sum(ask.idf.get(t, 1.0) for t in ask.terms & terms) / ask.weight
            found.append(
                Candidate(
                    text,
                    index,
                    start,
                    position,
                    len(text.split()),
                    terms,
                    relevance,
                    passage.similarity.get(text, 0.0),
                )
            )
        return found

    def _fits(self, candidate: Candidate, ask: _Ask) -> bool:
        return self.topic_fit.allows(candidate.text, ask.topics, ask.triaged)

    def _opening_run(
        self, candidates: list[Candidate], ask: _Ask, passage: Passage
    ) -> list[Candidate]:
        """The section's opening sentences in order, stopping near `target_words`."""
        heading_terms = frozenset(tokenize(passage.chunk.section)) - _COMMON
        chosen: list[Candidate] = []
        words = 0
        skipped = False
        for candidate in candidates:
            if len(chosen) >= self.max_sentences or words >= self.target_words:
                break
            if words + candidate.words > self.max_words and chosen:
                break
            off_topic = (
                chosen and candidate.relevance == 0 and not (candidate.terms & heading_terms)
            )
            if (
                not self._fits(candidate, ask)
                or off_topic
                or (skipped and _DANGLING.match(candidate.text))
                or (not chosen and _DANGLING.match(candidate.text) and candidate.position > 0)
            ):
                skipped = True
                continue
            if any(_overlap(candidate.terms, c.terms) >= self.duplicate_overlap for c in chosen):
                continue
            chosen.append(candidate)
            words += candidate.words
            skipped = False
        return chosen

    def _lead_with_answer(
        self,
        chosen: list[Candidate],
        candidates: list[Candidate],
        question: str,
        ask: _Ask,
    ) -> list[Candidate]:
        """For a yes/no question, the sentence that answers it goes first."""
        judged = _judgements(question)

        def answers(candidate: Candidate) -> bool:
            text = candidate.text.lower()
            return bool(_ANSWERS_YES_NO.match(text)) or any(
                re.search(rf"\b{word}\b", text) for word in judged
            )

        def answering(candidate: Candidate) -> float:
            score = candidate.relevance
            if _ANSWERS_YES_NO.match(candidate.text):
                score += 0.3
            if any(re.search(rf"\b{word}\b", candidate.text.lower()) for word in judged):
                score += 0.4
            return score - 0.05 * candidate.position

        pool = [c for c in candidates[:8] if self._fits(c, ask) and answers(c)]
        if not pool:
            return chosen
        best = max(pool, key=answering)
        if best is chosen[0] or answering(best) <= answering(chosen[0]) + 0.1:
            return chosen
        rest = [c for c in chosen if c is not best]
        words = best.words
        kept = [best]
        for candidate in rest:
            if words + candidate.words > self.max_words:
                break
            kept.append(candidate)
            words += candidate.words
        return kept

    def _answering_sentence(
        self,
        chosen: list[Candidate],
        passages: list[Passage],
        fitting: list[int],
        ask: _Ask,
    ) -> list[Candidate]:
        """The sentence that answers the carer's ask, when the run left it out ("do I put a
        blanket over her sleeping bag?" is answered in the middle of a section). Of the top
        sections' sentences, one whose meaning matches the ask (cosine >= `answer_floor`) and
        clearly better (by `answer_margin`) than every chosen sentence is added last, after the
        opening that sets the scene; the run is shortened to make room for it."""
        top = passages[fitting[0]].score
        pool = [
            candidate
            for index in fitting[:3]
            if passages[index].similarity and passages[index].score >= top * _ANSWER_SECTION_SCORE
            for candidate in self._candidates(passages[index], index, ask)
            if self._fits(candidate, ask) and not _DANGLING.match(candidate.text)
        ]
        if not pool:
            return chosen
        best = max(pool, key=lambda candidate: candidate.similarity)
        held = max((candidate.similarity for candidate in chosen), default=0.0)
        if best.similarity < self.answer_floor or best.similarity < held + self.answer_margin:
            return chosen
        kept: list[Candidate] = []
        words = best.words
        for candidate in chosen:
            if words + candidate.words > self.max_words or len(kept) + 1 >= self.max_sentences:
                break
            if _overlap(candidate.terms, best.terms) >= self.duplicate_overlap:
                continue
            kept.append(candidate)
            words += candidate.words
        return [*kept, best]

    def _second(
        self,
        passages: list[Passage],
        fitting: list[int],
        primary: int,
        chosen: list[Candidate],
        ask: _Ask,
    ) -> list[Candidate]:
        """One to two opening sentences of a second section: only a close match on the same
        topic that makes a distinct point the question asks about."""
        words = sum(c.words for c in chosen)
        top = passages[fitting[0]].score
        first = passages[primary].chunk
        for index in fitting[:3]:
            if index == primary:
                continue
            passage = passages[index]
            chunk = passage.chunk
            same_topic = chunk.doc_id == first.doc_id or bool(set(chunk.topics) & set(first.topics))
            if passage.score < top * self.second_ratio or not same_topic:
                continue
            added: list[Candidate] = []
            for candidate in self._candidates(passage, index, ask)[:3]:
                if (
                    candidate.relevance < self.second_support
                    # Sharing a word is not enough where meaning can be measured: a second
                    # section's sentence must itself match the carer's ask.
                    or (passage.similarity and candidate.similarity < self.answer_floor)
                    or not self._fits(candidate, ask)
                    or _DANGLING.match(candidate.text)
                    or words + candidate.words > self.max_words
                    or any(
                        _overlap(candidate.terms, c.terms) >= self.duplicate_overlap
                        for c in chosen + added
                    )
                ):
                    continue
                added.append(candidate)
                words += candidate.words
                if len(added) == 2:
                    break
            if added:
                return added
        return []


class FallbackGenerator:
    """A generator that wraps others: the first whose reply keeps the contract wins.

    Built once at start-up (an LLM first, the extractive composer last). A reply is kept when
    it is not empty and every sentence passes `accept` (the quoting, citation and topic-fit
    contract); an unreachable model (`GeneratorUnavailableError`) or a reply that breaks the
    contract passes the turn to the next generator, so the carer gets the quoted answer."""

    def __init__(
        self,
        generators: list[Generator],
        accept: Callable[[str, list[Passage], list[Sentence], bool], bool],
    ) -> None:
        if not generators:
            raise ValueError("FallbackGenerator needs at least one generator")
        self.generators = generators
        self.accept = accept

    def generate(
        self,
        question: str,
        passages: list[Passage],
        history: list[Message],
        *,
        triaged: bool = False,
        closest: bool = False,
    ) -> list[Sentence]:
        last = len(self.generators) - 1
        for n, generator in enumerate(self.generators):
            try:
                sentences = generator.generate(
                    question, passages, history, triaged=triaged, closest=closest
                )
            except GeneratorUnavailableError as error:
                if n == last:
                    raise
                logger.warning("generator %d unavailable, falling back: %s", n, error)
                continue
            if n == last or self.accept(question, passages, sentences, triaged):
                return sentences
            logger.info("generator %d broke the quoting contract; falling back", n)
        return []


def _overlap(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def split_answer(answer: str) -> list[str]:
    """Pieces of a finished answer for streaming: the safety block, then sentence by sentence.
    Joined together they are exactly the answer."""
    pieces: list[str] = []
    block, separator, body = answer.rpartition("\n\n")
    if separator and "[" not in block and "]" in body:
        pieces.append(block + separator)
        answer = body
    start = 0
    for match in re.finditer(r"\] (?=\S)", answer):
        pieces.append(answer[start : match.end()])
        start = match.end()
    pieces.append(answer[start:])
    return [piece for piece in pieces if piece]


# -- citations: built next to the composer, from each chunk's own provenance ------------------


def citation(n: int, chunk: Chunk, score: float) -> Citation:
    return Citation(
        n=n,
        doc_id=chunk.doc_id,
        title=chunk.title,
        section=chunk.section,
        anchor=chunk.anchor,
        url=chunk.url,
        source=chunk.source,
        type=chunk.type,
        evidence=EVIDENCE_LABELS[chunk.type],
        reviewed=chunk.reviewed,
        snippet=chunk.text,
        quotes=[],
        chunk_id=chunk.id,
        start=chunk.start,
        end=chunk.end,
        score=round(score, 6),
    )


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
    # A quoted list stands in its own paragraph; sentences run on after one another.
    text = ""
    for number, part in enumerate(parts):
        list_here = "\n" in part or (number > 0 and "\n" in parts[number - 1])
        text += ("\n\n" if list_here else " ") + part if number else part
    return text, citations


def _folded(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain(text).lower()).split())


def keeps_contract(
    topic_fit: TopicFit,
) -> Callable[[str, list[Passage], list[Sentence], bool], bool]:
    """The contract every generated answer is held to: at least one sentence; each sentence is
    quoted from the passage it cites (case, punctuation and Markdown aside); and none raises an
    alarming topic the question did not (unless triage fired)."""

    def accept(
        question: str, passages: list[Passage], sentences: list[Sentence], triaged: bool
    ) -> bool:
        if not sentences:
            return False
        asked = topic_fit.asked_about(question)
        for sentence in sentences:
            if not 0 <= sentence.passage < len(passages):
                return False
            quoted = _folded(sentence.text)
            if len(quoted.split()) < 3 or quoted not in _folded(
                passages[sentence.passage].chunk.text
            ):
                return False
            if not topic_fit.allows(sentence.text, asked, triaged):
                return False
        return True

    return accept
