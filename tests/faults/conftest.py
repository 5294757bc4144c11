"""Faults on real components: a Chroma server the test stops and restarts, and a real SQLite
file the test corrupts, fills and deletes, behind the real app on uvicorn."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.safety import SafetyTriage
from assistant.store import open_store
from bench.servers import ChromaServer
from ingest.pipeline import Pipeline
from tests.conftest import FIXTURE_CORPUS

# Messages triage must answer with its safety message whatever else is broken, with the
# category each must get.
URGENT = {
    "the baby isn't breathing and his lips are blue": "emergency",
    "my baby has stopped breathing": "emergency",
    "she's having a fit and won't wake up": "emergency",
    "he swallowed some of my tablets": "emergency",
    "the baby is floppy and grey and won't wake": "emergency",
    "she told me her dad hits her": "safeguarding",
    "I'm going to hurt the baby": "carer_crisis",
}
NORMAL = "how do I settle a crying baby at night?"
ENDPOINTS = ("/v1/ask", "/v1/ask/stream", "/v1/chat/completions")


@pytest.fixture(scope="module")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path_factory.mktemp("chroma-faults"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chroma_settings(
    chroma: ChromaServer,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: SentenceTransformerEmbedder,
) -> Settings:
    """The fixture corpus indexed into the Chroma server."""
    settings = Settings(
        corpus_dir=FIXTURE_CORPUS,
        data_dir=tmp_path_factory.mktemp("faults-data"),
        chroma_url=chroma.url,
        collection_prefix="faults",
        rate_limit_per_minute=100_000_000,
    )
    report = Pipeline(settings, open_store(settings), embedder).run()
    assert report.ok, report.errors
    return settings


def safety_messages() -> dict[str, str]:
    triage = SafetyTriage()
    return {category: triage.messages[category].strip() for category in set(URGENT.values())}


def post(http: httpx.Client, endpoint: str, question: str) -> tuple[int, dict]:
    """One question to one endpoint; returns the status and, for a 200, the category and text
    (of the whole answer, whichever the endpoint's shape), else the JSON error body."""
    if endpoint == "/v1/chat/completions":
        payload: dict = {"model": "n", "messages": [{"role": "user", "content": question}]}
    else:
        payload = {"question": question}
    response = http.post(endpoint, json=payload)
    if response.status_code != 200:
        return response.status_code, {"headers": dict(response.headers), **response.json()}
    if endpoint == "/v1/ask":
        body = response.json()
        return 200, {"category": body["safety"]["category"], "text": body["answer"]}
    if endpoint == "/v1/chat/completions":
        body = response.json()
        return 200, {
            "category": body["nurture"]["safety"]["category"],
            "text": body["choices"][0]["message"]["content"],
        }
    events = [
        (block.split("\n")[0].removeprefix("event: "), block.split("\n", 1)[1])
        for block in response.text.strip().split("\n\n")
    ]
    done = [json.loads(data.removeprefix("data: ")) for name, data in events if name == "done"]
    assert events[0][0] == "start" and done, response.text
    start = json.loads(events[0][1].removeprefix("data: "))
    assert start["safety"]["category"] == done[0]["safety"]["category"]
    return 200, {"category": done[0]["safety"]["category"], "text": done[0]["answer"]}


def assert_safety_served(http: httpx.Client) -> None:
    """Every urgent message, on every endpoint: 200, its category, its message first."""
    messages = safety_messages()
    for question, category in URGENT.items():
        for endpoint in ENDPOINTS:
            status, body = post(http, endpoint, question)
            assert status == 200, (endpoint, question, status, body)
            assert body["category"] == category, (endpoint, question, body)
            assert body["text"].startswith(messages[category]), (endpoint, question)


def assert_unavailable(status: int, body: dict) -> None:
    assert status == 503, body
    assert int(body["headers"]["retry-after"]) > 0
    error = body["error"]
    assert set(error) == {"type", "message", "request_id", "fields"}
    assert "999" in error["message"] and "NHS 111" in error["message"]
