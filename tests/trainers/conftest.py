"""The workspace over the fixture corpus, with a seeded database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.service import Assistant
from tests.api.conftest import make_server
from tests.conftest import Site, serving
from tests.trainers.seed import seed

__all__ = ["make_server"]  # shared fixture

TRAINER_KEY = "trainer-key-1"
CARER_KEY = "carer-key-1"


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory, fixture_assistant: Assistant) -> Path:
    path = tmp_path_factory.mktemp("trainers") / "nurture.db"
    seed(path, fixture_assistant).close()
    return path


@pytest.fixture(scope="session")
def workspace_site(
    fixture_settings: Settings, fixture_assistant: Assistant, seeded_db: Path
) -> Iterator[Site]:
    with serving(
        fixture_settings,
        fixture_assistant,
        seeded_db,
        trainer_keys=TRAINER_KEY,
        api_keys=CARER_KEY,
        rate_limit_per_minute=100_000,
        auth_failures_per_minute=100_000,
    ) as site:
        yield site
