"""Stage 3b: each section's question phrasings (its heading and its "Also asked as" list) as
records of their own, pointing at the section's chunks, for the question index."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.models import Chunk, Document, QuestionRecord
from ingest.chunk import is_quoted


def question_records(doc: Document, chunks: Sequence[Chunk]) -> list[QuestionRecord]:
    """One record for each quoted section's heading and one per alternate, in order."""
    by_anchor: dict[str, list[str]] = {}
    for chunk in chunks:
        if chunk.doc_id == doc.id:
            by_anchor.setdefault(chunk.anchor, []).append(chunk.id)
    records: list[QuestionRecord] = []
    for section in doc.sections:
        if not section.heading_path or not is_quoted(section):
            continue
        phrasings = [("heading", section.heading_path[-1])] + [
            ("alternate", text) for text in section.alternates
        ]
        for number, (kind, text) in enumerate(phrasings):
            records.append(
                QuestionRecord(
                    id=f"{doc.id}#{section.anchor}::q{number}",
                    doc_id=doc.id,
                    anchor=section.anchor,
                    heading_path=section.heading_path,
                    kind=kind,  # type: ignore[arg-type]
                    text=text,
                    chunk_ids=by_anchor.get(section.anchor, []),
                )
            )
    return records
