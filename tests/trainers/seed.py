"""A database of carers' questions as the service stores them, for the workspace's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.storage import Storage
from assistant.service import Assistant

# Two topics the fixture corpus does not cover, asked several ways; one answered question.
PASSPORT = [
    "how do i get a passport for my foster child",
    "can we apply for a passport for the baby we foster",
    "passport application for a looked after child",
    "who signs the passport form for a foster child",
]
SWIMMING = [
    "can i take my foster baby swimming",
    "is it ok to take a 6 month old foster baby to swimming lessons",
    "swimming with a foster baby is that allowed",
]
ANSWERED = "can the baby sleep in our bed?"
UNHELPFUL_COMMENT = "did not say what to do at night"


def seed(db_path: Path, assistant: Assistant, now: datetime | None = None) -> Storage:
    """Ask each question for real, store the answers (as the API does, redacted), and leave a
    thumbs-down with a comment on the answered one. Returns the open Storage."""
    now = now or datetime.now(UTC)
    clock = [now - timedelta(days=2)]
    storage = Storage(db_path, clock=lambda: clock[0])
    for question in PASSPORT + SWIMMING + [ANSWERED]:
        answer_id, _ = storage.save_answer(None, question, assistant.ask(question))
        clock[0] += timedelta(minutes=5)
    storage.save_feedback(answer_id, "down", UNHELPFUL_COMMENT)
    return storage
