"""Shared fixtures: the real bundled model (loaded once), a fixture corpus, real Chroma stores."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import uvicorn

from api.app import create_app
from api.server import server_config
from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder, build_embedder
from assistant.models import Chunk
from assistant.service import Assistant
from assistant.store import IndexStore, open_store
from bench.servers import BIN, ChromaServer, free_port
from ingest.pipeline import Pipeline

# The browser fixtures, shared by every test directory (tests/chromium.py).
pytest_plugins = ["tests.chromium"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

DATA = Path(__file__).parent / "data"
FIXTURE_CORPUS = DATA / "corpus"
REPO = Path(__file__).parent.parent


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    model = build_embedder(Settings())
    model.embed_query("warm up")
    return model


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(FIXTURE_CORPUS, target)
    return target


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server (`chroma run`) on a free loopback port, for the scale-out tests."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(params=["embedded", "server"])
def settings(request: pytest.FixtureRequest, tmp_path: Path, corpus: Path) -> Settings:
    """Settings for a fresh index, once embedded and once against the Chroma server."""
    chroma_url = ""
    if request.param == "server":
        chroma_url = request.getfixturevalue("chroma_server")
    # Each test gets its own collections on the shared server.
    prefix = f"t{abs(hash(request.node.nodeid)) % 10**10}"
    return Settings(
        corpus_dir=corpus,
        data_dir=tmp_path / "data",
        chroma_url=chroma_url,
        collection_prefix=prefix,
    )


@pytest.fixture
def embedded_settings(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(corpus_dir=corpus, data_dir=tmp_path / "data")


@pytest.fixture
def store(settings: Settings) -> IndexStore:
    return open_store(settings)


def cli_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        NURTURE_CORPUS_DIR=str(settings.corpus_dir),
        NURTURE_DATA_DIR=str(settings.data_dir),
        NURTURE_CHROMA_URL=settings.chroma_url,
        NURTURE_COLLECTION_PREFIX=settings.collection_prefix,
    )
    return env


def run_cli(settings: Settings, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`nurture ...` exactly as a user types it."""
    return subprocess.run(
        [str(BIN / "nurture"), *args],
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


# -- indexes built once per session: the fixture corpus and the shipped library --------


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


# -- the app on real uvicorn servers ------------------------------------------------------


@contextmanager
def running(app: object, settings: Settings | None = None) -> Iterator[str]:
    """`app` on a free loopback port. Given the app's `settings`, it is served exactly as
    `nurture serve` serves it (api/server.py: timeouts, connection cap, no proxy headers)."""
    port = free_port()
    if settings is None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    else:
        served = with_changes(settings, host="127.0.0.1", port=port)
        config = server_config(app, served, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def with_changes(base: Settings, **changes: object) -> Settings:
    """`base` with some settings changed, validated as if read from the environment."""
    return Settings(**{**base.model_dump(), **changes})


@dataclass(frozen=True)
class Site:
    """A served app: where to reach it and the SQLite file it writes."""

    url: str
    db_path: Path


@contextmanager
def serving(
    base: Settings, assistant: Assistant, db_path: Path, **changes: object
) -> Iterator[Site]:
    """The whole app on a free loopback port with its own database, sharing `assistant`."""
    settings = with_changes(base, db_path=db_path, **changes)
    with running(create_app(settings, assistant=assistant), settings) as url:
        yield Site(url=url, db_path=db_path)


@pytest.fixture(scope="session")
def site(
    fixture_settings: Settings,
    fixture_assistant: Assistant,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    """The whole app (API and page) on a free loopback port, shared by the API, schemathesis
    and browser tests, with its own SQLite file and a rate limit no test reaches."""
    db_path = tmp_path_factory.mktemp("site") / "nurture.sqlite3"
    with serving(
        fixture_settings, fixture_assistant, db_path, rate_limit_per_minute=100_000_000
    ) as served:
        yield served


def make_chunk(doc_id: str = "d", **fields: object) -> Chunk:
    """A minimal valid chunk for unit tests; any field can be given."""
    values: dict[str, object] = {
        "id": f"{doc_id}::0",
        "doc_id": doc_id,
        "title": doc_id,
        "type": "guidance",
        "heading_path": [doc_id],
        "anchor": doc_id,
        "chunk_index": 0,
        "start": 0,
        "end": 1,
        "text": "x",
        "content_hash": "h",
        "doc_hash": "h",
        "reviewed": date(2026, 1, 1),
        "source_names": ["S"],
        "url": None,
    }
    return Chunk(**{**values, **fields})
