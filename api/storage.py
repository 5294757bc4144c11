"""Conversations, answers (with their citations) and feedback, in SQLite. Best-effort.

The schema is created and migrated by the app (`PRAGMA user_version`). Everything a carer typed
is redacted before it is written; with `store_questions=False` no question or comment text is
stored; question and comment text older than `retention_days` is deleted (the rows, and so the
counts, are kept).

Storage never stands between a carer and an answer: a database that cannot be opened (corrupt,
unreadable, a directory), fills up or is deleted while serving is logged (once per kind of error
per `log_every` seconds, without tracebacks) and reported by `problem` (which `/readyz` shows),
and the answer goes out anyway. Before each use the file's identity (device and inode) is
checked: a database deleted or replaced while serving is noticed, reopened (a new file is created
and migrated) and logged, so later writes land in the file that is there, not in an unlinked one.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from api.redact import redact
from assistant.models import Answer, Message

logger = logging.getLogger(__name__)
T = TypeVar("T")
Clock = Callable[[], datetime]

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
    # The trainers' workspace: embeddings of stored (redacted) question text, by the text's
    # hash, so questions are embedded once, not after every restart. `asked_at` is the latest
    # question with that text; retention deletes the vector with the text.
    """
    CREATE TABLE question_vectors (
        text_hash TEXT NOT NULL,
        model TEXT NOT NULL,
        vector BLOB NOT NULL,
        asked_at TEXT NOT NULL,
        PRIMARY KEY (text_hash, model)
    );
    CREATE INDEX question_vectors_asked ON question_vectors(asked_at);
    """,
]
PROBE_BYTES = 16 * 1024
_SETTING = "NURTURE_DB_PATH (default NURTURE_DATA_DIR/nurture.db)"


def utc_now() -> datetime:
    return datetime.now(UTC)


class LogLimiter:
    """At most one log line per `every` seconds per kind of error; the rest are counted and the
    count is given with the next line of that kind."""

    def __init__(self, every: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def allow(self, kind: str) -> int | None:
        """None to stay quiet, else the number of lines of this kind held back since the last."""
        now = self.clock()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.every:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return None
            self._last[kind] = now
            return self._suppressed.pop(kind, 0)


class StorageUnavailableError(Exception):
    """The database cannot be used now (the reason is in `Storage.problem`)."""


def error_kind(error: BaseException) -> str:
    return f"{type(error).__name__}:{getattr(error, 'sqlite_errorname', '') or error}"


class Storage:
    def __init__(
        self,
        path: Path,
        *,
        store_questions: bool = True,
        retention_days: int = 90,
        clock: Clock = utc_now,
        log_every: float = 60.0,
        retry_every: float = 10.0,
    ) -> None:
        self.path = path
        self.store_questions = store_questions
        self.retention_days = retention_days
        self.clock = clock
        self.retry_every = retry_every
        self.problem: str | None = None  # what is wrong now; None when writes succeed
        self._log = LogLimiter(log_every)
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None
        self._last_attempt = -float("inf")
        with self._lock:
            self._open()

    # -- opening, and noticing a file that went away ---------------------------------

    def _open(self) -> None:
        """Open (creating with mode 0600) and migrate; on failure leave storage off and say
        which file and which setting."""
        self._last_attempt = time.monotonic()
        self._close()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))
            except FileExistsError:
                self._make_private()
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                # With WAL, NORMAL loses no committed data on a crash, only on power loss.
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA foreign_keys=ON")
                check = db.execute("PRAGMA quick_check(1)").fetchone()[0]
                if check != "ok":
                    raise sqlite3.DatabaseError(f"integrity check failed: {check}")
                version = db.execute("PRAGMA user_version").fetchone()[0]
                for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                    db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
                stat = os.stat(self.path)
            except BaseException:
                db.close()
                raise
        except (sqlite3.Error, OSError) as error:
            self.problem = f"database {self.path} cannot be used: {error}"
            # Tried again every `retry_every` seconds: reported once per `log_every`.
            if self._log.allow(f"open:{error_kind(error)}") is not None:
                logger.error(
                    "database %s cannot be used (%s): serving without storage. Fix or move the "
                    "file aside, or set %s to a writable file",
                    self.path,
                    error,
                    _SETTING,
                )
            return
        self._db = db
        self._identity = (stat.st_dev, stat.st_ino)
        self.problem = None

    def _make_private(self) -> None:
        """Mode 0600 for an existing database file, when it is ours to change."""
        try:
            if self.path.is_file() and self.path.stat().st_mode & 0o077:
                os.chmod(self.path, 0o600)
        except OSError as error:
            logger.warning(
                "database %s is readable by other users and its mode cannot be changed (%s)",
                self.path,
                error,
            )

    def _close(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
        self._db = None
        self._identity = None

    def _connection(self) -> sqlite3.Connection:
        """The open connection to the file that is at `path` now (called holding the lock)."""
        if self._db is not None:
            try:
                stat = os.stat(self.path)
                moved = (stat.st_dev, stat.st_ino) != self._identity
            except FileNotFoundError:
                moved = True
            if moved:
                logger.error(
                    "database %s was deleted or replaced while serving; opening the file at "
                    "that path (records written before are not in it)",
                    self.path,
                )
                self._open()
        elif time.monotonic() - self._last_attempt >= self.retry_every:
            self._open()
        if self._db is None:
            raise StorageUnavailableError(self.problem or "storage is not open")
        return self._db

    def _run(
        self,
        action: str,
        work: Callable[[sqlite3.Connection], T],
        default: T,
        *,
        write: bool = True,
    ) -> T:
        """Do `work` in one transaction; on any storage error log it (rate-limited) and return
        `default`. `problem` is set by any failure and cleared only by a successful write."""
        with self._lock:
            try:
                db = self._connection()
                db.execute("BEGIN")
                try:
                    result = work(db)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except (sqlite3.Error, OSError, StorageUnavailableError) as error:
                if isinstance(error, StorageUnavailableError):
                    return default  # opening it failed, and said so
                self.problem = f"database {self.path}: {error}"
                held = self._log.allow(error_kind(error))
                if held is not None:
                    logger.warning(
                        "could not %s in %s (%s: %s)%s",
                        action,
                        self.path,
                        type(error).__name__,
                        error,
                        f"; {held} more like this since the last report" if held else "",
                    )
                return default
            if write:
                self.problem = None
            return result

    @property
    def available(self) -> bool:
        return self.problem is None

    def check_writable(self) -> str | None:
        """None when a write would succeed now, else what is wrong (for `/readyz`). Writes a
        row and rolls it back, so a full disk or a read-only file shows up here."""

        def probe(db: sqlite3.Connection) -> bool:
            # Large enough to need new pages, so that a full database fails here too.
            db.execute(
                "INSERT INTO conversations VALUES (?, randomblob(?))",
                (f"readyz-{uuid.uuid4().hex}", PROBE_BYTES),
            )
            db.execute("ROLLBACK")
            db.execute("BEGIN")  # `_run` commits an empty transaction
            return True

        with self._lock:
            if not self._run("check the database", probe, False, write=False):
                return self.problem or "database unavailable"
            # The probe succeeded, but the last real write failed and none has succeeded since.
            return self.problem

    def close(self) -> None:
        with self._lock:
            self._close()

    # -- conversations and answers ----------------------------------------------------

    def conversation_exists(self, conversation_id: str) -> bool | None:
        """True or False; None when storage cannot tell (then a follow-up is answered alone)."""
        return self._run(
            "look up a conversation",
            lambda db: (
                db.execute(
                    "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
                ).fetchone()
                is not None
            ),
            None,
            write=False,
        )

    def history(self, conversation_id: str, limit: int) -> list[Message]:
        """Earlier turns of a conversation (redacted, as stored), oldest first."""
        rows = self._run(
            "read a conversation",
            lambda db: db.execute(
                "SELECT question, answer FROM answers WHERE conversation_id = ? "
                "ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (conversation_id, limit),
            ).fetchall(),
            [],
            write=False,
        )
        messages: list[Message] = []
        for question, answer in reversed(rows):
            if question:
                messages.append(Message(role="user", content=question))
            messages.append(Message(role="assistant", content=answer))
        return messages

    def new_conversation(self) -> str:
        conversation_id = uuid.uuid4().hex
        now = self.clock().isoformat()
        self._run(
            "start a conversation",
            lambda db: db.execute(
                "INSERT INTO conversations VALUES (?, ?)", (conversation_id, now)
            ),
            None,
        )
        return conversation_id

    def save_answer(
        self,
        conversation_id: str | None,
        question: str,
        answer: Answer,
        answer_id: str | None = None,
    ) -> tuple[str, str]:
        """Store an answer; returns (answer_id, conversation_id) whether or not it was saved."""
        conversation_id = conversation_id or uuid.uuid4().hex
        answer_id = answer_id or uuid.uuid4().hex
        now = self.clock().isoformat()
        row = (
            answer_id,
            conversation_id,
            now,
            redact(question) if self.store_questions else None,
            answer.answer,
            answer.safety.category,
            int(answer.abstained),
            answer.abstain_reason,
            json.dumps([c.model_dump(mode="json") for c in answer.citations]),
        )

        def insert(db: sqlite3.Connection) -> None:
            # The conversation may have been started before the file was replaced.
            db.execute("INSERT OR IGNORE INTO conversations VALUES (?, ?)", (conversation_id, now))
            db.execute("INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)

        self._run("save an answer", insert, None)
        return answer_id, conversation_id

    def answer_exists(self, answer_id: str) -> bool | None:
        """True or False; None when storage cannot tell."""
        return self._run(
            "look up an answer",
            lambda db: (
                db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone()
                is not None
            ),
            None,
            write=False,
        )

    def save_feedback(self, answer_id: str, rating: str, comment: str | None) -> int | None:
        """Record (or update) the feedback on an answer; a missing comment keeps an earlier one.
        Returns the record's id, or None when it could not be saved."""
        stored = redact(comment) if comment and self.store_questions else None
        now = self.clock().isoformat()

        def upsert(db: sqlite3.Connection) -> int:
            row = db.execute(
                "INSERT INTO feedback (answer_id, rating, comment, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(answer_id) DO UPDATE SET rating = excluded.rating, "
                "comment = COALESCE(excluded.comment, feedback.comment), "
                "created_at = excluded.created_at RETURNING id",
                (answer_id, rating, stored, now),
            ).fetchone()
            return int(row[0])

        return self._run("save feedback", upsert, None)

    def purge_expired(self) -> tuple[int, int] | None:
        """Delete question and comment text older than `retention_days`, keeping the rows.
        Returns (questions, comments) cleared, or None when storage is unavailable."""
        cutoff = (self.clock() - timedelta(days=self.retention_days)).isoformat()

        def purge(db: sqlite3.Connection) -> tuple[int, int]:
            questions = db.execute(
                "UPDATE answers SET question = NULL WHERE created_at < ? AND question IS NOT NULL",
                (cutoff,),
            ).rowcount
            comments = db.execute(
                "UPDATE feedback SET comment = NULL WHERE created_at < ? AND comment IS NOT NULL",
                (cutoff,),
            ).rowcount
            db.execute("DELETE FROM question_vectors WHERE asked_at < ?", (cutoff,))
            return questions, comments

        result = self._run("delete expired text", purge, None)
        if result is not None and any(result):
            logger.info(
                "retention: deleted the text of %d questions and %d comments older than %d days",
                result[0],
                result[1],
                self.retention_days,
            )
        return result

    # -- reading back, for the trainers' workspace (never conversation or answer ids) ---------

    def _text_cutoff(self) -> str:
        """Text older than this is past retention even if the daily purge has not run yet."""
        return (self.clock() - timedelta(days=self.retention_days)).isoformat()

    def answers_since(self, since: datetime) -> list[StoredAnswer]:
        """Answers stored since `since`, oldest first; question text only within retention."""
        cutoff = self._text_cutoff()
        rows = self._run(
            "read answers",
            lambda db: db.execute(
                "SELECT created_at, CASE WHEN created_at >= ? THEN question END, safety, "
                "abstained, abstain_reason, citations FROM answers WHERE created_at >= ? "
                "ORDER BY created_at, rowid",
                (cutoff, since.isoformat()),
            ).fetchall(),
            [],
            write=False,
        )
        return [
            StoredAnswer(
                created_at=datetime.fromisoformat(created),
                question=question,
                safety=safety,
                abstained=bool(abstained),
                abstain_reason=reason,
                citations=_citations(citations),
            )
            for created, question, safety, abstained, reason, citations in rows
        ]

    def feedback_since(self, since: datetime, rating: str = "down") -> list[StoredFeedback]:
        """Feedback of one rating since `since`, with the answer's question and citations."""
        cutoff = self._text_cutoff()
        rows = self._run(
            "read feedback",
            lambda db: db.execute(
                "SELECT f.created_at, CASE WHEN f.created_at >= ? THEN f.comment END, "
                "CASE WHEN a.created_at >= ? THEN a.question END, a.citations "
                "FROM feedback f JOIN answers a ON a.id = f.answer_id "
                "WHERE f.rating = ? AND f.created_at >= ? ORDER BY f.created_at, f.id",
                (cutoff, cutoff, rating, since.isoformat()),
            ).fetchall(),
            [],
            write=False,
        )
        return [
            StoredFeedback(
                created_at=datetime.fromisoformat(created),
                comment=comment,
                question=question,
                citations=_citations(citations),
            )
            for created, comment, question, citations in rows
        ]

    def vectors(self, hashes: list[str], model: str) -> dict[str, bytes]:
        """Stored embeddings of question texts (by text hash) that are within retention."""
        cutoff = self._text_cutoff()

        def read(db: sqlite3.Connection) -> dict[str, bytes]:
            found: dict[str, bytes] = {}
            for start in range(0, len(hashes), 500):
                part = hashes[start : start + 500]
                marks = ",".join("?" * len(part))
                found.update(
                    db.execute(
                        f"SELECT text_hash, vector FROM question_vectors WHERE model = ? "
                        f"AND asked_at >= ? AND text_hash IN ({marks})",
                        (model, cutoff, *part),
                    ).fetchall()
                )
            return found

        return self._run("read question vectors", read, {}, write=False)

    def save_vectors(self, model: str, rows: list[tuple[str, bytes, datetime]]) -> None:
        """Keep embeddings of question texts: (text hash, vector bytes, latest asked)."""

        def write(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT INTO question_vectors VALUES (?, ?, ?, ?) ON CONFLICT(text_hash, model) "
                "DO UPDATE SET asked_at = MAX(asked_at, excluded.asked_at)",
                [(h, model, vector, asked.isoformat()) for h, vector, asked in rows],
            )

        self._run("save question vectors", write, None)


@dataclass(frozen=True)
class StoredAnswer:
    created_at: datetime
    question: str | None  # redacted as stored; None when not stored or past retention
    safety: str
    abstained: bool
    abstain_reason: str | None
    citations: list[dict]


@dataclass(frozen=True)
class StoredFeedback:
    created_at: datetime
    comment: str | None
    question: str | None
    citations: list[dict]


def _citations(text: str) -> list[dict]:
    try:
        value = json.loads(text or "[]")
    except json.JSONDecodeError:
        return []
    return [c for c in value if isinstance(c, dict)] if isinstance(value, list) else []
