"""Stage 3: split documents into sections by heading, then into chunks by the model's tokens.

A chunk never spans two sections, and no chunk (with the title and headings the model also sees)
is longer than the embedding model reads: all-MiniLM-L6-v2 silently drops word pieces past 256.
"""

from __future__ import annotations

import hashlib
import re
from typing import Protocol

from langchain_text_splitters import RecursiveCharacterTextSplitter

from assistant.errors import CorpusError
from assistant.models import AgeRange, Chunk, Document, Section, Source

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
# "Also asked as:" then a `-` list, as the first block of a section (corpus conventions).
_ALSO_ASKED = re.compile(r"^also asked as\s*:?\s*$", re.IGNORECASE)
_ALTERNATE = re.compile(r"^\s*[-*+][ \t]+(.+?)\s*$")
# Sections carers open but that are not quoted in answers.
UNQUOTED_SECTIONS = {"sources", "references", "further reading"}
# [CLS] and [SEP] take two of the model's positions.
_SPECIAL_TOKENS = 2
_MIN_BUDGET = 32


class TokenCounter(Protocol):
    max_tokens: int

    def count_tokens(self, text: str) -> int: ...


def slugify(heading: str) -> str:
    """GitHub-style anchor: lower case, punctuation dropped, spaces to hyphens."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return re.sub(r"\s", "-", slug)


def split_sections(body: str) -> list[Section]:
    """Sections in order; the text before the first heading is a section with no heading."""
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    used: dict[str, int] = {}
    anchor = ""
    start = 0
    in_fence = False
    offset = 0

    def close(end: int) -> None:
        alternates, skip = split_alternates(body[start:end]) if path else ([], 0)
        raw = body[start + skip : end]
        stripped = raw.strip()
        lead = skip + len(raw) - len(raw.lstrip())
        if stripped or path:
            sections.append(
                Section(
                    heading_path=[title for _, title in path],
                    anchor=anchor,
                    text=stripped,
                    start=start + lead,
                    end=start + lead + len(stripped),
                    alternates=alternates,
                )
            )

    for line in body.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line.rstrip("\r\n"))
        if match:
            close(offset)
            level, title = len(match[1]), match[2].strip()
            path = [(lvl, text) for lvl, text in path if lvl < level] + [(level, title)]
            base = slugify(title)
            count = used.get(base, 0)
            used[base] = count + 1
            anchor = base if count == 0 else f"{base}-{count}"
            start = offset + len(line)
        offset += len(line)
    close(len(body))
    return sections


def split_alternates(text: str) -> tuple[list[str], int]:
    """The "Also asked as:" phrasings at the start of a section's text, and how many characters
    the block takes (0 when there is none): those characters are never quoted."""
    lines = text.splitlines(keepends=True)
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index >= len(lines) or not _ALSO_ASKED.match(lines[index].strip()):
        return [], 0
    index += 1
    alternates: list[str] = []
    while index < len(lines):
        match = _ALTERNATE.match(lines[index].rstrip("\r\n"))
        if match is None:
            break
        alternates.append(match[1])
        index += 1
    return alternates, sum(len(line) for line in lines[:index])


def is_quoted(section: Section) -> bool:
    return not (section.heading_path and section.heading_path[-1].lower() in UNQUOTED_SECTIONS)


class Chunker:
    def __init__(self, counter: TokenCounter, chunk_size: int, chunk_overlap: int) -> None:
        self._counter = counter
        self._chunk_size = chunk_size
        self._chunk_overlap = chunk_overlap
        self._limit = counter.max_tokens - _SPECIAL_TOKENS

    def chunk(self, doc: Document) -> list[Chunk]:
        chunks: list[Chunk] = []
        ages = doc.meta.ages()
        for section in doc.sections:
            if not section.text or not is_quoted(section):
                continue
            template = self._chunk(doc, section, "", 0, 0, ages)
            budget = min(
                self._chunk_size,
                self._limit - self._counter.count_tokens(template.embedding_text()),
            )
            if budget < _MIN_BUDGET:
                raise CorpusError(
                    doc.path,
                    f"heading '{section.heading_path[-1]}' with the title is too long for the "
                    "model to read alongside any text; shorten the heading or the title",
                )
            for piece, relative in self._split(section.text, budget):
                start = section.start + relative
                chunk = self._chunk(doc, section, piece, len(chunks), start, ages)
                chunks.append(chunk)
        return chunks

    def _split(self, text: str, budget: int) -> list[tuple[str, int]]:
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=budget,
            chunk_overlap=min(self._chunk_overlap, budget // 4),
            length_function=self._counter.count_tokens,
            separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
            keep_separator="end",
            strip_whitespace=True,
        )
        pieces: list[tuple[str, int]] = []
        cursor = 0
        for piece in splitter.split_text(text):
            found = text.find(piece, max(0, cursor - len(piece)))
            relative = found if found >= 0 else cursor
            pieces.extend(self._fit(piece, relative, budget))
            cursor = relative + len(piece)
        return pieces

    def _fit(self, piece: str, relative: int, budget: int) -> list[tuple[str, int]]:
        """Token counts are not additive at piece joins; halve anything that came out over."""
        if self._counter.count_tokens(piece) <= budget or len(piece) < 2:
            return [(piece, relative)]
        middle = piece.rfind(" ", 0, len(piece) // 2 + 1)
        middle = middle if middle > 0 else len(piece) // 2
        left, right = piece[:middle].rstrip(), piece[middle:].lstrip()
        skipped = len(piece) - len(right)
        return self._fit(left, relative, budget) + self._fit(right, relative + skipped, budget)

    @staticmethod
    def _chunk(
        doc: Document, section: Section, text: str, index: int, start: int, ages: AgeRange | None
    ) -> Chunk:
        return Chunk(
            id=f"{doc.id}::{index}",
            doc_id=doc.id,
            title=doc.meta.title,
            type=doc.meta.type,
            heading_path=section.heading_path,
            anchor=section.anchor,
            chunk_index=index,
            start=start,
            end=start + len(text),
            text=text,
            content_hash=hashlib.sha256(text.encode()).hexdigest()[:16],
            doc_hash=doc.content_hash,
            reviewed=doc.meta.reviewed,
            source_names=[source.name for source in doc.meta.sources],
            url=page_for(text, doc.meta.sources),
            topics=doc.meta.topics,
            age_min_months=ages.min_months if ages else None,
            age_max_months=ages.max_months if ages else None,
            alternates=section.alternates,
        )


def page_for(text: str, sources: list[Source]) -> str | None:
    """The page a passage's citation opens: the page of the publisher the passage names
    ("according to the Lullaby Trust"; the most specific name wins), else the document's first."""
    pages = [source for source in sources if source.url]
    lowered = text.lower()

    def named(source: Source) -> int:
        publisher = re.sub(r"^the\s+", "", (source.publisher or "").lower())
        return (
            len(publisher)
            if publisher and re.search(rf"\b{re.escape(publisher)}\b", lowered)
            else 0
        )

    best = max(pages, key=named, default=None)  # the first of equals: the document's order
    return best.url if best else None
