"""Safety triage per message: patterns, concepts and the classifier's decision on a vector
computed beforehand (the query embedding is the `embedding` section's figure, not this one's),
over the labelled dev messages in `assistant/safety_rules/data/dev.jsonl`."""

from __future__ import annotations

import time

import numpy as np

from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.safety import build_triage, load_classifier
from assistant.safety_classifier import load_examples
from bench.ask_bench import percentile


def run(settings: Settings, embedder: SentenceTransformerEmbedder, rounds: int = 3) -> dict:
    triage = build_triage(settings)
    # As the service does (assistant/service.py): the head trained for the loaded model.
    triage.classifier = load_classifier(settings.safety_classifier_path, embedder.name)
    examples = load_examples(settings.safety_data_dir / "dev.jsonl")
    texts = [example.text for example in examples]
    vectors = np.asarray(embedder.embed_queries(texts))  # the service's query vectors
    for text, vector in zip(texts[:20], vectors, strict=False):
        triage.triage(text, vector)  # warm up
    timings: list[float] = []
    for _ in range(rounds):
        for text, vector in zip(texts, vectors, strict=True):
            started = time.perf_counter()
            triage.triage(text, vector)
            timings.append((time.perf_counter() - started) * 1000)
    return {
        "messages": len(texts),
        "rounds": rounds,
        "classifier": triage.classifier is not None,
        "triage_p50_ms": percentile(timings, 50),
        "triage_p95_ms": percentile(timings, 95),
        "triage_max_ms": max(timings),
    }
