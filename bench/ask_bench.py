"""`ask` latency per stage on the shipped corpus, and retrieval at 100k chunks."""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.embeddings import BatchingEmbedder, SentenceTransformerEmbedder, build_embedder
from assistant.evaluate import GoldSet
from assistant.models import Chunk
from assistant.service import Assistant
from assistant.store import open_store
from ingest.index import build_lexical
from ingest.pipeline import Pipeline

STAGES = ("triage", "embed", "dense", "lexical", "fuse", "compose", "total")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else 0.0


def questions(settings: Settings) -> list[str]:
    gold = GoldSet.load(settings.corpus_dir / "eval" / "questions.yaml")
    return [item.question for item in gold.in_scope + gold.out_of_scope + gold.safety]


def run(settings: Settings, embedder: SentenceTransformerEmbedder, repeats: int = 3) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        local = settings.model_copy(update={"data_dir": Path(tmp), "chroma_url": ""})
        Pipeline(local, open_store(local), embedder).run()
        assistant = Assistant.from_settings(local, embedder=embedder)
        asked = questions(settings)
        for question in asked[:10]:
            assistant.ask(question)  # warm up
        timings: dict[str, list[float]] = {stage: [] for stage in STAGES}
        for _ in range(repeats):
            for question in asked:
                answer = assistant.ask(question)
                for stage in STAGES:
                    if stage in answer.timings_ms:
                        timings[stage].append(answer.timings_ms[stage])
    result: dict = {"questions": len(asked) * repeats}
    for stage in STAGES:
        result[f"{stage}_p50_ms"] = percentile(timings[stage], 50)
        result[f"{stage}_p95_ms"] = percentile(timings[stage], 95)
    return result


def embedding_ceiling(
    embedder: SentenceTransformerEmbedder, asked: list[str], threads: int = 16, each: int = 30
) -> float:
    """Query embeddings per second with `threads` callers through the batcher the service uses:
    the most `/v1/ask` can serve on this machine, whatever else is made faster."""
    batcher = BatchingEmbedder(embedder)
    batcher.embed_query("warm up")

    def call(offset: int) -> None:
        for i in range(each):
            batcher.embed_query(asked[(i * threads + offset) % len(asked)])

    workers = [threading.Thread(target=call, args=(k,)) for k in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return threads * each / (time.perf_counter() - started)


def synthesise(
    chunks: list[Chunk], vectors: np.ndarray, total: int, seed: int = 7
) -> tuple[list[Chunk], np.ndarray]:
    """`total` chunks made from pairs of real ones: text from both, a vector between both.

    Embedding 100k texts would take this machine most of an hour; mixing real vectors keeps
    the realistic shape of the embedding space at a fraction of the cost."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, len(chunks), total)
    second = rng.integers(0, len(chunks), total)
    noise = rng.normal(0, 0.05, (total, vectors.shape[1])).astype(np.float32)
    mixed = vectors[first] * 0.7 + vectors[second] * 0.3 + noise
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    made = []
    for index, (a, b) in enumerate(zip(first, second, strict=True)):
        base = chunks[a]
        made.append(
            base.model_copy(
                update={
                    "id": f"synthetic/{index}::0",
                    "doc_id": f"synthetic/{index // 10}",
                    "anchor": f"s{index % 10}",
                    "chunk_index": 0,
                    "text": base.text[:400] + " " + chunks[b].text[:200],
                }
            )
        )
    return made, mixed.astype(np.float32)


def run_scale(
    settings: Settings, embedder: SentenceTransformerEmbedder, total: int = 100_000
) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        local = settings.model_copy(update={"data_dir": Path(tmp), "chroma_url": ""})
        store = open_store(local)
        Pipeline(local, store, embedder).run()
        source = store.active()
        assert source is not None
        chunks, vectors = store.chunks(store.collection(source.name))
        started = time.perf_counter()
        synthetic, synthetic_vectors = synthesise(chunks, vectors, total)
        name, collection = store.new_generation(embedder.name, embedder.dimension)
        store.add(collection, synthetic, synthetic_vectors)
        build_lexical(synthetic, local.lexical_dir / name)
        store.record(
            source.__class__(
                name=name,
                model=embedder.name,
                dimension=embedder.dimension,
                built_at="bench",
                chunk_count=total,
                doc_count=total // 10,
            )
        )
        store.activate(name, previous=source.name)
        build_seconds = time.perf_counter() - started

        assistant = Assistant.from_settings(local, embedder=embedder)
        started = time.perf_counter()
        assistant.retrieve("warm up")
        load_seconds = time.perf_counter() - started
        asked = questions(settings)
        vectors_by_question = {q: embedder.embed_query(q) for q in asked}
        retrieval, with_embed = [], []
        for question in asked:
            started = time.perf_counter()
            assistant.retriever.search(question, query_vector=vectors_by_question[question])
            retrieval.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            assistant.retriever.search(question)
            with_embed.append((time.perf_counter() - started) * 1000)
    return {
        "chunks": total,
        "build_s": build_seconds,
        "first_load_s": load_seconds,
        "retrieval_p50_ms": statistics.median(retrieval),
        "retrieval_p95_ms": percentile(retrieval, 95),
        "retrieval_with_query_embedding_p95_ms": percentile(with_embed, 95),
    }


def run_backends(settings: Settings, embedder: SentenceTransformerEmbedder) -> dict:  # noqa: ARG001
    """PyTorch and ONNX Runtime side by side, interleaved so machine noise hits both alike: one
    question at a time, 16 callers through the batcher, the corpus's paragraphs as documents;
    and how far apart their vectors are."""
    asked = questions(settings)
    texts = _paragraphs(settings)
    backends = ("torch", "onnx")
    models = {b: build_embedder(settings.model_copy(update={"embed_backend": b})) for b in backends}
    single: dict[str, list[float]] = {b: [] for b in backends}
    documents: dict[str, list[float]] = {b: [] for b in backends}
    ceiling: dict[str, list[float]] = {b: [] for b in backends}
    vectors = {}
    for model in models.values():
        model.embed_documents(asked[:16])  # warm up
    for question in asked:
        for backend, model in models.items():
            started = time.perf_counter()
            model.embed_query(question)
            single[backend].append((time.perf_counter() - started) * 1000)
    for _ in range(2):
        for backend, model in models.items():
            started = time.perf_counter()
            vectors[backend] = model.embed_documents(texts)
            documents[backend].append(len(texts) / (time.perf_counter() - started))
            ceiling[backend].append(embedding_ceiling(model, asked))
    result: dict = {"documents": len(texts)}
    for backend in backends:
        result[f"{backend}_query_p50_ms"] = percentile(single[backend], 50)
        result[f"{backend}_query_p95_ms"] = percentile(single[backend], 95)
        result[f"{backend}_16_threads_queries_per_s"] = max(ceiling[backend])
        result[f"{backend}_documents_per_s"] = max(documents[backend])
    result["onnx_vs_torch_query_speedup"] = (
        result["torch_query_p50_ms"] / result["onnx_query_p50_ms"]
    )
    result["onnx_vs_torch_min_cosine"] = float((vectors["onnx"] * vectors["torch"]).sum(1).min())
    return result


def _paragraphs(settings: Settings) -> list[str]:
    paragraphs = []
    for path in sorted(settings.corpus_dir.rglob("*.md")):
        paragraphs.extend(p for p in path.read_text().split("\n\n") if p.strip())
    return paragraphs
