"""Every error a client can cause: clear JSON, a request id, the right status, no internals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.errors import HTTP_ERROR_KIND, ApiError, ErrorResponse
from assistant import NurtureError
from tests.api.conftest import ServerFactory
from tests.conftest import REPO


def assert_error(response: httpx.Response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    assert kind in DECLARED_KINDS, f"{kind!r} is not a declared error kind"
    body = ErrorResponse.model_validate(response.json()).model_dump()["error"]
    assert body["type"] == kind and body["message"] and body["request_id"]
    assert response.headers["x-request-id"] == body["request_id"]
    for leak in ("Traceback", "/work/", ".py", "site-packages"):
        assert leak not in response.text
    return body


def subclasses(cls: type) -> list[type]:
    return [sub for child in cls.__subclasses__() for sub in (child, *subclasses(child))]


ERRORS = [error for error in subclasses(NurtureError) if error is not ApiError]
DECLARED_KINDS = {error.kind for error in ERRORS} | {HTTP_ERROR_KIND}


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: error.__name__)
def test_each_error_declares_its_kind_and_status(error: type[NurtureError]) -> None:
    assert "kind" in vars(error) and "status_code" in vars(error)
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", error.kind)
    assert 400 <= error.status_code <= 599
    others = [other for other in ERRORS if other.kind == error.kind and other is not error]
    assert others == []


def test_the_page_and_its_tests_use_declared_kinds() -> None:
    page_tests = (REPO / "tests" / "browser" / "test_page.py").read_text(encoding="utf-8")
    used = set(re.findall(r'\{"type": "([a-z_]+)"', page_tests))
    assert used and used <= DECLARED_KINDS
    # The page's own kind for a reply that is not our JSON (a proxy's error page, say).
    stream = REPO / "api" / "static" / "js" / "stream.js"
    assert f'type: "{HTTP_ERROR_KIND}"' in stream.read_text()


def test_question_too_long_names_the_field(client: httpx.Client) -> None:
    body = assert_error(
        client.post("/v1/ask", json={"question": "why " * 600}), 422, "invalid_request"
    )
    assert body["fields"] == ["question"] and "question" in body["message"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "question"),
        ({"question": ""}, "question"),
        ({"question": "ok", "surprise": 1}, "surprise"),
        ({"question": "ok", "filters": {"age_months": -3}}, "filters.age_months"),
        ({"question": "ok", "filters": {"types": ["leaflet"]}}, "filters.types.0"),
        ({"question": 5}, "question"),
    ],
)
def test_invalid_requests_name_the_field(client: httpx.Client, payload: dict, field: str) -> None:
    body = assert_error(client.post("/v1/ask", json=payload), 422, "invalid_request")
    assert field in body["fields"]


def test_malformed_json(client: httpx.Client) -> None:
    response = client.post(
        "/v1/ask", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_error(response, 422, "invalid_request")


def test_body_over_16_kib_is_refused_before_parsing(client: httpx.Client) -> None:
    response = client.post("/v1/ask", content=b"x" * (17 * 1024))
    assert_error(response, 413, "too_large")


def test_chunked_body_over_the_limit_is_refused(server: str) -> None:
    """No Content-Length: the limit is enforced while the body arrives."""

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b'{"question": "' + b"a" * 1000

    with httpx.Client(base_url=server, timeout=30) as http:
        response = http.post("/v1/ask", content=chunks())
    assert_error(response, 413, "too_large")


def test_unknown_conversation_and_answer_ids(client: httpx.Client) -> None:
    assert_error(
        client.post("/v1/ask", json={"question": "hello", "conversation_id": "nope"}),
        404,
        "not_found",
    )
    assert_error(
        client.post("/v1/feedback", json={"answer_id": "nope", "rating": "up"}), 404, "not_found"
    )
    assert_error(client.get("/v1/documents/no/such/doc"), 404, "not_found")
    assert_error(client.get("/v1/nothing-here"), 404, "not_found")


def test_feedback_validation(client: httpx.Client) -> None:
    answer = client.post("/v1/ask", json={"question": "what is pause"}).json()
    body = assert_error(
        client.post("/v1/feedback", json={"answer_id": answer["answer_id"], "rating": "meh"}),
        422,
        "invalid_request",
    )
    assert body["fields"] == ["rating"]


def test_search_parameters_are_checked(client: httpx.Client) -> None:
    assert "q" in assert_error(client.get("/v1/search"), 422, "invalid_request")["fields"]
    assert (
        "k"
        in assert_error(
            client.get("/v1/search", params={"q": "sleep", "k": 500}), 422, "invalid_request"
        )["fields"]
    )


def test_wrong_method(client: httpx.Client) -> None:
    assert_error(client.get("/v1/ask"), 405, "method_not_allowed")


def test_chat_needs_a_user_message_last(client: httpx.Client) -> None:
    body = assert_error(
        client.post(
            "/v1/chat/completions",
            json={"model": "nurture", "messages": [{"role": "assistant", "content": "hi"}]},
        ),
        422,
        "invalid_request",
    )
    assert body["fields"] == ["messages"]


def test_chat_history_is_limited(make_server: ServerFactory) -> None:
    site = make_server(max_history_messages=2)
    messages = [{"role": "user", "content": "hello"}] * 5
    with httpx.Client(base_url=site.url) as http:
        body = assert_error(
            http.post("/v1/chat/completions", json={"model": "n", "messages": messages}),
            422,
            "invalid_request",
        )
    assert body["fields"] == ["messages"]


def test_question_limit_is_the_setting(make_server: ServerFactory) -> None:
    site = make_server(max_question_chars=4000)
    with httpx.Client(base_url=site.url, timeout=30) as http:
        assert http.post("/v1/ask", json={"question": "why " * 600}).status_code == 200
        body = assert_error(
            http.post("/v1/ask", json={"question": "why " * 1100}), 422, "invalid_request"
        )
    assert body["fields"] == ["question"] and "4000" in body["message"]


def test_chat_question_too_long(make_server: ServerFactory) -> None:
    site = make_server(max_question_chars=50)
    messages = [{"role": "user", "content": "why " * 30}]
    with httpx.Client(base_url=site.url) as http:
        body = assert_error(
            http.post("/v1/chat/completions", json={"model": "n", "messages": messages}),
            422,
            "invalid_request",
        )
    assert body["fields"] == ["messages.0.content"]


def test_api_keys(make_server: ServerFactory) -> None:
    site = make_server(api_keys="first-key,second-key")
    with httpx.Client(base_url=site.url) as http:
        assert_error(http.get("/v1/documents"), 401, "unauthorized")
        wrong = http.get("/v1/documents", headers={"Authorization": "Bearer nope"})
        assert_error(wrong, 401, "unauthorized")
        assert wrong.headers["www-authenticate"] == "Bearer"
        for key in ("first-key", "second-key"):
            ok = http.get("/v1/documents", headers={"Authorization": f"Bearer {key}"})
            assert ok.status_code == 200
        assert http.get("/healthz").status_code == 200
        assert http.get("/readyz").status_code == 200


def test_rate_limit(make_server: ServerFactory) -> None:
    site = make_server(rate_limit_per_minute=3)
    with httpx.Client(base_url=site.url) as http:
        statuses = [http.get("/v1/models").status_code for _ in range(4)]
        assert statuses[:3] == [200, 200, 200]
        limited = http.get("/v1/models")
        assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) >= 1
        assert http.get("/healthz").status_code == 200  # health checks are never limited


def test_cors_is_closed_by_default_and_opens_for_the_allow_list(
    client: httpx.Client, make_server: ServerFactory
) -> None:
    origin = {"Origin": "https://agency.example"}
    assert "access-control-allow-origin" not in client.get("/v1/models", headers=origin).headers
    site = make_server(cors_origins="https://agency.example")
    with httpx.Client(base_url=site.url) as http:
        allowed = http.get("/v1/models", headers=origin)
        assert allowed.headers["access-control-allow-origin"] == "https://agency.example"
        other = http.get("/v1/models", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = http.options(
            "/v1/ask",
            headers={**origin, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 200


def test_readyz_reports_a_missing_index(tmp_path: Path) -> None:
    from api.app import create_app
    from assistant.config import Settings
    from tests.conftest import running

    settings = Settings(data_dir=tmp_path / "empty", corpus_dir=tmp_path / "corpus")
    with running(create_app(settings), settings) as url, httpx.Client(base_url=url) as http:
        ready = http.get("/readyz")
        assert ready.status_code == 503 and "nurture ingest" in ready.json()["reason"]
        assert http.get("/healthz").status_code == 200
        assert_error(http.post("/v1/ask", json={"question": "sleep tips"}), 503, "index_not_ready")
        emergency = http.post("/v1/ask", json={"question": "my baby has stopped breathing"})
        assert emergency.status_code == 200
        assert emergency.json()["safety"]["category"] == "emergency"
