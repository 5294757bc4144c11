"""A Chroma server stopped while serving, then started again."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from assistant.config import Settings
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.service import Assistant
from tests.conftest import running, with_changes
from tests.faults.conftest import (
    ENDPOINTS,
    NORMAL,
    ChromaServer,
    assert_safety_served,
    assert_unavailable,
    post,
)

pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_chroma_stopped_and_restarted(
    chroma: ChromaServer,
    chroma_settings: Settings,
    embedder: SentenceTransformerEmbedder,
    tmp_path: Path,
) -> None:
    settings = with_changes(chroma_settings, db_path=tmp_path / "nurture.db")
    assistant = Assistant.from_settings(settings, embedder=embedder)
    with running(create_app(settings, assistant=assistant)) as url:
        with httpx.Client(base_url=url, timeout=60) as http:
            for endpoint in ENDPOINTS:
                assert post(http, endpoint, NORMAL)[0] == 200
            assert http.get("/readyz").json()["status"] == "ready"

            chroma.stop()
            try:
                statuses = []
                for endpoint in ENDPOINTS:
                    status, body = post(http, endpoint, NORMAL)
                    statuses.append(status)
                    assert_unavailable(status, body)
                assert_safety_served(http)
                ready = http.get("/readyz")
                assert ready.status_code == 503 and ready.json()["status"] == "degraded"
                assert any(p.startswith("retrieval:") for p in ready.json()["problems"])
                search = http.get("/v1/search", params={"q": "sleep"})
                assert_unavailable(search.status_code, {"headers": search.headers, **search.json()})
            finally:
                chroma.start()

            deadline = time.monotonic() + 30
            while post(http, "/v1/ask", NORMAL)[0] != 200 and time.monotonic() < deadline:
                time.sleep(0.5)
            for endpoint in ENDPOINTS:
                status, body = post(http, endpoint, NORMAL)
                assert status == 200 and body["category"] == "none", body
            assert http.get("/readyz").json()["status"] == "ready"
            assert_safety_served(http)


def test_chroma_down_at_start_up(
    chroma: ChromaServer,
    chroma_settings: Settings,
    embedder: SentenceTransformerEmbedder,
    tmp_path: Path,
) -> None:
    """The service starts while Chroma is down: triage serves, questions get 503, and once
    Chroma is back questions are answered without a restart."""
    settings = with_changes(chroma_settings, db_path=tmp_path / "nurture.db")
    chroma.stop()
    try:
        assistant = Assistant.from_settings(settings, embedder=embedder)
        with running(create_app(settings, assistant=assistant)) as url:
            with httpx.Client(base_url=url, timeout=60) as http:
                assert_safety_served(http)
                for endpoint in ENDPOINTS:
                    assert_unavailable(*post(http, endpoint, NORMAL))
                chroma.start()
                deadline = time.monotonic() + 30
                while post(http, "/v1/ask", NORMAL)[0] != 200 and time.monotonic() < deadline:
                    time.sleep(0.5)
                for endpoint in ENDPOINTS:
                    assert post(http, endpoint, NORMAL)[0] == 200
                assert http.get("/readyz").json()["status"] == "ready"
    finally:
        if chroma.process is None:
            chroma.start()


def test_chroma_down_and_database_unusable_together(
    chroma: ChromaServer,
    chroma_settings: Settings,
    embedder: SentenceTransformerEmbedder,
    tmp_path: Path,
) -> None:
    """Both at once: triage still answers every urgent message; nothing replies 500."""
    path = tmp_path / "nurture.db"
    path.write_bytes(b"\x00garbage" * 1000)
    settings = with_changes(chroma_settings, db_path=path)
    assistant = Assistant.from_settings(settings, embedder=embedder)
    with running(create_app(settings, assistant=assistant)) as url:
        with httpx.Client(base_url=url, timeout=60) as http:
            chroma.stop()
            try:
                assert_safety_served(http)
                for endpoint in ENDPOINTS:
                    assert_unavailable(*post(http, endpoint, NORMAL))
                ready = http.get("/readyz")
                assert ready.status_code == 503
                kinds = sorted(problem.split(":")[0] for problem in ready.json()["problems"])
                assert kinds == ["retrieval", "storage"]
            finally:
                chroma.start()
