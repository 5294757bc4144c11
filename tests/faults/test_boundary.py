"""The retrieval boundary on its own: whatever a retriever raises, an urgent message gets its
safety message and any other question gets IndexNotReadyError (the API's 503)."""

from __future__ import annotations

import sqlite3

import chromadb.errors
import httpx
import pytest

from assistant.config import Settings
from assistant.errors import IndexNotReadyError
from assistant.safety import SafetyTriage
from assistant.service import Assistant

FAILURES = [
    httpx.ConnectError("[Errno 111] Connection refused"),
    httpx.ReadTimeout("timed out"),
    httpx.RemoteProtocolError("Server disconnected without sending a response."),
    chromadb.errors.InternalError("boom"),
    chromadb.errors.NotFoundError("Collection nurture_g1 does not exist."),
    sqlite3.OperationalError("database is locked"),
    KeyError("ids"),
    TypeError("'NoneType' object is not subscriptable"),
    ConnectionResetError(104, "Connection reset by peer"),
]


class Failing:
    """A retriever whose store has gone away."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def search(self, *_: object, **__: object) -> None:
        raise self.error

    def view(self) -> None:
        raise self.error


@pytest.fixture(scope="module")
def triage() -> SafetyTriage:
    return SafetyTriage()


@pytest.mark.parametrize("error", FAILURES, ids=lambda error: type(error).__name__)
def test_any_retrieval_failure(error: Exception, triage: SafetyTriage) -> None:
    assistant = Assistant(Settings(), triage, Failing(error))  # type: ignore[arg-type]
    answer = assistant.ask("the baby isn't breathing and his lips are blue")
    assert answer.safety.category == "emergency"
    assert answer.answer.startswith(triage.messages["emergency"].strip())
    assert answer.abstain_reason == "index_unavailable"
    with pytest.raises(IndexNotReadyError, match="try again shortly"):
        assistant.ask("how do I settle a crying baby?")
    with pytest.raises(IndexNotReadyError):
        assistant.retrieve("sleep")
    with pytest.raises(IndexNotReadyError):
        assistant.documents()
