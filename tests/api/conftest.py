"""Servers started per test with changed settings; the shared one is `site` (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from assistant.config import Settings
from assistant.service import Assistant
from tests.conftest import Site, serving

ServerFactory = Callable[..., str]


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
def server(site: Site) -> str:
    """The shared server for the read-mostly tests."""
    return site.url


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as http:
        yield http
