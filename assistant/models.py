"""Typed records shared by ingest and the answering core."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

DocType = Literal["guidance", "programme", "case-study", "reference", "policy"]
SafetyCategory = Literal["none", "emergency", "safeguarding", "carer_crisis", "medical"]
# Most urgent first: when several categories fire on one message, the first one wins.
SAFETY_PRIORITY: tuple[SafetyCategory, ...] = (
    "emergency",
    "safeguarding",
    "carer_crisis",
    "medical",
)
AbstainReason = Literal[
    "out_of_scope", "no_evidence", "index_unavailable", "unreadable", "needs_more"
]
DOC_TYPES: tuple[str, ...] = DocType.__args__  # type: ignore[attr-defined]

_AGE_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*(months?|years?)\s*$", re.IGNORECASE)


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    url: str | None = None
    publisher: str | None = None
    year: int | None = Field(None, ge=1900, le=2100)

    @field_validator("url")
    @classmethod
    def _url_is_web_address(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://\S+$", value):
            raise ValueError("must be a web address starting with http:// or https://")
        return value


class AgeRange(BaseModel):
    min_months: int
    max_months: int

    @classmethod
    def parse(cls, text: str) -> AgeRange:
        match = _AGE_RANGE.match(text)
        if not match:
            raise ValueError("write it like '0-12 months' or '0-5 years'")
        low, high, unit = int(match[1]), int(match[2]), match[3].lower()
        factor = 12 if unit.startswith("year") else 1
        if low > high:
            raise ValueError("the first age must not be larger than the second")
        return cls(min_months=low * factor, max_months=high * factor)


class DocumentMeta(BaseModel):
    """The front matter of a corpus document (or its sidecar .meta.yaml)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1)
    type: DocType
    summary: str = Field(min_length=1)
    sources: list[Source] = Field(min_length=1)
    reviewed: date
    topics: list[str] = Field(default_factory=list)
    age_range: str | None = None
    jurisdiction: str | None = None
    audience: str | None = None
    supersedes: str | None = None

    @field_validator("age_range")
    @classmethod
    def _age_range_parses(cls, value: str | None) -> str | None:
        if value is not None:
            AgeRange.parse(value)
        return value

    @field_validator("topics")
    @classmethod
    def _topics_lowercase(cls, value: list[str]) -> list[str]:
        return [topic.strip().lower() for topic in value if topic.strip()]

    def ages(self) -> AgeRange | None:
        return AgeRange.parse(self.age_range) if self.age_range else None


class Section(BaseModel):
    """A run of body text under one heading. Offsets index into `Document.body`."""

    heading_path: list[str]
    anchor: str
    text: str
    start: int
    end: int
    # "Also asked as:" phrasings of the section's question (never part of `text`).
    alternates: list[str] = Field(default_factory=list)


class Document(BaseModel):
    id: str
    path: str
    meta: DocumentMeta
    body: str
    content_hash: str
    sections: list[Section]
    body_line: int = 1  # the file line that `body` starts on, for messages
    # File line of each body line when snippets were expanded into it (not stored).
    _line_map: list[int] | None = PrivateAttr(default=None)
    # Whether the file ended with its own `## Sources` (replaced by one written from `meta`).
    _hand_written_sources: bool = PrivateAttr(default=False)

    def file_line(self, offset: int) -> int:
        """The line in the corpus file of a character offset in `body`."""
        index = self.body[:offset].count("\n")
        if self._line_map is not None and index < len(self._line_map):
            return self._line_map[index]
        return self.body_line + index


class Chunk(BaseModel):
    """One indexed passage with everything a citation needs."""

    id: str
    doc_id: str
    title: str
    type: DocType
    heading_path: list[str]
    anchor: str
    chunk_index: int
    start: int
    end: int
    text: str
    content_hash: str
    doc_hash: str
    reviewed: date
    source_names: list[str]
    url: str | None
    topics: list[str] = Field(default_factory=list)
    age_min_months: int | None = None
    age_max_months: int | None = None
    alternates: list[str] = Field(default_factory=list)

    @property
    def source(self) -> str:
        """The document's sources as one line, as citations show them."""
        return "; ".join(self.source_names)

    @property
    def section(self) -> str:
        return " > ".join(self.heading_path)

    def embedding_text(self) -> str:
        """What the model sees: the chunk with its title and headings, for context."""
        return (
            f"{self.title}. {self.section}.\n{self.text}"
            if self.heading_path
            else (f"{self.title}.\n{self.text}")
        )

    def to_metadata(self) -> dict[str, str | int | float | bool]:
        """Flatten for Chroma, which only stores scalar metadata values."""
        meta: dict[str, str | int | float | bool] = {
            "doc_id": self.doc_id,
            "title": self.title,
            "type": self.type,
            "heading_path": "\x1f".join(self.heading_path),
            "anchor": self.anchor,
            "chunk_index": self.chunk_index,
            "start": self.start,
            "end": self.end,
            "content_hash": self.content_hash,
            "doc_hash": self.doc_hash,
            "reviewed": self.reviewed.isoformat(),
            "source_names": "\x1f".join(self.source_names),
            "url": self.url or "",
            "topics": "\x1f".join(self.topics),
            "alternates": "\x1f".join(self.alternates),
        }
        if self.age_min_months is not None and self.age_max_months is not None:
            meta["age_min_months"] = self.age_min_months
            meta["age_max_months"] = self.age_max_months
        return meta

    @classmethod
    def from_metadata(cls, chunk_id: str, text: str, meta: dict) -> Chunk:
        def split(value: object) -> list[str]:
            return [part for part in str(value or "").split("\x1f") if part]

        return cls(
            id=chunk_id,
            doc_id=str(meta["doc_id"]),
            title=str(meta["title"]),
            type=meta["type"],
            heading_path=split(meta.get("heading_path")),
            anchor=str(meta.get("anchor", "")),
            chunk_index=int(meta["chunk_index"]),
            start=int(meta["start"]),
            end=int(meta["end"]),
            text=text,
            content_hash=str(meta["content_hash"]),
            doc_hash=str(meta["doc_hash"]),
            reviewed=date.fromisoformat(str(meta["reviewed"])),
            source_names=split(meta.get("source_names")),
            url=str(meta.get("url") or "") or None,
            topics=split(meta.get("topics")),
            age_min_months=meta.get("age_min_months"),
            age_max_months=meta.get("age_max_months"),
            alternates=split(meta.get("alternates")),
        )


def _split(value: object) -> list[str]:
    return [part for part in str(value or "").split("\x1f") if part]


class QuestionRecord(BaseModel):
    """One phrasing of a section's question (its heading or an "Also asked as" alternate),
    indexed on its own and pointing at the section's chunks."""

    id: str
    doc_id: str
    anchor: str
    heading_path: list[str]
    kind: Literal["heading", "alternate"]
    text: str
    chunk_ids: list[str] = Field(default_factory=list)

    @property
    def section_id(self) -> str:
        return f"{self.doc_id}#{self.anchor}"

    def to_metadata(self) -> dict[str, str | int | float | bool]:
        return {
            "doc_id": self.doc_id,
            "anchor": self.anchor,
            "heading_path": "\x1f".join(self.heading_path),
            "kind": self.kind,
            "chunk_ids": "\x1f".join(self.chunk_ids),
        }

    @classmethod
    def from_metadata(cls, record_id: str, text: str, meta: dict) -> QuestionRecord:
        return cls(
            id=record_id,
            doc_id=str(meta["doc_id"]),
            anchor=str(meta.get("anchor", "")),
            heading_path=_split(meta.get("heading_path")),
            kind=meta["kind"],
            text=text,
            chunk_ids=_split(meta.get("chunk_ids")),
        )


# -- answers ---------------------------------------------------------------------------------

EVIDENCE_LABELS: dict[str, str] = {
    "guidance": "guidance",
    "programme": "programme evidence",
    "case-study": "case study",
    "reference": "reference",
    "policy": "policy",
}


class Message(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class Citation(BaseModel):
    n: int = Field(description="The number used in the answer's [n] markers.")
    doc_id: str
    title: str
    section: str = Field(description="Heading path of the cited section, ' > ' separated.")
    anchor: str = Field(description="Section anchor within the document ('' for its opening).")
    url: str | None = Field(description="The document's main external source, if it has one.")
    source: str = Field(description="Source organisations or authors, '; ' separated.")
    type: DocType
    evidence: str = Field(description="What kind of evidence: guidance, programme evidence, ...")
    reviewed: date
    snippet: str = Field(description="The cited passage.")
    quotes: list[str] = Field(description="The sentences of the passage quoted in the answer.")
    chunk_id: str
    start: int = Field(description="Character offset of the passage in the document body.")
    end: int
    score: float


class SafetyInfo(BaseModel):
    category: SafetyCategory = "none"
    message: str | None = None
    matched: str | None = Field(
        None,
        description="Which triage layer fired and why, for trainers: pattern:<id>, "
        "concept:<id>, classifier:<category>:<probability>, or none.",
    )


class RelatedDocument(BaseModel):
    doc_id: str
    title: str


class Answer(BaseModel):
    answer: str = Field(description="Markdown. Every guidance sentence ends with [n] markers.")
    note: str | None = Field(
        None,
        description="A fixed lead-in shown before the quoted guidance (after any safety "
        "message), e.g. that the guidance doesn't answer exactly this and what is closest.",
    )
    citations: list[Citation] = Field(default_factory=list)
    abstained: bool = False
    abstain_reason: AbstainReason | None = None
    safety: SafetyInfo = Field(default_factory=SafetyInfo)
    related: list[RelatedDocument] = Field(
        default_factory=list, description="Nearest topics the library covers (on abstention)."
    )
    timings_ms: dict[str, float] = Field(default_factory=dict)
