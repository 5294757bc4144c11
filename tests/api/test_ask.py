"""/v1/ask and /v1/ask/stream over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from httpx_sse import connect_sse

from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.evaluate import citation_problems
from assistant.models import Answer
from assistant.service import Assistant
from tests.conftest import serving


def test_ask_returns_a_cited_answer(client: httpx.Client) -> None:
    response = client.post("/v1/ask", json={"question": "can the baby sleep in our bed?"})
    assert response.status_code == 200
    body = response.json()
    assert body["answer_id"] and body["conversation_id"]
    assert body["citations"][0]["doc_id"] == "guidance/safer-sleep"
    assert body["citations"][0]["anchor"] == "can-the-baby-sleep-in-our-bed"
    assert citation_problems(Answer.model_validate(body)) == []
    assert response.headers["x-request-id"]


def test_follow_up_in_the_same_conversation(client: httpx.Client) -> None:
    first = client.post("/v1/ask", json={"question": "how do I get a baby ready for family time?"})
    conversation = first.json()["conversation_id"]
    follow = client.post(
        "/v1/ask", json={"question": "and afterwards?", "conversation_id": conversation}
    )
    assert follow.status_code == 200
    assert follow.json()["conversation_id"] == conversation
    assert follow.json()["citations"][0]["doc_id"] == "guidance/family-time"


def test_filters_travel_over_http(client: httpx.Client) -> None:
    response = client.post(
        "/v1/ask",
        json={"question": "support for mothers", "filters": {"types": ["programme"]}},
    )
    assert {c["doc_id"] for c in response.json()["citations"]} <= {"programmes/pause"}


def test_stream_sends_sources_first_then_text_then_the_answer(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        with connect_sse(
            http, "POST", "/v1/ask/stream", json={"question": "how do i settle a screaming baby"}
        ) as source:
            assert source.response.headers["content-type"].startswith("text/event-stream")
            events = [(event.event, json.loads(event.data)) for event in source.iter_sse()]
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and "delta" in kinds
    start, done = events[0][1], events[-1][1]
    assert start["safety"]["category"] == "none" and start["citations"]
    text = "".join(data["text"] for kind, data in events if kind == "delta")
    assert text == done["answer"]
    offered = {c["n"]: c["chunk_id"] for c in start["citations"]}
    for citation in done["citations"]:
        assert offered[citation["n"]] == citation["chunk_id"]
    assert citation_problems(Answer.model_validate(done)) == []
    assert done["answer_id"] == start["answer_id"]


def test_stream_puts_the_emergency_block_first(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        with connect_sse(
            http, "POST", "/v1/ask/stream", json={"question": "my baby isnt breathing"}
        ) as source:
            events = [(event.event, json.loads(event.data)) for event in source.iter_sse()]
    assert events[0][1]["safety"]["category"] == "emergency"
    first_text = next(data["text"] for kind, data in events if kind == "delta")
    assert first_text.startswith("**This could be an emergency. Call 999 now.**")


def test_out_of_scope_is_an_honest_200(client: httpx.Client) -> None:
    response = client.post("/v1/ask", json={"question": "what time does the tip open on sunday"})
    assert response.status_code == 200
    body = response.json()
    assert body["abstained"] and body["abstain_reason"] == "out_of_scope"
    assert body["citations"] == [] and body["related"]


def test_a_question_is_triaged_once_per_request(
    fixture_settings: Settings, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    """Only an unknown conversation id needs the early "is it urgent?" pass; otherwise the
    answer's own triage is the only one (it costs up to several ms on a long message)."""
    assistant = Assistant.from_settings(fixture_settings, embedder=embedder)
    calls: list[str] = []
    triage = assistant.triage.triage

    def counted(text: str, **options: bool) -> object:
        calls.append(text)
        return triage(text, **options)

    assistant.triage.triage = counted  # type: ignore[method-assign]
    with serving(fixture_settings, assistant, tmp_path / "nurture.db") as site:
        with httpx.Client(base_url=site.url, timeout=30) as http:
            first = http.post("/v1/ask", json={"question": "what is serve and return?"})
            assert first.status_code == 200
            assert len(calls) == 1
            follow_up = {"question": "and why?", "conversation_id": first.json()["conversation_id"]}
            assert http.post("/v1/ask", json=follow_up).status_code == 200
            assert len(calls) == 2
            for path, unknown_id in (("/v1/ask", "e" * 32), ("/v1/ask/stream", "f" * 32)):
                calls.clear()
                unknown = {"question": "my baby isn't breathing", "conversation_id": unknown_id}
                reply = http.post(path, json=unknown)
                assert reply.status_code == 200  # the safety advice goes out
                assert len(calls) == 2, (path, calls)  # "is it urgent?", then the answer triage
