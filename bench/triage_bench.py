"""Safety triage per message, all three layers as the assistant runs them: patterns, concepts
and the fine-tuned classifier on the message's own words, over the labelled dev messages in
`assistant/safety_rules/data/dev.jsonl`."""

from __future__ import annotations

import time

from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.safety import build_triage
from assistant.safety_classifier import load_examples
from bench.ask_bench import percentile


def run(settings: Settings, embedder: SentenceTransformerEmbedder, rounds: int = 3) -> dict:  # noqa: ARG001
    triage = build_triage(settings, classifier=True)
    examples = load_examples(settings.safety_data_dir / "dev.jsonl")
    texts = [example.text for example in examples]
    for text in texts[:20]:
        triage.triage(text)  # warm up
    timings: list[float] = []
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter()
            triage.triage(text)
            timings.append((time.perf_counter() - started) * 1000)
    return {
        "messages": len(texts),
        "rounds": rounds,
        "classifier": triage.classifier is not None,
        "triage_p50_ms": percentile(timings, 50),
        "triage_p95_ms": percentile(timings, 95),
        "triage_max_ms": max(timings),
    }
