"""Conversations, answers (with their citations) and feedback, in SQLite.

The schema is created and migrated by the app (`PRAGMA user_version`). Everything a carer typed
is redacted before it is written, and with `store_questions=False` no question text is stored.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from api.redact import redact
from assistant.models import Answer, Message

MIGRATIONS: list[str] = [
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL
    );
    CREATE TABLE answers (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id),
        created_at TEXT NOT NULL,
        question TEXT,
        answer TEXT NOT NULL,
        safety TEXT NOT NULL,
        abstained INTEGER NOT NULL,
        abstain_reason TEXT,
        citations TEXT NOT NULL
    );
    CREATE INDEX answers_conversation ON answers(conversation_id, created_at);
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        answer_id TEXT NOT NULL REFERENCES answers(id),
        rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
        comment TEXT,
        created_at TEXT NOT NULL
    );
    """,
    # One feedback row per answer: a carer's thumb is saved at once, and a comment added later
    # updates the same row.
    """
    DELETE FROM feedback WHERE id NOT IN (SELECT MAX(id) FROM feedback GROUP BY answer_id);
    CREATE UNIQUE INDEX feedback_answer ON feedback(answer_id);
    """,
]


class Storage:
    def __init__(self, path: Path, *, store_questions: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.store_questions = store_questions
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # With WAL, NORMAL loses no committed data on a crash of the process, only on power loss.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                self._db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def conversation_exists(self, conversation_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
        return row is not None

    def history(self, conversation_id: str, limit: int) -> list[Message]:
        """Earlier turns of a conversation (redacted, as stored), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT question, answer FROM answers WHERE conversation_id = ? "
                "ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (conversation_id, limit),
            ).fetchall()
        messages: list[Message] = []
        for question, answer in reversed(rows):
            if question:
                messages.append(Message(role="user", content=question))
            messages.append(Message(role="assistant", content=answer))
        return messages

    def new_conversation(self) -> str:
        conversation_id = uuid.uuid4().hex
        with self._transaction() as db:
            db.execute(
                "INSERT INTO conversations VALUES (?, ?)",
                (conversation_id, datetime.now(UTC).isoformat()),
            )
        return conversation_id

    def save_answer(
        self,
        conversation_id: str | None,
        question: str,
        answer: Answer,
        answer_id: str | None = None,
    ) -> tuple[str, str]:
        """Store an answer; returns (answer_id, conversation_id)."""
        conversation_id = conversation_id or self.new_conversation()
        now = datetime.now(UTC).isoformat()
        answer_id = answer_id or uuid.uuid4().hex
        with self._transaction() as db:
            db.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    answer_id,
                    conversation_id,
                    now,
                    redact(question) if self.store_questions else None,
                    answer.answer,
                    answer.safety.category,
                    int(answer.abstained),
                    answer.abstain_reason,
                    json.dumps([c.model_dump(mode="json") for c in answer.citations]),
                ),
            )
        return answer_id, conversation_id

    def answer_exists(self, answer_id: str) -> bool:
        with self._lock:
            return (
                self._db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone()
                is not None
            )

    def save_feedback(self, answer_id: str, rating: str, comment: str | None) -> int:
        """Record (or update) the feedback on an answer; a missing comment keeps an earlier one."""
        with self._transaction() as db:
            row = db.execute(
                "INSERT INTO feedback (answer_id, rating, comment, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(answer_id) DO UPDATE SET rating = excluded.rating, "
                "comment = COALESCE(excluded.comment, feedback.comment), "
                "created_at = excluded.created_at RETURNING id",
                (
                    answer_id,
                    rating,
                    redact(comment) if comment else None,
                    datetime.now(UTC).isoformat(),
                ),
            ).fetchone()
            return int(row[0])

    def feedback_for(self, answer_id: str) -> list[dict]:
        with self._lock:
            rows = self._db.execute(
                "SELECT rating, comment, created_at FROM feedback WHERE answer_id = ? ORDER BY id",
                (answer_id,),
            ).fetchall()
        return [{"rating": r, "comment": c, "created_at": t} for r, c, t in rows]
