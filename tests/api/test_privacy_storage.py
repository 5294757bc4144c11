"""Storage on its own: retention with a frozen clock, file mode, no typed text when storing is
off, and rate-limited error logs."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api.storage import LogLimiter, Storage
from assistant.models import Answer, SafetyInfo
from tests.api.conftest import ServerFactory

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class FrozenClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def answer() -> Answer:
    return Answer(answer="text", safety=SafetyInfo(category="none"))


def test_retention_deletes_exactly_the_text_older_than_the_limit(tmp_path: Path) -> None:
    clock = FrozenClock(NOW)
    storage = Storage(tmp_path / "db.sqlite3", retention_days=90, clock=clock)
    ages = {"old": 91, "edge-older": 90.001, "edge-newer": 89.999, "new": 1}
    for name, days in ages.items():
        clock.now = NOW - timedelta(days=days)
        answer_id, _ = storage.save_answer(None, f"question {name}", answer(), answer_id=name)
        assert storage.save_feedback(answer_id, "up", f"comment {name}") is not None
    clock.now = NOW
    assert storage.purge_expired() == (2, 2)
    database = sqlite3.connect(tmp_path / "db.sqlite3")
    questions = dict(database.execute("SELECT id, question FROM answers"))
    comments = dict(database.execute("SELECT answer_id, comment FROM feedback"))
    assert questions == {
        "old": None,
        "edge-older": None,
        "edge-newer": "question edge-newer",
        "new": "question new",
    }
    assert comments == {
        "old": None,
        "edge-older": None,
        "edge-newer": "comment edge-newer",
        "new": "comment new",
    }
    assert storage.purge_expired() == (0, 0)  # counts are kept: the rows stay


def test_retention_runs_at_start_up(make_server: ServerFactory, tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    storage = Storage(path, clock=FrozenClock(datetime.now(UTC) - timedelta(days=100)))
    storage.save_answer(None, "an old question", answer(), answer_id="old")
    storage.save_answer(None, "another old question", answer(), answer_id="older")
    storage.close()
    Storage(path).save_answer(None, "today's question", answer(), answer_id="today")
    make_server(db_path=path, retention_days=30)
    rows = dict(sqlite3.connect(path).execute("SELECT id, question FROM answers"))
    assert rows == {"old": None, "older": None, "today": "today's question"}


def test_database_file_is_private(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "db.sqlite3")
    storage.save_answer(None, "question", answer())
    for name in ("db.sqlite3", "db.sqlite3-wal"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == 0o600, name


def test_existing_database_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    sqlite3.connect(path).close()
    path.chmod(0o644)
    Storage(path)
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_store_questions_off_stores_no_comment(make_server: ServerFactory) -> None:
    site = make_server(store_questions=False)
    with httpx.Client(base_url=site.url, timeout=30) as http:
        answer_id = http.post("/v1/ask", json={"question": "what is pause"}).json()["answer_id"]
        reply = http.post(
            "/v1/feedback",
            json={"answer_id": answer_id, "rating": "down", "comment": "too long (c-8841)"},
        )
    assert reply.status_code == 201
    database = sqlite3.connect(site.db_path)
    assert database.execute("SELECT rating, comment FROM feedback").fetchall() == [("down", None)]
    assert "c-8841" not in "\n".join(database.iterdump())


def test_log_limiter_allows_one_line_per_kind_per_period() -> None:
    now = [0.0]
    limiter = LogLimiter(60, clock=lambda: now[0])
    assert limiter.allow("full") == 0
    assert limiter.allow("full") is None and limiter.allow("full") is None
    assert limiter.allow("locked") == 0  # another kind has its own allowance
    now[0] = 61
    assert limiter.allow("full") == 2  # the held-back count goes with the next line


def test_rate_limited_ask_still_gives_the_999_line(make_server: ServerFactory) -> None:
    site = make_server(rate_limit_per_minute=1)
    with httpx.Client(base_url=site.url, timeout=30) as http:
        http.post("/v1/ask", json={"question": "what is pause"})
        limited = http.post("/v1/ask", json={"question": "my baby has stopped breathing"})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert "999" in limited.json()["error"]["message"]


def test_retention_runs_daily_while_serving(
    make_server: ServerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.app

    monkeypatch.setattr(api.app, "PURGE_EVERY_SECONDS", 0.2)
    path = tmp_path / "db.sqlite3"
    site = make_server(db_path=path, retention_days=30)
    with httpx.Client(base_url=site.url, timeout=30) as http:
        http.post("/v1/ask", json={"question": "what is pause"})
    database = sqlite3.connect(path, isolation_level=None)
    old = (datetime.now(UTC) - timedelta(days=31)).isoformat()
    database.execute("UPDATE answers SET created_at = ?", (old,))
    deadline = time.monotonic() + 10
    while database.execute("SELECT question FROM answers").fetchone()[0] is not None:
        assert time.monotonic() < deadline, "the daily purge did not run"
        time.sleep(0.1)
    assert database.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 1


def test_unusable_file_is_reported_once_per_period(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "db.sqlite3"
    path.write_bytes(b"not a database" * 100)
    with caplog.at_level(logging.WARNING, logger="api.storage"):
        storage = Storage(path, retry_every=0)
        for _ in range(20):
            storage.save_answer(None, "question", answer())
    opened = [r for r in caplog.records if "cannot be used" in r.getMessage()]
    assert len(opened) == 1 and str(path) in opened[0].getMessage()
    assert storage.check_writable() is not None
