"""A real SQLite file corrupted, unreadable, full and deleted: answers and safety messages
still go out, nothing replies 500, and the fault is logged (once per kind) and shown by /readyz."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from assistant.config import Settings
from assistant.service import Assistant
from tests.conftest import running, with_changes
from tests.faults.conftest import ENDPOINTS, NORMAL, assert_safety_served, post

STORAGE_LOGGER = "api.storage"


def storage_lines(caplog: pytest.LogCaptureFixture, text: str = "") -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == STORAGE_LOGGER and r.levelno >= logging.WARNING and text in r.getMessage()
    ]


def assert_answers_served(http: httpx.Client) -> None:
    for endpoint in ENDPOINTS:
        status, body = post(http, endpoint, NORMAL)
        assert status == 200, (endpoint, status, body)
        assert body["category"] == "none" and "[1]" in body["text"], body


def feedback_status(http: httpx.Client) -> int:
    answer = http.post("/v1/ask", json={"question": NORMAL}).json()
    reply = http.post(
        "/v1/feedback", json={"answer_id": answer["answer_id"], "rating": "up", "comment": "ok"}
    )
    return reply.status_code


def make_valid_database(path: Path, settings: Settings, assistant: Assistant) -> None:
    with running(create_app(with_changes(settings, db_path=path), assistant=assistant)) as url:
        with httpx.Client(base_url=url, timeout=60) as http:
            for _ in range(5):
                assert http.post("/v1/ask", json={"question": NORMAL}).status_code == 200


def corrupt(path: Path) -> None:
    """Overwrite the header and the first pages with garbage."""
    with path.open("r+b") as handle:
        handle.write(b"\xde\xad\xbe\xef" * 2048)


@pytest.mark.parametrize("fault", ["garbage", "overwritten", "directory"])
def test_unusable_database_at_start_up(
    fixture_settings: Settings,
    fixture_assistant: Assistant,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    path = tmp_path / "nurture.db"
    if fault == "garbage":
        path.write_bytes(b"not a database at all\n" * 500)
    elif fault == "overwritten":
        make_valid_database(path, fixture_settings, fixture_assistant)
        corrupt(path)
    else:  # a directory where the file should be: it cannot be opened, even by root
        path.mkdir()
    before = path.read_bytes() if path.is_file() else None
    settings = with_changes(fixture_settings, db_path=path)
    with caplog.at_level(logging.INFO), running(create_app(settings, fixture_assistant)) as url:
        with httpx.Client(base_url=url, timeout=60) as http:
            assert_safety_served(http)
            assert_answers_served(http)
            ready = http.get("/readyz")
            assert ready.status_code == 200 and ready.json()["status"] == "degraded"
            assert any(p.startswith("storage:") for p in ready.json()["problems"])
            assert feedback_status(http) == 503
    opened = storage_lines(caplog, "cannot be used")
    assert opened and str(path) in opened[0] and "NURTURE_DB_PATH" in opened[0]
    if before is not None:
        assert path.read_bytes() == before  # a damaged file is left for someone to look at
    assert not any(r.exc_info for r in caplog.records if r.name == STORAGE_LOGGER)


def test_database_corrupted_while_serving(
    fixture_settings: Settings, fixture_assistant: Assistant, tmp_path: Path
) -> None:
    path = tmp_path / "nurture.db"
    settings = with_changes(fixture_settings, db_path=path)
    app = create_app(settings, fixture_assistant)
    with running(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        assert_answers_served(http)
        app.state.storage.close()  # drop the page cache so that reads come from the file
        corrupt(path)
        assert_safety_served(http)
        assert_answers_served(http)
        assert feedback_status(http) in (201, 503)
        ready = http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"


def test_database_full(
    fixture_settings: Settings,
    fixture_assistant: Assistant,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "nurture.db"
    app = create_app(with_changes(fixture_settings, db_path=path), fixture_assistant)
    with caplog.at_level(logging.INFO), running(app) as url:
        with httpx.Client(base_url=url, timeout=60) as http:
            assert_answers_served(http)
            storage = app.state.storage
            with storage._lock:
                pages = storage._db.execute("PRAGMA page_count").fetchone()[0]
                storage._db.execute(f"PRAGMA max_page_count = {pages}")
            for _ in range(5):
                assert_answers_served(http)
            assert_safety_served(http)
            ready = http.get("/readyz")
            assert ready.status_code == 200 and ready.json()["status"] == "degraded"
            assert "full" in ready.json()["reason"]
            assert feedback_status(http) == 503

            full = storage_lines(caplog, "full")
            assert len(full) == 1, full  # 40 failed writes, one log line
            assert not any(r.exc_info for r in caplog.records if r.name == STORAGE_LOGGER)

            with storage._lock:
                storage._db.execute("PRAGMA max_page_count = 1073741823")
            assert_answers_served(http)
            assert http.get("/readyz").json()["status"] == "ready"
    stored = sqlite3.connect(path).execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    assert stored >= 6  # before the disk filled, and after it was freed


def test_database_deleted_while_serving(
    fixture_settings: Settings,
    fixture_assistant: Assistant,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "nurture.db"
    settings = with_changes(fixture_settings, db_path=path)
    with caplog.at_level(logging.INFO), running(create_app(settings, fixture_assistant)) as url:
        with httpx.Client(base_url=url, timeout=60) as http:
            first = http.post("/v1/ask", json={"question": NORMAL}).json()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            assert_safety_served(http)
            # A follow-up in a conversation the new file has never seen is still answered.
            follow = http.post(
                "/v1/ask",
                json={"question": "what about at night?", "conversation_id": first["id"]}
                if "id" in first
                else {"question": "what about at night?"},
            )
            assert follow.status_code == 200
            after = http.post("/v1/ask", json={"question": NORMAL}).json()
            assert http.get("/readyz").json()["status"] == "ready"
    assert storage_lines(caplog, "deleted")
    assert path.exists() and os.stat(path).st_mode & 0o777 == 0o600
    database = sqlite3.connect(path)
    ids = {row[0] for row in database.execute("SELECT id FROM answers")}
    assert after["answer_id"] in ids and first["answer_id"] not in ids
    # Every urgent message's answer was written to the new file, not lost with the old one.
    safety = database.execute("SELECT COUNT(*) FROM answers WHERE safety != 'none'").fetchone()
    assert safety[0] == 21


def test_urgent_message_in_an_unknown_conversation_gets_its_safety_message(
    fixture_settings: Settings, fixture_assistant: Assistant, tmp_path: Path
) -> None:
    settings = with_changes(fixture_settings, db_path=tmp_path / "nurture.db")
    with running(create_app(settings, fixture_assistant)) as url:
        with httpx.Client(base_url=url, timeout=60) as http:
            urgent = http.post(
                "/v1/ask",
                json={"question": "my baby has stopped breathing", "conversation_id": "gone"},
            )
            assert urgent.status_code == 200
            assert urgent.json()["safety"]["category"] == "emergency"
            other = http.post("/v1/ask", json={"question": NORMAL, "conversation_id": "lost"})
            assert other.status_code == 404
