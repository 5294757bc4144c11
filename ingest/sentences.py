"""Stage 3c: every quotable sentence of the library, each embedded once, so the composer can tell
which sentence of a section answers the carer's ask (not only which shares its words)."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.compose import quotable_sentences
from assistant.models import Document
from ingest.chunk import is_quoted


def sentence_texts(documents: Sequence[Document]) -> list[str]:
    """The quotable sentences of every quoted section, as the composer quotes them, each once."""
    found: dict[str, None] = {}
    for document in documents:
        for section in document.sections:
            if section.heading_path and is_quoted(section):
                for _, text, _ in quotable_sentences(section.text):
                    found.setdefault(text)
    return list(found)
