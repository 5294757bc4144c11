"""What any client can send at the edge: header bytes, lone surrogates, keys written oddly,
forged X-Forwarded-For, guessed keys, and bugs it can trigger. Real HTTP, real uvicorn."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from assistant import Assistant, Settings, get_settings
from tests.api.conftest import ServerFactory
from tests.api.test_errors import assert_error
from tests.conftest import running, with_changes

ROUTES = [
    ("GET", "/"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/v1/models"),
    ("GET", "/v1/documents"),
    ("GET", "/v1/search?q=sleep"),
    ("POST", "/v1/ask"),
    ("POST", "/v1/ask/stream"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/feedback"),
    ("GET", "/v1/nothing-here"),
]


def test_header_bytes_that_are_not_utf8_never_fail_a_request(
    make_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Header values are latin-1: any byte is a character, none is an error (it used to be a
    500 on every route, before authentication)."""
    site = make_server(api_keys="right-key")
    odd = {"X-Note": b"caf\xe9 \xff\xfe", "User-Agent": b"\xc3\x28", "X-Request-ID": b"\xe9\xe9"}
    with caplog.at_level(logging.WARNING), httpx.Client(base_url=site.url, timeout=30) as http:
        for method, path in ROUTES:
            response = http.request(method, path, headers=odd)
            assert response.status_code < 500, (path, response.text)
            assert response.headers["x-request-id"] != "\xe9\xe9"
        wrong = http.get("/v1/models", headers={"Authorization": b"Bearer caf\xe9"})
        assert_error(wrong, 401, "unauthorized")
        right = http.get("/v1/models", headers={"Authorization": "Bearer right-key", **odd})
        assert right.status_code == 200
    assert not [record for record in caplog.records if record.exc_info]


SURROGATE = "\ud800"


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/v1/ask", {"question": f"help {SURROGATE}"}, "question"),
        ("/v1/ask", {"question": "help", "conversation_id": SURROGATE}, "conversation_id"),
        ("/v1/ask/stream", {"question": f"help {SURROGATE}"}, "question"),
        (
            "/v1/chat/completions",
            {"model": "nurture", "messages": [{"role": "user", "content": f"hi {SURROGATE}"}]},
            "messages.0.content",
        ),
        (
            "/v1/chat/completions",
            {
                "model": "nurture",
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": f"hi {SURROGATE}"}]}
                ],
            },
            "messages.0.content.0.text",
        ),
        (
            "/v1/chat/completions",
            {"model": "n", "user": SURROGATE, "messages": [{"role": "user", "content": "hi"}]},
            "user",
        ),
        ("/v1/feedback", {"answer_id": "a", "rating": "up", "comment": SURROGATE}, "comment"),
    ],
)
def test_a_lone_surrogate_is_a_422_on_every_route(
    client: httpx.Client, path: str, payload: dict, field: str
) -> None:
    # json.dumps writes the lone surrogate as the escape "\ud800", as a client's JSON would.
    content = json.dumps(payload).encode()
    assert b"\\ud800" in content
    response = client.post(path, content=content, headers={"content-type": "application/json"})
    body = assert_error(response, 422, "invalid_request")
    assert body["fields"] == [field] and "surrogate" in body["message"]


@pytest.mark.parametrize("path", ["/v1/search?q=%ED%A0%80", "/v1/documents/%ED%A0%80"])
def test_a_surrogate_in_a_url_is_replaced_not_a_failure(client: httpx.Client, path: str) -> None:
    """URLs carry bytes, decoded as UTF-8 with replacement: a surrogate's bytes never reach
    the app as a lone surrogate."""
    assert client.get(path).status_code in (200, 404)


def test_a_bug_is_a_500_with_a_request_id_and_one_traceback_a_minute(
    fixture_settings: Settings,
    fixture_assistant: Assistant,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = with_changes(fixture_settings, db_path=tmp_path / "bug.db")
    app = create_app(settings, assistant=fixture_assistant)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug a client can trigger")

    uvicorn_errors = CountingHandler()
    logging.getLogger("uvicorn.error").addHandler(uvicorn_errors)
    try:
        with caplog.at_level(logging.INFO), running(app, settings) as url:
            responses = [httpx.get(f"{url}/boom") for _ in range(25)]
    finally:
        logging.getLogger("uvicorn.error").removeHandler(uvicorn_errors)
    for response in responses:
        assert_error(response, 500, "internal_error")
        assert "a bug" not in response.text
    assert len({response.json()["error"]["request_id"] for response in responses}) == 25
    tracebacks = [record for record in caplog.records if record.exc_info]
    assert len(tracebacks) == 1 and "RuntimeError" in tracebacks[0].getMessage()
    assert uvicorn_errors.with_traceback == 0


class CountingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.with_traceback = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.with_traceback += record.exc_info is not None


class FailingGenerator:
    def generate(self, question: str, passages: list, history: list, **options: object) -> list:  # noqa: ARG002
        raise RuntimeError("the composer broke")


@pytest.fixture
def broken_stream(
    fixture_settings: Settings, fixture_assistant: Assistant, tmp_path: Path
) -> Iterator[str]:
    broken = Assistant(
        fixture_assistant.settings,
        fixture_assistant.triage,
        fixture_assistant.retriever,
        FailingGenerator(),
        scope=fixture_assistant.scope,
    )
    settings = with_changes(fixture_settings, db_path=tmp_path / "broken.db")
    with running(create_app(settings, assistant=broken), settings) as url:
        yield url


def test_the_stream_error_event_carries_the_request_id(broken_stream: str) -> None:
    with httpx.Client(base_url=broken_stream, timeout=30) as http:
        response = http.post(
            "/v1/ask/stream",
            json={"question": "how do i settle a screaming baby"},
            headers={"X-Request-ID": "trace-me-42"},
        )
    events = [block for block in response.text.split("\n\n") if block.startswith("event: error")]
    assert len(events) == 1
    error = json.loads(events[0].split("data: ", 1)[1])
    assert error["request_id"] == "trace-me-42" == response.headers["x-request-id"]
    assert error["type"] == "internal_error" and "RuntimeError" in error["message"]


# -- who a client is: rate limits and failed keys -------------------------------------------


def statuses(url: str, headers_list: list[dict[str, str]], path: str = "/v1/models") -> list[int]:
    with httpx.Client(base_url=url) as http:
        return [http.get(path, headers=headers).status_code for headers in headers_list]


def test_the_rate_limit_is_per_key_however_the_header_is_written(
    make_server: ServerFactory,
) -> None:
    site = make_server(api_keys="alpha-key,beta-key", rate_limit_per_minute=3)
    spellings = [
        "Bearer alpha-key",
        "bearer alpha-key",
        "BEARER   alpha-key",
        "Bearer\talpha-key",
    ]
    results = statuses(site.url, [{"Authorization": value} for value in spellings])
    assert results == [200, 200, 200, 429]
    # Another key has its own allowance.
    assert statuses(site.url, [{"Authorization": "Bearer beta-key"}]) == [200]


def test_without_keys_the_limit_is_per_address_whatever_else_is_sent(
    make_server: ServerFactory,
) -> None:
    site = make_server(rate_limit_per_minute=3)
    varied = [
        {"Authorization": "Bearer one"},
        {"Authorization": "Bearer two", "X-Forwarded-For": "203.0.113.7"},
        {"X-Forwarded-For": "198.51.100.1", "X-Real-IP": "198.51.100.2"},
        {"Authorization": "Basic three", "Forwarded": "for=192.0.2.60"},
    ]
    assert statuses(site.url, varied) == [200, 200, 200, 429]


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(
    make_server: ServerFactory,
) -> None:
    site = make_server(rate_limit_per_minute=2, trusted_proxies="127.0.0.1")
    # The proxy (this loopback client) appends the address it saw; what is left of it is
    # whatever the client wrote, so a client cannot choose its own bucket.
    first = {"X-Forwarded-For": "203.0.113.7"}
    forged = {"X-Forwarded-For": "10.9.9.9, 203.0.113.7"}
    other = {"X-Forwarded-For": "198.51.100.1"}
    assert statuses(site.url, [first, forged, first]) == [200, 200, 429]
    assert statuses(site.url, [other]) == [200]


def test_failed_keys_are_throttled_per_address(make_server: ServerFactory) -> None:
    site = make_server(
        api_keys="right-key", auth_failures_per_minute=5, trusted_proxies="127.0.0.1"
    )
    guesser = {"X-Forwarded-For": "203.0.113.7"}
    wrong = [{**guesser, "Authorization": f"Bearer guess-{n}"} for n in range(5)]
    assert statuses(site.url, wrong) == [401] * 5
    with httpx.Client(base_url=site.url) as http:
        blocked = http.get("/v1/models", headers={**guesser, "Authorization": "Bearer guess-6"})
        assert_error(blocked, 429, "rate_limited")
        assert 1 <= int(blocked.headers["retry-after"]) <= 12
        # While blocked, even the right key waits: guessing cannot go on in between.
        right = {"Authorization": "Bearer right-key"}
        assert http.get("/v1/models", headers={**guesser, **right}).status_code == 429
        # Another address is not held up by this one's failures.
        other = {"X-Forwarded-For": "198.51.100.1", **right}
        assert http.get("/v1/models", headers=other).status_code == 200
        assert http.get("/healthz", headers=guesser).status_code == 200


def test_metrics_need_a_key_when_keys_are_set(make_server: ServerFactory) -> None:
    site = make_server(api_keys="right-key")
    with httpx.Client(base_url=site.url) as http:
        assert_error(http.get("/metrics"), 401, "unauthorized")
        scraped = http.get("/metrics", headers={"Authorization": "Bearer right-key"})
        assert scraped.status_code == 200 and "nurture_http_requests_total" in scraped.text
        assert http.get("/healthz").status_code == 200
        assert http.get("/readyz").status_code == 200


def test_metrics_are_open_when_no_keys_are_set(client: httpx.Client) -> None:
    assert client.get("/metrics").status_code == 200


def test_the_service_listens_on_loopback_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from api.server import server_config

    for name in ("NURTURE_HOST", "NURTURE_TRUSTED_PROXIES", "NURTURE_API_KEYS"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        settings = get_settings()
    finally:
        get_settings.cache_clear()
    assert settings.host == "127.0.0.1" and settings.trusted_proxy_networks == []
    config = server_config(FastAPI(), settings)
    assert config.host == "127.0.0.1" and config.proxy_headers is False
    assert config.limit_concurrency == settings.max_connections
    monkeypatch.setenv("NURTURE_HOST", "0.0.0.0")
    assert server_config(FastAPI(), Settings()).host == "0.0.0.0"
