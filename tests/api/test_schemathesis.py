"""Property-based tests from our own OpenAPI document against a live server: no 5xx, and every
response matches the documented schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from assistant.config import Settings
from assistant.service import Assistant
from tests.api.conftest import serving

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@pytest.fixture(scope="module")
def live_url(
    fixture_settings: Settings,
    fixture_assistant: Assistant,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    db_path = tmp_path_factory.mktemp("schemathesis") / "db.sqlite3"
    with serving(
        fixture_settings, fixture_assistant, db_path, rate_limit_per_minute=1_000_000
    ) as url:
        yield url


def test_api_conforms_to_its_schema(live_url: str) -> None:
    # Driven through hypothesis directly: schemathesis' pytest plugin does not load under the
    # pytest we use. Every operation in the document is exercised.
    schema = schemathesis.openapi.from_url(f"{live_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=CHECKS)

        check()
