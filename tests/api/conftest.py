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


@pytest.fixture
def make_server(
    fixture_settings: Settings, fixture_assistant: Assistant, tmp_path: Path
) -> Iterator[ServerFactory]:
    """Start a server with some settings changed; stopped after the test."""
    stack: list = []

    def start(**changes: object) -> str:
        settings = Settings(
            **{
                **fixture_settings.model_dump(),
                "db_path": tmp_path / f"db{len(stack)}.sqlite3",
                **changes,
            }
        )
        context = running(create_app(settings, assistant=fixture_assistant))
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
    settings = fixture_settings.model_copy(
        update={
            "db_path": tmp_path_factory.mktemp("db") / "nurture.sqlite3",
            "rate_limit_per_minute": 100_000,
        }
    )
    with running(create_app(settings, assistant=fixture_assistant)) as url:
        yield url


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as http:
        yield http
