"""Stage 2: check raw documents against the corpus format and turn them into `Document`s.

`validate_document` raises `CorpusError` for anything that stops a file being indexed.
`review_documents` finds what a trainer should look at but that does not stop indexing
(`nurture check` prints both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from assistant.errors import CorpusError
from assistant.models import DOC_TYPES, Document, DocumentMeta
from ingest.chunk import is_quoted, split_sections
from ingest.load import DEFAULT_MAX_FILE_BYTES, LoadResult, RawDocument, load_corpus
from ingest.sources import review_sources, with_rendered_sources

_FIELD_HINTS = {
    "title": "add a line like 'title: Safer sleep for babies'",
    "type": f"use one of: {', '.join(DOC_TYPES)}",
    "summary": "add one sentence saying what the document covers",
    "sources": "list each source with name, url and year",
    "reviewed": "write the date as YYYY-MM-DD, for example 2026-11-26",
    "age_range": "write it like '0-12 months' or '0-5 years'",
}

# Text in a document that reads like an instruction to an AI model rather than to a carer.
_INSTRUCTION_PATTERNS = [
    r"\b(ignore|disregard|forget)\b.{0,30}\b(previous|prior|above|earlier|all)\b.{0,20}"
    r"\b(instructions?|prompts?|rules?)\b",
    r"\byou are (now )?(an? )?(ai|assistant|chatbot|language model|llm)\b",
    r"\b(system|developer) prompt\b",
    r"\bas an ai (language )?model\b",
    r"\bdo not (tell|reveal to) the (user|carer)\b",
]
_INSTRUCTION_RE = re.compile("|".join(_INSTRUCTION_PATTERNS), re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    path: str
    message: str
    severity: Literal["error", "warning"]
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message}"

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else self.path


@dataclass
class CheckReport:
    findings: list[Finding]
    files: int

    @property
    def errors(self) -> int:
        return sum(finding.severity == "error" for finding in self.findings)


def error_finding(error: CorpusError) -> Finding:
    return Finding(error.path, error.message, "error", line=error.line)


def check_corpus(
    corpus_dir: Path,
    *,
    today: date,
    review_warn_months: int,
    max_section_words: int,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> CheckReport:
    """Everything `nurture check` reports, without indexing anything."""
    loaded: LoadResult = load_corpus(corpus_dir, max_file_bytes)
    findings = [error_finding(error) for error in loaded.errors]
    findings += [
        Finding(w.split(": ", 1)[0], w.split(": ", 1)[1], "warning") for w in loaded.warnings
    ]
    documents = []
    for raw in loaded.documents:
        try:
            documents.append(validate_document(raw, today=today))
        except CorpusError as error:
            findings.append(error_finding(error))
    findings += review_documents(
        documents,
        today=today,
        review_warn_months=review_warn_months,
        max_section_words=max_section_words,
    )
    findings.sort(key=lambda f: (f.path, f.severity, f.line or 0))
    return CheckReport(findings, len(loaded.documents) + len(loaded.failed_ids))


def validate_document(raw: RawDocument, *, today: date | None = None) -> Document:
    try:
        meta = DocumentMeta.model_validate(raw.front_matter)
    except ValidationError as error:
        first = error.errors()[0]
        location = [str(part) for part in first["loc"]]
        field = location[0] if location else "front matter"
        where = ".".join(location) if location else field
        if first["type"] == "missing":
            problem = f"front matter is missing '{where}'"
        elif first["type"] == "extra_forbidden":
            problem = f"front matter has an unknown field '{where}' (check its spelling)"
        else:
            problem = f"front matter field '{where}' is wrong: {first['msg']}"
        hint = _FIELD_HINTS.get(field)
        more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
        message = f"{problem}{more}" + (f"; {hint}" if hint else "")
        raise CorpusError(raw.path, message, field=field) from None

    if meta.reviewed > (today or date.today()):
        raise CorpusError(
            raw.path,
            f"reviewed date {meta.reviewed} is in the future; write the date it was last "
            "reviewed (YYYY-MM-DD)",
            field="reviewed",
        )
    body = raw.body.strip("\n")
    leading = len(raw.body) - len(raw.body.lstrip("\n"))
    body_line = raw.body_line + leading
    line_map = raw.line_map[leading:] if raw.line_map is not None else None
    if not body.strip():
        raise CorpusError(
            raw.path, "the document has no text after the front matter; write the guidance"
        )
    match = _INSTRUCTION_RE.search(body)
    if match:
        index = body[: match.start()].count("\n")
        line = line_map[index] if line_map and index < len(line_map) else body_line + index
        raise CorpusError(
            raw.path,
            f"text looks like an instruction to an AI ('{match.group(0)}'); "
            "rewrite it for carers or remove it",
            line=line,
        )
    body, hand_written = with_rendered_sources(body, meta.sources)
    sections = split_sections(body)
    document = Document(
        id=raw.id,
        path=raw.path,
        meta=meta,
        body=body,
        content_hash=raw.content_hash,
        sections=sections,
        body_line=body_line,
    )
    document._line_map = line_map
    document._hand_written_sources = hand_written
    return document


def review_documents(
    documents: list[Document],
    *,
    today: date,
    review_warn_months: int,
    max_section_words: int,
) -> list[Finding]:
    findings: list[Finding] = []
    seen_bodies: dict[str, str] = {}
    seen_titles: dict[str, str] = {}
    for doc in documents:
        months_old = (today.year - doc.meta.reviewed.year) * 12 + (
            today.month - doc.meta.reviewed.month
        )
        if months_old > review_warn_months:
            findings.append(
                Finding(
                    doc.path,
                    f"last reviewed {doc.meta.reviewed}, over {review_warn_months} months ago; "
                    "check it is still right and update 'reviewed'",
                    "warning",
                )
            )
        body_key = " ".join(doc.body.split()).lower()
        if body_key in seen_bodies:
            findings.append(
                Finding(doc.path, f"same text as {seen_bodies[body_key]}; remove one", "error")
            )
        seen_bodies.setdefault(body_key, doc.path)
        title_key = doc.meta.title.strip().lower()
        if title_key in seen_titles:
            findings.append(
                Finding(
                    doc.path,
                    f"same title as {seen_titles[title_key]}; give each document its own title",
                    "warning",
                )
            )
        seen_titles.setdefault(title_key, doc.path)
        for index, section in enumerate(doc.sections):
            name = section.heading_path[-1] if section.heading_path else "(opening text)"
            words = len(section.text.split())
            has_children = index + 1 < len(doc.sections) and len(
                doc.sections[index + 1].heading_path
            ) > len(section.heading_path)
            if words == 0 and not has_children:
                findings.append(
                    Finding(
                        doc.path, f"section '{name}' is empty; add text or remove it", "warning"
                    )
                )
            elif words > max_section_words and is_quoted(section):
                findings.append(
                    Finding(
                        doc.path,
                        f"section '{name}' has {words} words (over {max_section_words}); "
                        "split it under more headings",
                        "warning",
                    )
                )
        if doc._hand_written_sources:
            findings.append(
                Finding(
                    doc.path,
                    "has a hand-written '## Sources' section; remove it: the section is "
                    "written from the front matter's sources",
                    "warning",
                )
            )
        findings += [
            Finding(doc.path, message, severity) for severity, message in review_sources(doc)
        ]
    findings += review_alternates(documents)
    return findings


def phrasing_key(text: str) -> str:
    """Case- and punctuation-insensitive form of a question, for finding duplicates."""
    return " ".join(re.sub(r"[^\w\s]", "", text.lower()).split())


def line_of(doc: Document, offset: int) -> int:
    return doc.file_line(offset)


def review_alternates(documents: list[Document]) -> list[Finding]:
    """Each "Also asked as" phrasing must belong to one section only, across the library;
    a Markdown section carers can be quoted from should have some."""
    findings: list[Finding] = []
    headings: dict[str, tuple[str, str]] = {}  # key -> (section id, where)
    for doc in documents:
        for section in doc.sections:
            if section.heading_path and is_quoted(section):
                where = f"{doc.path} '{section.heading_path[-1]}'"
                key = phrasing_key(section.heading_path[-1])
                headings.setdefault(key, (f"{doc.id}#{section.anchor}", where))
    seen: dict[str, tuple[str, str]] = {}
    for doc in documents:
        for section in doc.sections:
            if not section.heading_path or not is_quoted(section):
                continue
            section_id = f"{doc.id}#{section.anchor}"
            name = section.heading_path[-1]
            if not section.alternates:
                if section.text and doc.path.endswith(".md"):
                    findings.append(
                        Finding(
                            doc.path,
                            f"section '{name}' has no 'Also asked as:' phrasings; add 2-5 "
                            "the way carers would type the question",
                            "warning",
                            line=line_of(doc, section.start),
                        )
                    )
                continue
            search_from = section.start
            for alternate in section.alternates:
                found = doc.body.rfind(alternate, 0, section.start)
                line = line_of(doc, found if found >= 0 else search_from)
                key = phrasing_key(alternate)
                for owners, kind in ((headings, "the heading of"), (seen, "an alternate of")):
                    owner = owners.get(key)
                    if owner is not None and owner[0] != section_id:
                        findings.append(
                            Finding(
                                doc.path,
                                f"alternate '{alternate}' duplicates {kind} {owner[1]}; "
                                "reword it or keep it in one section only",
                                "error",
                                line=line,
                            )
                        )
                        break
                seen.setdefault(key, (section_id, f"{doc.path} '{name}'"))
    return findings
