"""Search, documents, feedback, health and metrics over real HTTP."""

from __future__ import annotations

import httpx


def test_search_returns_ranked_chunks_with_provenance(client: httpx.Client) -> None:
    response = client.get("/v1/search", params={"q": "who do I call at night", "k": 3})
    hits = response.json()["hits"]
    assert [hit["rank"] for hit in hits] == [1, 2, 3]
    assert hits[0]["doc_id"] == "leaflets/who-to-call"
    assert hits[0]["anchor"] == "who-do-i-call-at-night" and hits[0]["source"]


def test_documents_list_and_detail_open_the_cited_passage(client: httpx.Client) -> None:
    listed = client.get("/v1/documents").json()["documents"]
    assert {d["doc_id"] for d in listed} >= {"guidance/safer-sleep", "leaflets/health-visitors"}
    answer = client.post("/v1/ask", json={"question": "can the baby sleep in our bed?"}).json()
    citation = answer["citations"][0]
    doc = client.get(f"/v1/documents/{citation['doc_id']}").json()
    section = next(s for s in doc["sections"] if s["anchor"] == citation["anchor"])
    for quote in citation["quotes"]:
        assert quote.rstrip(".") in " ".join(section["text"].split())
    assert doc["sections"][-1]["heading"] == "Sources"  # shown when opened, never quoted


def test_feedback_is_stored(client: httpx.Client) -> None:
    answer = client.post("/v1/ask", json={"question": "what is pause"}).json()
    response = client.post(
        "/v1/feedback",
        json={"answer_id": answer["answer_id"], "rating": "down", "comment": "too long"},
    )
    assert response.status_code == 201
    assert response.json()["rating"] == "down"


def test_health_and_metrics(client: httpx.Client) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["generation"]
    client.post("/v1/ask", json={"question": "my baby isnt breathing"})
    client.post("/v1/ask", json={"question": "what time does the tip open"})
    text = client.get("/metrics").text
    assert 'nurture_safety_total{category="emergency"}' in text
    assert 'nurture_abstentions_total{reason="out_of_scope"}' in text
    assert 'nurture_http_requests_total{method="POST",route="/v1/ask",status="200"}' in text
    assert "nurture_http_request_seconds_bucket" in text


def test_openapi_documents_every_endpoint(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/ask",
        "/v1/ask/stream",
        "/v1/chat/completions",
        "/v1/models",
        "/v1/search",
        "/v1/documents",
        "/v1/documents/{doc_id}",
        "/v1/feedback",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in paths, path
    assert client.get("/docs").status_code == 200


def test_both_chat_reply_types_are_documented(client: httpx.Client) -> None:
    """Found by schemathesis when it happened to send `stream: true`; checked here every run."""
    operation = client.get("/openapi.json").json()["paths"]["/v1/chat/completions"]["post"]
    assert {"application/json", "text/event-stream"} <= set(
        operation["responses"]["200"]["content"]
    )
