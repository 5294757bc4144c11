"""Real uvicorn servers on free loopback ports, sharing one Assistant (one model load)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.app import create_app
from assistant.config import Settings
from assistant.service import Assistant
from tests.conftest import free_port


@contextmanager
def running(app: object) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
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


ServerFactory = Callable[..., str]


def with_changes(base: Settings, **changes: object) -> Settings:
    """`base` with some settings changed, validated as if read from the environment."""
    return Settings(**{**base.model_dump(), **changes})


@contextmanager
def serving(
    base: Settings, assistant: Assistant, db_path: Path, **changes: object
) -> Iterator[str]:
    """The whole app on a free loopback port with its own database, sharing `assistant`."""
    settings = with_changes(base, db_path=db_path, **changes)
    with running(create_app(settings, assistant=assistant)) as url:
        yield url


@pytest.fixture
def make_server(
    fixture_settings: Settings, fixture_assistant: Assistant, tmp_path: Path
) -> Iterator[ServerFactory]:
    """Start a server with some settings changed; stopped after the test."""
    stack: list = []

    def start(**changes: object) -> str:
        db_path = changes.pop("db_path", tmp_path / f"db{len(stack)}.sqlite3")
        context = serving(fixture_settings, fixture_assistant, db_path, **changes)
        stack.append(context)
        return context.__enter__()

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture(scope="session")
def server(
    fixture_settings: Settings,
    fixture_assistant: Assistant,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """One shared server for the read-mostly tests (a generous rate limit)."""
    db_path = tmp_path_factory.mktemp("db") / "nurture.sqlite3"
    with serving(
        fixture_settings, fixture_assistant, db_path, rate_limit_per_minute=100_000
    ) as url:
        yield url


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as http:
        yield http
