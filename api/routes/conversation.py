"""Shared by the ask routes: the history a follow-up question is answered with, and storing."""

from __future__ import annotations

from api.deps import RecentQuestions
from api.errors import ApiError
from api.storage import Storage
from assistant.config import Settings
from assistant.models import Answer, Message


def history_for(
    conversation_id: str | None, storage: Storage, recent: RecentQuestions, settings: Settings
) -> list[Message]:
    if conversation_id is None:
        return []
    if not storage.conversation_exists(conversation_id):
        raise ApiError(
            404,
            "not_found",
            f"conversation_id {conversation_id!r} is not known; leave it out to start a new one",
            fields=["conversation_id"],
        )
    if settings.store_questions:
        return storage.history(conversation_id, settings.max_history_messages)
    return recent.history(conversation_id)


def remember(
    storage: Storage,
    recent: RecentQuestions,
    conversation_id: str | None,
    question: str,
    answer: Answer,
    answer_id: str | None = None,
) -> tuple[str, str]:
    answer_id, conversation_id = storage.save_answer(conversation_id, question, answer, answer_id)
    if not storage.store_questions:
        recent.add(conversation_id, question)
    return answer_id, conversation_id


def check_question(question: str, settings: Settings, field: str) -> None:
    if len(question) > settings.max_question_chars:
        raise ApiError(
            422,
            "invalid_request",
            f"{field}: the question is {len(question)} characters; the limit is "
            f"{settings.max_question_chars}",
            fields=[field],
        )
    if not question.strip():
        raise ApiError(422, "invalid_request", f"{field}: the question is empty", fields=[field])
