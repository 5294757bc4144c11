"""The ingest pipeline against real Chroma (embedded and a server) with the real model."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.errors import IndexNotReadyError, NurtureError
from assistant.store import IndexStore, open_store
from ingest.pipeline import Pipeline, ingest_lock
from tests.conftest import BIN, REPO, cli_env, run_cli


class CountingEmbedder:
    """The real model, counting the texts embedded through the protocol's one batch method."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_tokens = inner.max_tokens
        self.texts_embedded = 0

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_documents(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        self.texts_embedded += len(texts)
        return self.inner.embed_documents(texts, progress=progress)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


@pytest.fixture
def counting(embedder: SentenceTransformerEmbedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


def search(store: IndexStore, embedder: SentenceTransformerEmbedder, query: str) -> list[str]:
    generation = store.require_active(embedder.name, embedder.dimension)
    hits = store.query(store.collection(generation.name), embedder.embed_query(query), k=5)
    return [f"{chunk.id}|{chunk.text}|{score:.5f}" for chunk, score in hits]


def test_first_ingest_indexes_every_document(
    settings: Settings, store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    report = Pipeline(settings, store, embedder).run()
    assert report.ok and not report.unchanged
    assert report.documents == 7
    generation = store.active()
    assert generation is not None and generation.chunk_count == report.chunks
    assert generation.model == embedder.name and generation.dimension == 384
    chunks, vectors = store.chunks(store.collection(generation.name))
    assert vectors.shape == (report.chunks, 384)
    assert report.texts_embedded == report.chunks
    top = search(store, embedder, "is it safe for the baby to sleep in our bed")[0]
    assert top.startswith("guidance/safer-sleep::")
    chunk = next(c for c in chunks if c.doc_id == "guidance/safer-sleep" and c.anchor)
    assert chunk.title == "Safer sleep for babies" and chunk.type == "guidance"
    assert chunk.source_names == ["The Lullaby Trust"]
    assert chunk.url == "https://www.lullabytrust.org.uk/"
    assert str(chunk.reviewed) == "2026-10-01" and len(chunk.content_hash) == 16
    assert (settings.lexical_dir / generation.name).is_dir()


def test_unchanged_corpus_is_not_re_embedded(
    settings: Settings, store: IndexStore, counting: CountingEmbedder
) -> None:
    first = Pipeline(settings, store, counting).run()
    before = counting.texts_embedded
    second = Pipeline(settings, store, counting).run()
    assert second.unchanged and second.active == first.active
    assert counting.texts_embedded == before


def test_incremental_ingest_re_embeds_only_the_changed_file(
    settings: Settings, store: IndexStore, counting: CountingEmbedder
) -> None:
    first = Pipeline(settings, store, counting).run()
    path = settings.corpus_dir / "guidance" / "crying.md"
    path.write_text(path.read_text().replace("six to eight weeks", "about six weeks"))
    (settings.corpus_dir / "programmes" / "pause.md").unlink()
    before = counting.texts_embedded
    report = Pipeline(settings, store, counting).run()
    crying_chunks = [
        c for c in store.chunks(store.collection(report.active))[0] if c.doc_id == "guidance/crying"
    ]
    assert report.embedded == ["guidance/crying"]
    # The changed file's chunks and the one sentence whose words changed; its headings kept
    # their words, so no question is re-embedded.
    assert len(crying_chunks) == report.texts_embedded
    assert report.sentences_embedded == 1
    assert counting.texts_embedded - before == report.texts_embedded + 1
    assert report.questions_embedded == 0
    assert report.removed == ["programmes/pause"]
    assert report.previous == first.active
    assert any("about six weeks" in c.text for c in crying_chunks)
    doc_ids = {c.doc_id for c in store.chunks(store.collection(report.active))[0]}
    assert "programmes/pause" not in doc_ids and len(doc_ids) == 6
    assert set(store.generations()) == {first.active, report.active}


def test_broken_file_keeps_its_previous_version_serving(
    settings: Settings, store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    Pipeline(settings, store, embedder).run()
    path = settings.corpus_dir / "guidance" / "safer-sleep.md"
    path.write_text(path.read_text().replace("type: guidance", "type: leaflet"))
    other = settings.corpus_dir / "guidance" / "family-time.md"
    other.write_text(other.read_text() + "\n## Extra\n\nA new section about journeys.\n")
    report = Pipeline(settings, store, embedder).run()
    assert not report.ok
    assert report.kept_previous == ["guidance/safer-sleep"]
    assert "corpus/guidance/safer-sleep.md" in str(report.errors[0])
    assert report.embedded == ["guidance/family-time"]
    assert search(store, embedder, "can the baby sleep in our bed")[0].startswith(
        "guidance/safer-sleep::"
    )


def test_index_built_by_another_model_is_refused(
    settings: Settings, store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    Pipeline(settings, store, embedder).run()
    with pytest.raises(IndexNotReadyError, match="nurture ingest --full"):
        store.require_active("some/other-model", 768)


def test_rollback_serves_the_previous_generation(
    settings: Settings, store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    pipeline = Pipeline(settings, store, embedder)
    first = pipeline.run()
    before = search(store, embedder, "what is pause")
    (settings.corpus_dir / "programmes" / "pause.md").unlink()
    second = pipeline.run()
    assert search(store, embedder, "what is pause") != before
    active, previous = pipeline.rollback()
    assert (active, previous) == (first.active, second.active)
    assert search(store, embedder, "what is pause") == before


def test_nothing_indexable_changes_nothing(
    settings: Settings, store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    for path in settings.corpus_dir.rglob("*.md"):
        path.write_text("no front matter\n")
    for path in settings.corpus_dir.rglob("*.meta.yaml"):
        path.unlink()
    with pytest.raises(NurtureError, match="no document could be indexed"):
        Pipeline(settings, store, embedder).run()
    assert store.active() is None


def test_second_writer_is_refused_at_once(embedded_settings: Settings) -> None:
    lock: FileLock = ingest_lock(embedded_settings)
    with lock:
        started = time.monotonic()
        result = run_cli(embedded_settings, "ingest")
    assert result.returncode == 1
    assert "another `nurture ingest` is already running" in result.stderr
    assert time.monotonic() - started < 60


@pytest.mark.slow
def test_kill_9_mid_embedding_leaves_the_previous_index_serving(
    embedded_settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    settings = embedded_settings
    store = open_store(settings)
    Pipeline(settings, store, embedder).run()
    queries = ["can the baby sleep in our bed", "what is pause", "who do I call at night"]
    before = [search(store, embedder, q) for q in queries]
    active_before = store.pointer()

    # Enough new text that embedding takes a few seconds, so the kill lands inside it.
    bulk = settings.corpus_dir / "bulk"
    bulk.mkdir()
    template = (settings.corpus_dir / "guidance" / "crying.md").read_text()
    for i in range(60):
        (bulk / f"copy-{i}.md").write_text(
            template.replace("Crying and coping", f"Crying and coping {i}")
            + "".join(
                f"\n## Extra {i}-{j}\n\nWords about comfort number {i} {j}.\n" for j in range(6)
            )
        )
    process = subprocess.Popen(
        [str(BIN / "nurture"), "ingest"],
        env=cli_env(settings),
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "embedding" in line and "chunks" in line:
            break
    time.sleep(0.5)
    assert process.poll() is None, "ingest finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    reopened = open_store(settings)
    assert reopened.pointer() == active_before
    assert [search(reopened, embedder, q) for q in queries] == before
    # The next ingest clears the half-built generation and succeeds.
    report = Pipeline(settings, reopened, embedder).run()
    assert report.ok and report.documents == 67
    assert set(reopened.generations()) == {active_before[0], report.active}


def test_cli_check_search_status(embedded_settings: Settings) -> None:
    settings = embedded_settings
    status = run_cli(settings, "status")
    assert status.returncode == 1 and "nurture ingest" in status.stdout
    ingest = run_cli(settings, "ingest")
    assert ingest.returncode == 0, ingest.stderr
    assert "7 documents" in ingest.stdout
    again = run_cli(settings, "ingest")
    assert again.returncode == 0 and "Nothing changed" in again.stdout
    found = run_cli(settings, "search", "who do I call at night", "-k", "2")
    assert found.returncode == 0
    assert "leaflets/who-to-call#who-do-i-call-at-night" in found.stdout
    assert "Example fostering service" in found.stdout
    shown = run_cli(settings, "status")
    assert shown.returncode == 0 and "all-MiniLM-L6-v2" in shown.stdout
    checked = run_cli(settings, "check")
    assert checked.returncode == 0 and "0 error(s)" in checked.stdout


def test_cli_check_and_ingest_fail_on_a_bad_file(embedded_settings: Settings) -> None:
    settings = embedded_settings
    bad = Path(settings.corpus_dir) / "guidance" / "bad.md"
    bad.write_text("---\ntitle: Bad\ntype: guidance\n---\nText.\n")
    checked = run_cli(settings, "check")
    assert checked.returncode == 1
    assert "corpus/guidance/bad.md" in checked.stdout and "summary" in checked.stdout
    ingest = run_cli(settings, "ingest")
    assert ingest.returncode == 1 and "corpus/guidance/bad.md" in ingest.stderr
    assert "7 documents" in ingest.stdout


def test_cli_rollback_without_history_explains(embedded_settings: Settings) -> None:
    result = run_cli(embedded_settings, "ingest", "--rollback")
    assert result.returncode == 1 and "no previous generation" in result.stderr


def test_documents_are_kept_with_each_generation(
    settings: Settings, store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    Pipeline(settings, store, embedder).run()
    path = settings.corpus_dir / "guidance" / "safer-sleep.md"
    original = path.read_text()
    path.write_text(original.replace("title: Safer sleep for babies", "title:"))
    report = Pipeline(settings, store, embedder).run()
    documents = {doc.id: doc for doc in store.documents(report.active)}
    assert len(documents) == 7
    # The broken file's previous version is what a citation opens.
    assert documents["guidance/safer-sleep"].meta.title == "Safer sleep for babies"
    assert documents["leaflets/health-visitors"].sections[0].anchor == "page-1"


def test_another_instance_rebuilds_a_missing_lexical_index(
    chroma_server: str, corpus: Path, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    """With a shared Chroma server, an API instance on another machine has no lexical files:
    it reads the active pointer from the server and rebuilds BM25 from the stored chunks."""
    from assistant.service import Assistant

    writer = Settings(
        corpus_dir=corpus,
        data_dir=tmp_path / "writer",
        chroma_url=chroma_server,
        collection_prefix="scaleout",
    )
    store = open_store(writer)
    Pipeline(writer, store, embedder).run()
    reader = writer.model_copy(update={"data_dir": tmp_path / "other-machine"})
    answer = Assistant.from_settings(reader, embedder=embedder).ask("who do I call at night?")
    assert answer.citations[0].doc_id == "leaflets/who-to-call"
    assert (reader.lexical_dir / str(store.pointer()[0])).is_dir()
