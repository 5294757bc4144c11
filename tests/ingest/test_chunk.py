"""Chunks follow headings, never span sections, and never exceed what the model reads."""

from __future__ import annotations

from datetime import date

from assistant.embeddings import SentenceTransformerEmbedder
from assistant.models import Document, DocumentMeta
from ingest.chunk import Chunker, slugify, split_sections

META = DocumentMeta(
    title="Test document",
    type="guidance",
    summary="A test.",
    sources=[{"name": "Test", "year": 2024}],
    reviewed=date(2026, 1, 1),
    age_range="0-2 years",
)


def make_doc(body: str) -> Document:
    return Document(
        id="t/doc",
        path="corpus/t/doc.md",
        meta=META,
        body=body,
        content_hash="h",
        sections=split_sections(body),
    )


def test_sections_follow_headings_with_paths_and_anchors() -> None:
    body = (
        "Opening words.\n\n## Sleep\n\nSleep text.\n\n### At night?\n\nNight text.\n\n"
        "```\n## not a heading\n```\n\n## Sleep\n\nAgain.\n\n## Sources\n\n- A source.\n"
    )
    sections = split_sections(body)
    assert [s.heading_path for s in sections] == [
        [],
        ["Sleep"],
        ["Sleep", "At night?"],
        ["Sleep"],
        ["Sources"],
    ]
    assert [s.anchor for s in sections] == ["", "sleep", "at-night", "sleep-1", "sources"]
    assert "## not a heading" in sections[2].text
    for section in sections:
        assert body[section.start : section.end] == section.text


def test_slugify_matches_github_anchors() -> None:
    assert slugify("What if she is upset after family time?") == (
        "what-if-she-is-upset-after-family-time"
    )
    assert slugify("PACE (Playfulness, Acceptance)") == "pace-playfulness-acceptance"


def test_chunks_stay_in_their_section_and_fit_the_model(
    embedder: SentenceTransformerEmbedder,
) -> None:
    long_section = " ".join(
        f"Sentence number {i} explains how a foster carer can comfort a baby after a move."
        for i in range(120)
    )
    body = f"## Short\n\nA short section.\n\n## Long\n\n{long_section}\n\n## Sources\n\n- X.\n"
    doc = make_doc(body)
    chunker = Chunker(embedder, chunk_size=200, chunk_overlap=30)
    chunks = chunker.chunk(doc)
    assert chunks[0].text == "A short section." and chunks[0].anchor == "short"
    long_chunks = [c for c in chunks if c.anchor == "long"]
    assert len(long_chunks) > 5
    assert all(c.heading_path == ["Long"] for c in long_chunks)
    assert not any("Sources" in c.heading_path for c in chunks)
    for chunk in chunks:
        assert embedder.count_tokens(chunk.embedding_text()) <= embedder.max_tokens - 2
        assert body[chunk.start : chunk.end] == chunk.text
        assert chunk.age_min_months == 0 and chunk.age_max_months == 24
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    assert len({c.id for c in chunks}) == len(chunks)


def test_oversized_chunk_setting_is_capped_by_the_model_limit(
    embedder: SentenceTransformerEmbedder,
) -> None:
    text = " ".join(["attachment"] * 2000)
    doc = make_doc(f"## Words\n\n{text}\n")
    chunks = Chunker(embedder, chunk_size=5000, chunk_overlap=0).chunk(doc)
    assert len(chunks) > 1
    assert all(embedder.count_tokens(c.embedding_text()) <= embedder.max_tokens - 2 for c in chunks)
