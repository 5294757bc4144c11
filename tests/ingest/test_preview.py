"""`nurture preview` on a copy of the shipped library with one edited document: only that
document is re-embedded, nothing serves the draft until it is published, and the report says
which gold answers change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.evaluate import GoldSet
from assistant.store import open_store
from ingest.pipeline import Pipeline
from ingest.preview import draft_assistant, load, preview, sections_of
from tests.conftest import REPO
from tests.trainers.edits import EDITED, QUESTION, edit

pytestmark = pytest.mark.slow


class CountingEmbedder:
    """The bundled model, counting the texts it is asked to embed."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_tokens = inner.max_tokens
        self.texts = 0

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_documents(self, texts: list[str], *, progress: bool = False) -> object:
        self.texts += len(texts)
        return self.inner.embed_documents(texts, progress=progress)

    def embed_query(self, text: str) -> object:
        return self.inner.embed_query(text)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, shipped_settings: Settings) -> Settings:
    """The shipped library and a copy of the session's index of it (built once, in conftest)."""
    root = tmp_path_factory.mktemp("preview-library")
    shutil.copytree(REPO / "corpus", root / "corpus")
    shutil.copytree(shipped_settings.data_dir, root / "data")
    settings = Settings(corpus_dir=root / "corpus", data_dir=root / "data")
    assert open_store(settings).pointer()[0] is not None
    return settings


@pytest.fixture
def library(tmp_path: Path, built: Settings) -> Settings:
    """A writable copy of the shipped corpus and of its built index."""
    shutil.copytree(built.corpus_dir, tmp_path / "corpus")
    shutil.copytree(built.data_dir, tmp_path / "data")
    return Settings(corpus_dir=tmp_path / "corpus", data_dir=tmp_path / "data")


def test_preview_re_embeds_only_the_edited_document_and_reports_changes(
    library: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    store = open_store(library)
    live, _ = store.pointer()
    edit(library.corpus_dir)
    counting = CountingEmbedder(embedder)

    embedded_by_step: dict[str, int] = {}

    def step(message: str) -> None:  # the texts embedded before each step began
        embedded_by_step[message] = counting.texts

    # A slice of the gold set with the question the edit answers: enough to see a change.
    whole = GoldSet.load(library.corpus_dir / "eval" / "questions.yaml")
    knitting = [item for item in whole.out_of_scope if item.question == QUESTION]
    gold = GoldSet(
        in_scope=whole.in_scope[:12],
        out_of_scope=whole.out_of_scope[:8] + knitting,
        safety=whole.safety[:3],
    )
    report = preview(library, store, counting, gold=gold, progress=step)

    assert report.draft and report.draft != live
    assert report.live == live
    assert report.documents_embedded == [EDITED]
    draft = store.collection(report.draft)
    edited_chunks = draft.get(where={"doc_id": EDITED}, include=[])["ids"]
    # The edited document's chunks and its new question phrasings; nothing else.
    assert report.texts_embedded == len(edited_chunks)
    build_done = embedded_by_step["asking the gold questions of the draft and the live generation"]
    assert (
        build_done == report.texts_embedded + report.questions_embedded + report.sentences_embedded
    )
    assert 0 < report.questions_embedded <= 3
    # Nothing serves the draft yet.
    assert store.pointer()[0] == live
    assert store.draft() == (report.draft, live)
    change = next(c for c in report.changes if c.question == QUESTION)
    assert change.kind == "new answer"
    assert any(section.startswith(EDITED + "#") for section in change.draft)
    assert set(report.bars) == {
        "in_scope_cites_expected_document",
        "out_of_scope_declined",
        "in_scope_answered",
    }
    assert "out_of_scope_declined" in report.drops  # the knitting question is now answered
    saved = load(library)
    assert saved is not None and saved["draft"] == report.draft
    assert str(library.data_dir) not in str(saved) and str(library.corpus_dir) not in str(saved)

    answer = draft_assistant(library, store, report.draft, embedder).ask(QUESTION)
    assert any(s.startswith(EDITED) for s in sections_of(answer))

    # Publishing makes it serve; the old live generation is kept for rollback.
    pipeline = Pipeline(library, store, embedder)
    assert pipeline.activate(report.draft) == (report.draft, live)
    assert store.pointer() == (report.draft, live)
    assert store.draft() is None


def test_drafts_are_pruned_like_old_generations(
    embedded_settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    # The small fixture library: pruning does not depend on the library's size.
    library = embedded_settings
    store = open_store(library)
    pipeline = Pipeline(library, store, embedder)
    live = pipeline.run().active
    edited = edit(library.corpus_dir, "guidance/crying")
    first = pipeline.run(activate=False).active
    edited.write_text(edited.read_text().replace("120 stitches", "100 stitches"))
    second = pipeline.run(activate=False).active
    assert first != second
    assert first not in store.generations()  # the older draft is gone
    assert {live, second} <= set(store.generations())
    assert store.draft() == (second, live)
    # An ordinary ingest prunes the draft too.
    pipeline.run()
    assert second not in store.generations()
    assert store.draft() is None


def test_activating_an_unknown_generation_says_what_to_do(
    embedded_settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    with pytest.raises(Exception, match="nurture preview"):
        Pipeline(embedded_settings, open_store(embedded_settings), embedder).activate("g-nope")
