"""Conversations as the ask and chat routes see them: checking a question, the history a
follow-up is answered with, and recording each answer (stored redacted, counted in metrics)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from api.errors import InvalidRequestError, NotFoundError
from api.metrics import Metrics
from api.storage import Storage
from assistant import Answer, Message, Settings


class RecentQuestions:
    """Recent questions per conversation, in memory only, for follow-ups when questions are not
    stored (`NURTURE_STORE_QUESTIONS=false`). Never written to disk or logs."""

    def __init__(self, turns: int = 4, max_conversations: int = 5_000, ttl: float = 1800) -> None:
        self.turns = turns
        self.max_conversations = max_conversations
        self.ttl = ttl
        self._items: OrderedDict[str, tuple[float, deque[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, conversation_id: str, question: str) -> None:
        with self._lock:
            _, questions = self._items.pop(conversation_id, (0.0, deque(maxlen=self.turns)))
            questions.append(question)
            self._items[conversation_id] = (time.monotonic(), questions)
            while len(self._items) > self.max_conversations:
                self._items.popitem(last=False)

    def history(self, conversation_id: str) -> list[Message]:
        with self._lock:
            stamp, questions = self._items.get(conversation_id, (0.0, deque()))
            if time.monotonic() - stamp > self.ttl:
                return []
            return [Message(role="user", content=q) for q in questions]


class Conversations:
    def __init__(self, storage: Storage, metrics: Metrics, settings: Settings) -> None:
        self.storage = storage
        self.metrics = metrics
        self.settings = settings
        self.recent = RecentQuestions()

    def check(self, question: str, field: str) -> None:
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise InvalidRequestError(
                f"{field}: the question is {len(question)} characters; the limit is {limit}",
                fields=[field],
            )
        if not question.strip():
            raise InvalidRequestError(f"{field}: the question is empty", fields=[field])

    def history(
        self, conversation_id: str | None, *, urgent: Callable[[], bool] = lambda: False
    ) -> list[Message]:
        """Earlier turns. An unknown id is a 404, except for an urgent message (its safety
        advice must go out) or when storage cannot tell (the question is answered alone).
        `urgent` is asked only for an unknown id: triaging costs a pass over the message,
        which the answer makes anyway."""
        if conversation_id is None:
            return []
        known = self.storage.conversation_exists(conversation_id)
        if known is None or (not known and urgent()):
            return self.recent.history(conversation_id)
        if not known:
            raise NotFoundError(
                f"conversation_id {conversation_id!r} is not known; "
                "leave it out to start a new one",
                fields=["conversation_id"],
            )
        if self.settings.store_questions:
            return self.storage.history(conversation_id, self.settings.max_history_messages)
        return self.recent.history(conversation_id)

    def start(self) -> str:
        return self.storage.new_conversation()

    def record(
        self,
        conversation_id: str | None,
        question: str,
        answer: Answer,
        answer_id: str | None = None,
    ) -> tuple[str, str]:
        """Store the answer (redacted) and count it; returns (answer_id, conversation_id)."""
        answer_id, conversation_id = self.storage.save_answer(
            conversation_id, question, answer, answer_id
        )
        if not self.storage.store_questions:
            self.recent.add(conversation_id, question)
        self.metrics.observe_answer(answer)
        return answer_id, conversation_id
