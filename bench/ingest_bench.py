"""Ingest: raw model throughput vs the whole pipeline on the same texts (chunks, question
phrasings and quotable sentences), and a no-change re-run."""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.errors import CorpusError
from assistant.store import open_store
from ingest.chunk import Chunker
from ingest.load import load_corpus
from ingest.pipeline import Pipeline
from ingest.questions import question_records
from ingest.sentences import sentence_texts
from ingest.validate import validate_document


def run(settings: Settings, embedder: SentenceTransformerEmbedder, rounds: int = 3) -> dict:
    loaded = load_corpus(settings.corpus_dir)
    chunker = Chunker(embedder, settings.chunk_size, settings.chunk_overlap)
    chunks = []
    documents = []
    for raw in loaded.documents:
        try:
            document = validate_document(raw)
            chunks.extend(chunker.chunk(document))
            documents.append(document)
        except CorpusError:
            continue  # the pipeline skips it too; `nurture check` reports it
    # Everything a full ingest embeds: chunks, each distinct question phrasing, each sentence.
    phrasings = sorted(
        {record.text for doc in documents for record in question_records(doc, chunks)}
    )
    sentences = sentence_texts(documents)
    texts = [chunk.embedding_text() for chunk in chunks] + phrasings + sentences
    embedder.embed_documents(texts[:64])  # warm up

    raw_times, pipeline_times, no_change_times = [], [], []
    for _ in range(rounds):
        # Side by side in each round, so machine noise hits both alike.
        started = time.perf_counter()
        embedder.embed_documents(texts)
        raw_times.append(time.perf_counter() - started)

        with tempfile.TemporaryDirectory() as tmp:
            run_settings = settings.model_copy(update={"data_dir": Path(tmp), "chroma_url": ""})
            pipeline = Pipeline(run_settings, open_store(run_settings), embedder)
            started = time.perf_counter()
            report = pipeline.run(full=True)
            embedded = report.texts_embedded + report.questions_embedded
            assert embedded + report.sentences_embedded == len(texts), (
                "pipeline and raw must embed the same texts"
            )
            pipeline_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            again = Pipeline(run_settings, open_store(run_settings), embedder).run()
            no_change_times.append(time.perf_counter() - started)
            assert again.unchanged, "the second run should find nothing changed"
            shutil.rmtree(tmp, ignore_errors=True)

    # The fastest round of each: on a shared VM a slow round measures the neighbours, not
    # us (as timeit advises); both sides get the same treatment.
    raw = min(raw_times)
    pipeline = min(pipeline_times)
    return {
        "documents": report.documents,
        "chunks": len(chunks),
        "texts": len(texts),
        "raw_encode_texts_per_s": len(texts) / raw,
        "pipeline_texts_per_s": len(texts) / pipeline,
        "pipeline_vs_raw_ratio": raw / pipeline,
        "no_change_reingest_s": statistics.median(no_change_times),
        "rounds": rounds,
    }
