"""Ingest at scale: a generated library of ~100k chunks indexed end to end into a Chroma server
(`chroma run` on a free loopback port), then one changed document re-ingested incrementally.

Reports wall time and peak memory of the ingest process and of the Chroma server. The vectors
come from a fast hashing stand-in for the model by default, so this measures the write path
(load, check, chunk with the real tokenizer, Chroma writes, paged verification, BM25, the question
index); model throughput is the `ingest` section's job. NURTURE_BENCH_SCALE_MODEL=real uses the
model itself (hours on a small CPU). NURTURE_BENCH_SCALE_CHUNKS sets the size (default 100000).

    python -m bench --only ingest-scale
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from assistant.config import Settings
from assistant.embeddings import Embedder, SentenceTransformerEmbedder, build_embedder
from bench.servers import ChromaServer

SECTIONS_PER_DOC = 20
FRONT = """---
title: Generated guidance {d}
type: guidance
summary: Generated text for the ingest scale benchmark.
sources:
  - name: Benchmark source {d}
    url: https://example.org/bench/{d}
    year: 2025
reviewed: 2026-01-01
---
"""
SECTION = """
## How do I help with situation {d}-{s} at home?

Also asked as:
- what do i do about thing {d} {s}

A carer can help with situation {d}-{s} by keeping routines calm and predictable, noticing what
the baby is telling them, and asking the supervising social worker for support when it feels hard.
Short, warm moments of attention, repeated every day, add up to a secure relationship over time.
"""


class HashingEmbedder:
    """The real tokenizer (chunk sizes stay honest) with fast deterministic vectors."""

    def __init__(self, model: SentenceTransformerEmbedder) -> None:
        self.model = model
        self.name = f"{model.name}+hashing-bench"
        self.max_tokens = model.max_tokens
        self.dimension = 384

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def embed_documents(self, texts: list[str], *, progress: bool = False) -> np.ndarray:  # noqa: ARG002
        # Filled in place, batch by batch, like the model: no per-text temporaries at scale.
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest())
            vectors[row] = np.random.default_rng(seed).standard_normal(self.dimension)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def write_corpus(root: Path, total_chunks: int) -> int:
    documents = max(1, -(-total_chunks // SECTIONS_PER_DOC))
    for d in range(documents):
        folder = root / f"part-{d // 500:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        body = "".join(SECTION.format(d=d, s=s) for s in range(SECTIONS_PER_DOC))
        (folder / f"doc-{d}.md").write_text(
            FRONT.format(d=d) + body + "\n## Sources\n\n- Benchmark source.\n"
        )
    return documents


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _progress(figures: dict) -> None:
    """Figures so far, on stderr: a run stopped part way still tells something."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Console(stderr=True).print(f"  ingest-scale: {figures} (peak so far {peak:.0f} MiB)")


def _ingest(settings: Settings, real_model: bool, results: multiprocessing.Queue) -> None:
    """In a child process, so its peak memory is the ingest's own."""
    from assistant.store import open_store
    from ingest.pipeline import Pipeline

    model = build_embedder(settings)
    embedder: Embedder = model if real_model else HashingEmbedder(model)
    store = open_store(settings)
    timings = {}
    started = time.perf_counter()
    report = Pipeline(settings, store, embedder).run()
    timings["full_s"] = time.perf_counter() - started
    assert report.ok, report.errors[:3]
    _progress({**timings, "chunks": report.chunks, "questions": report.questions})
    changed = next(settings.corpus_dir.rglob("doc-0.md"))
    changed.write_text(changed.read_text().replace("calm and predictable", "calm and steady"))
    started = time.perf_counter()
    again = Pipeline(settings, store, embedder).run()
    timings["one_doc_changed_s"] = time.perf_counter() - started
    _progress(timings)
    assert again.embedded == ["part-000/doc-0"], again.embedded
    started = time.perf_counter()
    same = Pipeline(settings, store, embedder).run()
    timings["no_change_s"] = time.perf_counter() - started
    assert same.unchanged
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    _progress({**timings, "ingest_peak_mib": peak / 1024})
    results.put(
        {
            **timings,
            "documents": report.documents,
            "chunks": report.chunks,
            "questions": report.questions,
            "ingest_peak_mib": peak / 1024,
        }
    )


def run(settings: Settings, embedder: SentenceTransformerEmbedder) -> dict:  # noqa: ARG001
    total = int(os.environ.get("NURTURE_BENCH_SCALE_CHUNKS", "100000"))
    real_model = os.environ.get("NURTURE_BENCH_SCALE_MODEL", "") == "real"
    with tempfile.TemporaryDirectory(prefix="nurture-scale-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        write_corpus(root / "corpus", total)
        generate_s = time.perf_counter() - started
        server = ChromaServer(root / "chroma")
        server.start()
        try:
            url = server.url
            run_settings = settings.model_copy(
                update={
                    "corpus_dir": root / "corpus",
                    "data_dir": root / "data",
                    "chroma_url": url,
                    "collection_prefix": "scale",
                }
            )
            context = multiprocessing.get_context("spawn")
            results: multiprocessing.Queue = context.Queue()
            child = context.Process(target=_ingest, args=(run_settings, real_model, results))
            child.start()
            child.join()
            if child.exitcode != 0:
                raise RuntimeError(f"the scale ingest failed (exit code {child.exitcode})")
            measured = results.get(timeout=10)
            assert server.process is not None
            measured["chroma_server_peak_mib"] = _peak_kib(server.process.pid) / 1024
        finally:
            server.stop()
    return {
        **measured,
        "vectors": "model" if real_model else "hashing (write path only)",
        "generate_corpus_s": generate_s,
        "chunks_per_s": measured["chunks"] / measured["full_s"],
    }
