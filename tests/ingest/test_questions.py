"""The question index: each section's heading and alternates as records of their own, in Chroma
and BM25, written with the passages' generation, incremental, and readable by retrieval."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.questions import QuestionIndex
from assistant.store import IndexStore
from ingest.pipeline import Pipeline

ALTERNATES = """## How do I settle a screaming baby?

Also asked as:
- baby screams every night from 6 till 9 what can i do
- nothing calms her in the evenings and im at the end of my rope

A crying baby"""


def add_alternates(corpus: Path) -> None:
    path = corpus / "guidance" / "crying.md"
    path.write_text(
        path.read_text().replace(
            "## How do I settle a screaming baby?\n\nA crying baby", ALTERNATES
        )
    )


def test_headings_and_alternates_are_indexed_as_their_own_records(
    settings: Settings, store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    add_alternates(settings.corpus_dir)
    report = Pipeline(settings, store, embedder).run()
    assert report.ok, report.errors
    name = report.active
    assert name is not None
    records = {r.id: r for r in store.questions(name)}
    assert report.questions == len(records)
    settle = "guidance/crying#how-do-i-settle-a-screaming-baby"
    assert [records[f"{settle}::q{n}"].kind for n in range(3)] == [
        "heading",
        "alternate",
        "alternate",
    ]
    record = records[f"{settle}::q2"]
    assert record.section_id == settle
    chunks = {c.id: c for c in store.chunks(store.collection(name))[0]}
    assert record.chunk_ids and all(chunks[i].anchor == record.anchor for i in record.chunk_ids)
    assert chunks[record.chunk_ids[0]].alternates == [
        "baby screams every night from 6 till 9 what can i do",
        "nothing calms her in the evenings and im at the end of my rope",
    ]
    # The block is matched, never quoted.
    assert not any("Also asked as" in c.text for c in chunks.values())
    assert not any(
        r.doc_id == "guidance/crying" and r.anchor == "sources" for r in records.values()
    )

    # Dense: the carer's words find the alternate; BM25 over the phrasings finds it too.
    vector = embedder.embed_query("she screams every night from six till nine")
    hits = store.query_questions(name, vector, k=3)
    assert hits[0][0].id == f"{settle}::q1" and hits[0][1] > 0.5
    index = QuestionIndex.load(store, settings, name)
    lexical = index.search_lexical("nothing calms her in the evening", 3)
    assert lexical[0][0].id == f"{settle}::q2" and lexical[0][1] > 0
    assert (settings.question_lexical_dir / name).is_dir()


def test_question_vectors_are_reused_and_generations_switch_together(
    settings: Settings, store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    first = Pipeline(settings, store, embedder).run()
    assert first.questions_embedded == first.questions > 0
    add_alternates(settings.corpus_dir)
    second = Pipeline(settings, store, embedder).run()
    # Only the two new phrasings were embedded; the headings' vectors were carried over.
    assert second.questions_embedded == 2 and second.questions == first.questions + 2
    assert second.embedded == ["guidance/crying"]
    old = {r.id for r in store.questions(str(first.active))}
    new = {r.id for r in store.questions(str(second.active))}
    assert new - old == {
        "guidance/crying#how-do-i-settle-a-screaming-baby::q1",
        "guidance/crying#how-do-i-settle-a-screaming-baby::q2",
    }
    records, vectors = store.question_records(store.question_collection(str(second.active)))
    assert vectors.shape == (len(records), embedder.dimension)
    assert np.isfinite(vectors).all()
    # Pruning removes a generation's question collection and its BM25 with it.
    third_path = settings.corpus_dir / "programmes" / "pause.md"
    third_path.unlink()
    third = Pipeline(settings, store, embedder).run()
    assert store.question_collection(str(first.active)) is None
    assert not (settings.question_lexical_dir / str(first.active)).exists()
    assert {p.name for p in settings.question_lexical_dir.iterdir()} == {
        str(second.active),
        str(third.active),
    }
    assert not any(r.doc_id == "programmes/pause" for r in store.questions(str(third.active)))


def test_a_generation_without_questions_reads_as_empty(
    settings: Settings, store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    report = Pipeline(settings, store, embedder).run()
    name = str(report.active)
    store.client.delete_collection(store.question_collection_name(name))
    assert store.query_questions(name, embedder.embed_query("crying"), 3) == []
    assert QuestionIndex.load(store, settings, name).search_lexical("crying", 3) == []
