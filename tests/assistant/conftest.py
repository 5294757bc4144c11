"""Indexes built once per test session: the small fixture corpus and the shipped library."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.service import Assistant
from assistant.store import open_store
from ingest.pipeline import Pipeline
from tests.conftest import FIXTURE_CORPUS, REPO


def _indexed(tmp: Path, corpus: Path, embedder: SentenceTransformerEmbedder) -> Settings:
    settings = Settings(corpus_dir=corpus, data_dir=tmp / "data")
    report = Pipeline(settings, open_store(settings), embedder).run()
    assert report.ok, report.errors
    return settings


@pytest.fixture(scope="session")
def fixture_settings(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Settings:
    return _indexed(tmp_path_factory.mktemp("fixture-index"), FIXTURE_CORPUS, embedder)


@pytest.fixture(scope="session")
def fixture_assistant(
    fixture_settings: Settings, embedder: SentenceTransformerEmbedder
) -> Assistant:
    return Assistant.from_settings(fixture_settings, embedder=embedder)


@pytest.fixture(scope="session")
def shipped_settings(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Settings:
    return _indexed(tmp_path_factory.mktemp("shipped-index"), REPO / "corpus", embedder)


@pytest.fixture(scope="session")
def shipped_assistant(
    shipped_settings: Settings, embedder: SentenceTransformerEmbedder
) -> Assistant:
    return Assistant.from_settings(shipped_settings, embedder=embedder)
