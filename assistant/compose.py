"""Grounded answers: quote the sentences of the retrieved passages that answer the question.

The composer sits behind the `Generator` protocol, so an LLM-backed generator can replace it
without changing the contract: it returns sentences, each tied to the passage it came from, and
the assistant turns those into `[n]` markers and citations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from assistant.lexical import tokenize
from assistant.models import Chunk, Message

_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "Dr.", "Mr.", "Mrs.", "Ms.", "St.", "No.", "vs.", "al.")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
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


@dataclass(frozen=True)
class Sentence:
    text: str
    passage: int  # index into the passages given to the generator
    start: int = 0  # offset of the sentence in the passage text


class Generator(Protocol):
    def generate(
        self, question: str, passages: list[Passage], history: list[Message]
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
        if candidate.endswith(_ABBREVIATIONS):
            continue
        pieces.append((line[start : match.start()].strip() or candidate, start))
        start = match.end()
    if line[start:].strip():
        pieces.append((line[start:].strip(), start))
    return [(piece, at) for piece, at in pieces if piece]


def plain(sentence: str) -> str:
    """Markdown links and emphasis removed, for quoting in an answer."""
    return _EMPHASIS.sub(r"\2", _LINK.sub(r"\1", sentence)).strip()


class ExtractiveGenerator:
    """Picks 2 to `max_sentences` sentences that best answer the question, without an LLM."""

    def __init__(
        self,
        idf: dict[str, float] | None = None,
        *,
        min_sentences: int = 2,
        max_sentences: int = 5,
        max_passages: int = 3,
        duplicate_overlap: float = 0.6,
        min_support: float = 0.15,
    ) -> None:
        self.idf = idf or {}
        self.min_sentences = min_sentences
        self.max_sentences = max_sentences
        self.max_passages = max_passages
        self.duplicate_overlap = duplicate_overlap
        self.min_support = min_support

    def generate(
        self,
        question: str,
        passages: list[Passage],
        history: list[Message],  # noqa: ARG002 - the extractive composer answers the question alone
    ) -> list[Sentence]:
        if not passages:
            return []
        query_terms = set(tokenize(question)) - _COMMON
        query_weight = sum(self._idf(term) for term in query_terms) or 1.0
        top_score = max(passage.score for passage in passages) or 1.0
        scored: list[tuple[float, int, int, str, set[str]]] = []
        for index, passage in enumerate(passages[: self.max_passages]):
            relevance = passage.score / top_score
            heading_terms = set(tokenize(" ".join(passage.chunk.heading_path)))
            heading_match = sum(self._idf(t) for t in query_terms & heading_terms) / query_weight
            for position, (sentence, start) in enumerate(split_sentences(passage.chunk.text)):
                text = plain(sentence)
                words = len(text.split())
                if words < 4 or text[-1:] not in ".!?":
                    continue
                terms = set(tokenize(text))
                overlap = sum(self._idf(t) for t in query_terms & terms) / query_weight
                if index > 0 and overlap + heading_match < self.min_support:
                    # Beyond the best passage, quote only what shares words with the question.
                    continue
                score = 0.45 * relevance + 0.4 * overlap + 0.15 * heading_match
                score -= 0.04 * position  # guidance puts the main point first
                if _DANGLING.match(text):
                    score -= 0.15
                if words > 45:
                    score -= 0.1
                scored.append((score, index, start, text, terms))

        scored.sort(key=lambda item: item[0], reverse=True)
        chosen: list[tuple[float, int, int, str, set[str]]] = []
        for item in scored:
            if len(chosen) >= self.max_sentences:
                break
            if any(_overlap(item[4], other[4]) >= self.duplicate_overlap for other in chosen):
                continue
            if len(chosen) >= self.min_sentences and item[0] < chosen[0][0] * 0.7:
                break
            chosen.append(item)
        # Read in the guidance's own order: passage by passage, sentence by sentence.
        chosen.sort(key=lambda item: (item[1], item[2]))
        return [Sentence(text, index, start) for _, index, start, text, _ in chosen]

    def _idf(self, term: str) -> float:
        return self.idf.get(term, 1.0)


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
