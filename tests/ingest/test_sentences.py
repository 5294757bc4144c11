"""The sentence index: every quotable sentence embedded once, written with its generation,
carried over when unchanged, removed with it, and filled in for a generation built before it."""

from __future__ import annotations

import numpy as np

from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.retrieve import Retriever
from assistant.store import IndexStore
from ingest.load import load_corpus
from ingest.pipeline import Pipeline
from ingest.sentences import sentence_texts
from ingest.validate import validate_document

ADDED = "Hold the baby close and hum the same low tune each evening."


def library_sentences(settings: Settings) -> list[str]:
    loaded = load_corpus(settings.corpus_dir)
    return sentence_texts([validate_document(raw) for raw in loaded.documents])


def test_each_quotable_sentence_is_embedded_once_and_carried_over(
    settings: Settings, store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    first = Pipeline(settings, store, embedder).run()
    assert first.ok, first.errors
    texts = library_sentences(settings)
    assert first.sentences == first.sentences_embedded == len(texts) > 20
    held, vectors = store.sentences(store.sentence_collection(str(first.active)))
    assert sorted(held) == sorted(texts)
    assert vectors.shape == (len(texts), embedder.dimension) and np.isfinite(vectors).all()
    # "Also asked as" phrasings and the sources list are matched or listed, never quoted.
    assert not any(text.startswith("Also asked as") for text in held)

    crying = settings.corpus_dir / "guidance" / "crying.md"
    crying.write_text(crying.read_text() + f"\n## What else helps?\n\n{ADDED}\n")
    second = Pipeline(settings, store, embedder).run()
    # Only the new sentence was embedded; the others kept their vectors.
    assert second.sentences_embedded == 1 and second.sentences == first.sentences + 1
    held, _ = store.sentences(store.sentence_collection(str(second.active)))
    assert ADDED in held

    # The retriever scores a section's sentences against the carer's ask from these vectors.
    retriever = Retriever(store, embedder, settings)
    scores = retriever.similarity(
        f"Some words first. {ADDED}", embedder.embed_query("humming a tune to the baby")
    )
    assert set(scores) == {ADDED} and scores[ADDED] > 0.4

    crying.unlink()
    Pipeline(settings, store, embedder).run()
    # Pruning keeps two generations; the first one's sentences went with it.
    assert store.sentence_collection(str(first.active)) is None


def test_a_generation_built_before_sentences_gets_them(
    settings: Settings, store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    report = Pipeline(settings, store, embedder).run()
    name = str(report.active)
    store.client.delete_collection(store.sentence_collection_name(name))
    retriever = Retriever(store, embedder, settings)
    # Without them the composer chooses by words alone: no scores, no error.
    assert retriever.similarity(f"Intro here now. {ADDED}", embedder.embed_query("hum")) == {}

    again = Pipeline(settings, store, embedder).run()
    assert again.unchanged and again.active == name
    held, _ = store.sentences(store.sentence_collection(name))
    assert sorted(held) == sorted(library_sentences(settings))
