"""The ingest seams: a frozen plan before any write, the writer lock as a context manager, the
embedder's one batch method, and no ingest imports on the answering side."""

from __future__ import annotations

import dataclasses
import subprocess
import threading

import numpy as np
import pytest

from assistant.config import Settings
from assistant.embeddings import BatchingEmbedder, SentenceTransformerEmbedder
from assistant.errors import IngestLockedError
from assistant.store import open_store
from ingest.pipeline import Pipeline, Plan, writing
from tests.conftest import REPO


def test_plan_decides_without_writing_and_is_frozen(
    embedded_settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    store = open_store(embedded_settings)
    pipeline = Pipeline(embedded_settings, store, embedder)
    plan = pipeline._plan(full=False)
    assert isinstance(plan, Plan) and not plan.unchanged
    assert len(plan.embed) == 7 and plan.reuse == () and plan.new_chunks
    assert store.generations() == [] and store.pointer() == (None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.unchanged = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        plan.manifest["x"] = "y"  # type: ignore[index]

    report = pipeline._write(plan, progress=False)
    assert report.active == store.pointer()[0] and report.embedded == list(plan.embed)
    again = pipeline._plan(full=False)
    assert again.unchanged and again.embed == () and set(again.reuse) == set(plan.embed)


def test_writer_lock_is_a_context_manager(embedded_settings: Settings) -> None:
    with writing(embedded_settings):
        with pytest.raises(IngestLockedError, match="already running"), writing(embedded_settings):
            pass
    with writing(embedded_settings):  # released on exit
        pass
    with pytest.raises(RuntimeError), writing(embedded_settings):
        raise RuntimeError("boom")
    with writing(embedded_settings):  # released after an error too
        pass


class OnlyTheProtocol:
    """An embedder with exactly the protocol: no extra batch methods to probe for."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_tokens = inner.max_tokens
        self.dimension = inner.dimension
        self.batches: list[int] = []
        self.ready = threading.Event()

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_documents(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        self.ready.wait(5)
        self.batches.append(len(texts))
        return self.inner.embed_documents(texts, progress=progress)

    def embed_query(self, text: str) -> np.ndarray:  # noqa: ARG002 - the protocol's signature
        raise AssertionError("the batcher must use the one batch method")


def test_query_batcher_uses_the_one_batch_method(embedder: SentenceTransformerEmbedder) -> None:
    inner = OnlyTheProtocol(embedder)
    batcher = BatchingEmbedder(inner)  # type: ignore[arg-type]
    texts = [f"question {n} about sleep" for n in range(6)]
    results: dict[int, np.ndarray] = {}
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, batcher.embed_query(texts[i])))
        for i in range(len(texts))
    ]
    for thread in threads:
        thread.start()
    inner.ready.set()
    for thread in threads:
        thread.join(30)
    assert sum(inner.batches) == len(texts)
    expected = embedder.embed_documents(texts)
    for i in range(len(texts)):
        assert float(results[i] @ expected[i]) > 0.999


def test_answering_side_does_not_import_ingest_and_ingest_uses_store_methods() -> None:
    found = subprocess.run(
        ["grep", "-rnE", r"from ingest|import ingest", "assistant/"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert found.stdout == ""
    reaching = subprocess.run(
        ["grep", "-rn", r"store\.client\|getattr(", "ingest/pipeline.py", "ingest/index.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert reaching.stdout == ""
