"""Servers started per test with changed settings; the shared one is `site` (tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from assistant.config import Settings
from assistant.service import Assistant
from tests.conftest import Site, serving

ServerFactory = Callable[..., Site]


@pytest.fixture
def make_server(
    fixture_settings: Settings, fixture_assistant: Assistant, tmp_path: Path
) -> Iterator[ServerFactory]:
    """Start a server with some settings changed (each with its own database unless `db_path`
    is given); stopped after the test."""
    with ExitStack() as stack:

        def start(**changes: object) -> Site:
            db_path = changes.pop("db_path", None) or tmp_path / f"nurture-{uuid.uuid4().hex}.db"
            return stack.enter_context(
                serving(fixture_settings, fixture_assistant, db_path, **changes)
            )

        yield start


@pytest.fixture(scope="session")
def server(site: Site) -> str:
    """The shared server for the read-mostly tests."""
    return site.url


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as http:
        yield http
