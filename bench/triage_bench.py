"""Safety triage per message, all three layers as the assistant runs them: patterns, concepts
and the fine-tuned classifier, over the labelled dev messages in
`assistant/safety_rules/data/dev.jsonl`.

The target counts what triage adds to a question: the assistant embeds the question for
retrieval first, and the classifier starts from that embedding's token states below its adapted
layers. `cold` is triage on a message the embedder has not seen (the whole classifier runs), as
when retrieval is down."""

from __future__ import annotations

import time
from collections.abc import Callable

from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.safety import build_triage
from assistant.safety_classifier import load_split
from bench.ask_bench import percentile


def run(settings: Settings, embedder: SentenceTransformerEmbedder, rounds: int = 2) -> dict:
    triage = build_triage(settings, classifier=True, trunk=embedder.token_states)
    examples = load_split(settings.safety_data_dir, "dev")
    texts = [example.text for example in examples]
    for text in texts[:20]:
        embedder.embed_query(text)
        triage.triage(text)  # warm up
    after_embedding: list[float] = []
    cold: list[float] = []
    for _ in range(rounds):
        for text in texts:
            embedder.embed_query(text)
            after_embedding.append(_timed(triage.triage, text))
            # One more token: a message the embedder has not seen, so the whole classifier runs.
            cold.append(_timed(triage.triage, text + " ."))
    return {
        "messages": len(texts),
        "rounds": rounds,
        "classifier": triage.classifier is not None,
        "shares_embedding": triage.classifier is not None and triage.classifier.tail is not None,
        "triage_p50_ms": percentile(after_embedding, 50),
        "triage_p95_ms": percentile(after_embedding, 95),
        "triage_max_ms": max(after_embedding),
        "triage_cold_p50_ms": percentile(cold, 50),
        "triage_cold_p95_ms": percentile(cold, 95),
    }


def _timed(call: Callable[[str], object], text: str) -> float:
    started = time.perf_counter()
    call(text)
    return (time.perf_counter() - started) * 1000
